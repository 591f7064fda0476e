"""The whole computation for one (x, y), stage by stage, and the ideal clock the logits approach.

Stages of the per-pair walk (`walk`), all from one checkpoint's grid activations:
- embedding: where x and y sit on each frequency's circle (projection of W_E on its cos / sin
  directions, grok.replay.circle_coords);
- attention: each head's attention from "=" to x, y and "=" for this pair;
- neurons: for each frequency cluster, the value at (x, y) of its 2-D Fourier terms
  (cos(wx)cos(wy), sin(wx)sin(wy), cos(wx)sin(wy), sin(wx)cos(wy), and the single waves)
  and the share of the cluster's (centred) activation energy each term carries;
- W_L: what the cluster writes to the logits at (x, y), sum_n post_n W_L[n, c] over c, read
  along cos(w c) and sin(w c): A cos(wc) + B sin(wc) = R cos(w c - theta); a clock has
  theta = w (x + y) (mod 2 pi), so the cluster votes for c = x + y;
- logits: the model's logits against sum_k cos(w_k(x + y - c)) and the ideal clock.

Ideal clock (`clock_fit`): sum_k a_k cos(w_k (x + y - c)) with a_k fitted by least squares to
the centred grid logits [p*p, p] (the K cube directions are orthonormal, so a_k is a
projection: a_k = <L_c, cos(w_k(x+y-c))> / (p^3 / 2)). Reported: the fraction of the centred
logits' variance the fit explains (= measures.logit_var_explained), the cosine similarity of
the centred logits with the fit over the whole grid (its square root, for a least-squares
fit), and per pair the cosine similarity and R^2 of the pair's centred logit vector over c
with the fit's (the grid mean of the per-pair cosine is reported too).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import fourier, measures
from .model import Transformer


@dataclass
class ClockFit:
    ks: list[int]
    a: list[float]  # fitted amplitude a_k per k
    var_explained: float  # over the grid
    cosine: float  # centred grid logits vs the fit
    pair_cosine: torch.Tensor  # [p*p] per pair, centred over c
    pair_r2: torch.Tensor  # [p*p]

    def to_dict(self) -> dict:
        return {"freqs": self.ks, "a": self.a, "var_explained": self.var_explained, "cosine": self.cosine,
                "mean_pair_cosine": self.pair_cosine.mean().item(), "median_pair_r2": self.pair_r2.median().item()}


def ideal_logits(p: int, ks, a) -> torch.Tensor:
    """[p*p, p] sum_k a_k cos(w_k (x + y - c)) over the grid (float64)."""
    x = torch.arange(p, dtype=torch.float64)
    s = (x[:, None] + x[None, :]).reshape(-1)  # [p*p] x + y
    out = torch.zeros(p * p, p, dtype=torch.float64)
    for k, ak in zip(ks, a):
        w = 2 * math.pi * int(k) / p
        out += ak * torch.cos(w * (s[:, None] - x[None, :]))
    return out


def _sum_rows(p: int, ks, a) -> torch.Tensor:
    """[p, p] row s = sum_k a_k cos(w_k (s - c)) over c: the ideal clock depends on x + y only."""
    x = torch.arange(p, dtype=torch.float64)
    out = torch.zeros(p, p, dtype=torch.float64)
    for k, ak in zip(ks, a):
        out += ak * torch.cos(2 * math.pi * int(k) / p * (x[:, None] - x[None, :]))
    return out


@torch.no_grad()
def clock_fit(logits: torch.Tensor, ks) -> ClockFit:
    """Fit the ideal clock to grid logits [p*p, p] at frequencies ks (see the module docstring)."""
    p = logits.shape[1]
    ks = [int(k) for k in ks]
    L = logits.double().cpu()
    Lc = L - L.mean(0, keepdim=True)  # the per-class mean over the grid is no clock term
    i = torch.arange(p * p)
    s = (i // p + i % p) % p  # [p*p] x + y mod p
    # <Lc, cos(w(s - c))> summed over pairs: first sum the pairs of each s, then a [p, p] product
    Ls = torch.zeros(p, p, dtype=torch.float64).index_add_(0, s, Lc)  # [p (s), p (c)]
    a = []
    for k in ks:
        u = _sum_rows(p, [k], [1.0])  # [p, p]
        a.append(((Ls * u).sum() / (p * (u * u).sum())).item())  # each s occurs p times
    rows = _sum_rows(p, ks, a)  # [p, p]
    tot = (Lc**2).sum()
    fit_norm2 = p * (rows**2).sum()
    ve = ((2 * (Ls * rows).sum() - fit_norm2) / tot).item() if tot > 0 else 0.0  # 1 - |Lc - fit|^2 / |Lc|^2
    cos = ((Ls * rows).sum() / (tot.sqrt() * fit_norm2.sqrt()).clamp_min(1e-300)).item()
    Lf = logits.float().cpu()  # per pair, float32 is plenty (cosines to ~1e-6)
    Pc = Lf - Lf.mean(1, keepdim=True)  # each pair's logits centred over c
    Fc = (rows - rows.mean(1, keepdim=True)).float()[s]  # [p*p, p]
    pc = (Pc * Fc).sum(1) / (Pc.norm(dim=1) * Fc.norm(dim=1)).clamp_min(1e-300)
    pr2 = 1 - ((Pc - Fc) ** 2).sum(1) / (Pc**2).sum(1).clamp_min(1e-300)
    return ClockFit(ks, a, ve, cos, pc.float(), pr2.float())


# ---------------------------------------------------------------- the per-pair walk
TERMS = ("cos x cos y", "sin x sin y", "cos x sin y", "sin x cos y", "cos x", "sin x", "cos y", "sin y")


def _term_index(k: int) -> list[tuple[int, int]]:
    c, s = 2 * k - 1, 2 * k
    return [(c, c), (s, s), (c, s), (s, c), (c, 0), (s, 0), (0, c), (0, s)]


@torch.no_grad()
def cluster_terms(post: torch.Tensor, p: int, members: list[int], k: int, x: int, y: int) -> list[dict]:
    """For the neurons `members` (one frequency cluster): each 2-D Fourier term of frequency k,
    its value at (x, y) (unnormalised: e.g. cos(wx)cos(wy)) and the share of the cluster's
    centred activation energy along it (summed over the cluster's neurons)."""
    w = 2 * math.pi * k / p
    vals = {"cos x": math.cos(w * x), "sin x": math.sin(w * x), "cos y": math.cos(w * y), "sin y": math.sin(w * y)}
    A = post[:, members].double().reshape(p, p, -1)
    A = A - A.mean((0, 1), keepdim=True)
    tot = (A**2).sum().clamp_min(1e-300)
    S = fourier.transform_2d(A) ** 2  # [p, p, n]
    rows = []
    for name, (i, j) in zip(TERMS, _term_index(k)):
        parts = name.split()
        v = vals[f"{parts[0]} {parts[1]}"] * (vals[f"{parts[2]} {parts[3]}"] if len(parts) == 4 else 1.0)
        rows.append({"term": name, "value at (x, y)": v, "share of energy": (S[i, j].sum() / tot).item()})
    return rows


@torch.no_grad()
def cluster_output(post: torch.Tensor, W_L: torch.Tensor, members: list[int], k: int, x: int, y: int) -> dict:
    """What a cluster writes to the logits at (x, y): o(c) = sum_n post_n W_L[n, c], its
    coefficients A, B along cos(w c), sin(w c), R and theta of A cos(wc) + B sin(wc) =
    R cos(wc - theta), the share of o's centred energy they hold, and w (x + y) mod 2 pi."""
    p = W_L.shape[1]
    i = x * p + y
    o = (post[i, members].double() @ W_L[members].double())  # [p]
    w = 2 * math.pi * k / p
    c = torch.arange(p, dtype=torch.float64)
    cw, sw = torch.cos(w * c), torch.sin(w * c)
    A, B = (2 / p * (o * cw).sum()).item(), (2 / p * (o * sw).sum()).item()
    oc = o - o.mean()
    share = ((A**2 + B**2) * p / 2 / (oc**2).sum().clamp_min(1e-300)).item()
    return {"k": k, "A": A, "B": B, "R": math.hypot(A, B), "theta": math.atan2(B, A) % (2 * math.pi),
            "w(x+y)": (w * (x + y)) % (2 * math.pi), "share": share, "output": o.float()}


@torch.no_grad()
def pair_logits(logits: torch.Tensor, fit: ClockFit, x: int, y: int) -> dict:
    """The model's logits for (x, y) over c, sum_k cos(w_k(x+y-c)) and the fitted clock's."""
    p = logits.shape[1]
    i = x * p + y
    sx = (x + y) % p
    plain = _sum_rows(p, fit.ks, [1.0] * len(fit.ks))[sx]
    ideal = _sum_rows(p, fit.ks, fit.a)[sx]
    return {"model": logits[i].double(), "sum_cos": plain, "ideal": ideal,
            "cosine": fit.pair_cosine[i].item(), "r2": fit.pair_r2[i].item()}


# ---------------------------------------------------------------- everything per checkpoint
@torch.no_grad()
def measures_of(model: Transformer, ds, acts: measures.GridActivations | None = None, ks=None,
                probe_dims=(1, 2, 4, 8)) -> dict:
    """The new full-grid measures of one checkpoint, JSON-able: leak-free accuracy, probes at
    every site and budget, IPR summary and pruning curve, clock/pizza metrics and verdict,
    ideal-clock fit, attention summary. `ks` defaults to the checkpoint's key frequencies."""
    from . import attention, ipr, leakfree, pizza, probes, verdict

    acts = measures.grid_activations(model) if acts is None else acts
    p = model.cfg.p
    ks = measures.key_frequencies(acts.logits) if ks is None else [int(k) for k in ks]
    ks = sorted(ks)
    v = verdict.verdict(measures.logit_var_explained(acts.logits, ks), ks)
    iprs = ipr.neuron_ipr(model, acts.pattern)
    curve = ipr.pruning_curve(acts, measures.W_L(model), ds, iprs)
    gs = pizza.gradient_symmetricity(model)
    dd = pizza.distance_irrelevance(acts.logits)
    pv = pizza.verdict(gs, dd, v.state != "none")
    fit = clock_fit(acts.logits, ks)
    pat = acts.pattern.reshape(p, p, model.cfg.n_heads, 3)
    return {
        "freqs": ks,
        "clock_state": v.state,
        **leakfree.novel_accuracy(acts.logits, ds),
        "probes_by_dims": probes.probe_table(model, ks, probe_dims, acts),
        "ipr": ipr.summary(iprs),
        "pruning_curve": curve.to_dict(),
        "clock_or_pizza": {"gradient_symmetricity": gs, "distance_irrelevance": dd, "verdict": pv.state, "text": pv.text},
        "clock_fit": fit.to_dict(),
        "attention": {
            "mean_to_x": pat[..., 0].mean((0, 1)).tolist(), "mean_to_y": pat[..., 1].mean((0, 1)).tolist(),
            "periodic_share_x": [attention.pattern_freq_share(pat[:, :, h, 0], ks) for h in range(model.cfg.n_heads)],
        },
    }
