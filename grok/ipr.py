"""Periodic and memorising neurons (Doshi et al. 2023, `d-doshi/Grokking`): the inverse
participation ratio of a neuron's Fourier spectrum, and pruning the least periodic neurons.

IPR_r of a spectrum |F| = sum_j (|F_j| / ||F||_2)^(2r), r = 2 as in the paper: 1 when all the
energy sits in one frequency bin, 1/n when it is spread evenly over n bins.

Which spectrum (the paper's, carried over to our transformer): d-doshi/Grokking computes, for
each hidden neuron k of its 2-layer MLP on one-hot (x, y), `calculate_ipr(|np.fft.rfft(U[k])|, 2)`
for its input weights from x (U[k], [p]), from y (V[k]) and for its output weights over c
(W[:, k]), and histograms their mean 1/3 (IPR_U + IPR_V + IPR_W). Here a neuron has no
one-hot input weights, so we take what each number writes into its pre-activation through the
heads, each head weighted by its mean attention over the grid:
    U_n(x) = sum_h mean(attn_h to x) * (W_E[x] @ W_V[h] @ W_O[h] @ W_in)[n]      [p]
    V_n(y) = the same with the attention to y,
    W_n(c) = W_L[n, c] = (W_out @ W_U)[n, c]                                       [p]
and IPR_n = (IPR(|rfft U_n|) + IPR(|rfft V_n|) + IPR(|rfft W_n|)) / 3, with rfft over Z_p
(p // 2 + 1 bins, the constant bin included, as in the paper). An all-zero vector has IPR 0.

Pruning (the paper: pruning in ascending IPR order removes memorising neurons first): remove
the n least periodic neurons by zeroing their post-ReLU activation, logits minus
post[:, S] @ W_L[S], on the whole grid; the curve is computed at every `step` neurons so a
slider can show it without recomputing.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import measures
from .data import Dataset
from .model import Transformer

R = 2


def ipr(spectrum: torch.Tensor, r: int = R) -> torch.Tensor:
    """[..., n] magnitudes -> [...] sum_j (|F_j| / ||F||_2)^(2r); 0 where the norm is 0."""
    a = spectrum.double().abs()
    nrm = a.norm(dim=-1, keepdim=True)
    out = ((a / nrm.clamp_min(1e-300)) ** (2 * r)).sum(-1)
    return torch.where(nrm.squeeze(-1) > 0, out, torch.zeros_like(out))


def rfft_ipr(v: torch.Tensor, r: int = R) -> torch.Tensor:
    """[..., p] real vectors over Z_p -> [...] IPR of |rfft| (the paper's calculate_ipr)."""
    return ipr(torch.fft.rfft(v.double(), dim=-1).abs(), r)


@torch.no_grad()
def neuron_weights(model: Transformer, pattern: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(U [N, p], V [N, p], W [N, p]): each neuron's input from x and from y through the
    heads (weighted by the heads' mean attention to x, resp. y) and its output over c."""
    p = model.cfg.p
    if pattern is None:
        pattern = measures.grid_activations(model).pattern  # [p*p, H, 3]
    mean_att = pattern.reshape(-1, model.cfg.n_heads, 3).double().mean(0)  # [H, 3]
    a, m = model.attn, model.mlp
    W_OV = torch.einsum("hde,hef->hdf", a.W_V, a.W_O).double()  # [H, d, d]
    tok = torch.einsum("pd,hdf->hpf", model.embed.W_E[:p].double(), W_OV) @ m.W_in.double()  # [H, p, N]
    U = torch.einsum("h,hpn->np", mean_att[:, 0], tok)
    V = torch.einsum("h,hpn->np", mean_att[:, 1], tok)
    W = measures.W_L(model).double()  # [N, p]
    return U, V, W


@torch.no_grad()
def neuron_ipr(model: Transformer, pattern: torch.Tensor | None = None, r: int = R) -> torch.Tensor:
    """[N] each neuron's IPR, the mean of its U, V and W spectra's (see the module docstring)."""
    U, V, W = neuron_weights(model, pattern)
    return ((rfft_ipr(U, r) + rfft_ipr(V, r) + rfft_ipr(W, r)) / 3).float()


@dataclass
class PruningCurve:
    n_pruned: list[int]  # neurons removed, ascending IPR order
    train_acc: list[float]
    test_acc: list[float]
    test_acc_novel: list[float]
    order: list[int]  # neuron indices, least periodic first

    def to_dict(self) -> dict:
        return {"n_pruned": self.n_pruned, "train_acc": self.train_acc, "test_acc": self.test_acc,
                "test_acc_novel": self.test_acc_novel}


@torch.no_grad()
def pruning_curve(acts: measures.GridActivations, W_L: torch.Tensor, ds: Dataset, iprs: torch.Tensor,
                  n_points: int = 16) -> PruningCurve:
    """Accuracy after removing the n least periodic neurons, n = 0, s, 2s, ..., N with
    s = max(1, N // n_points), incrementally (one [p*p, s] @ [s, p] update per point)."""
    from .leakfree import novel_mask

    N = iprs.numel()
    order = sorted(range(N), key=lambda n: (iprs[n].item(), n))
    step = max(1, N // n_points)
    points = list(range(0, N, step)) + [N]
    o = torch.tensor(order, device=acts.post.device, dtype=torch.long)
    post = acts.post[:, o].float()  # [p*p, N] columns in pruning order (one gather)
    WL = W_L[o].float()  # [N, p]
    logits = acts.logits.float().clone()  # [p*p, p]
    weights = [ds.train_mask.float(), (~ds.train_mask).float(), novel_mask(ds).float()]
    sizes = [w.sum().item() for w in weights]
    rows = []
    done = 0
    for n in points:
        if n > done:
            logits -= post[:, done:n] @ WL[done:n]
            done = n
        c = (logits.argmax(-1) == ds.labels).float()
        rows.append([(c @ w).item() / s if s else float("nan") for w, s in zip(weights, sizes)])
    return PruningCurve(points, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], order)


def summary(iprs: torch.Tensor, bins: int = 20) -> dict:
    """JSON-able summary: mean, median, quartiles, share above 0.5, and a 20-bin histogram
    over [0, 1] (counts; bin i covers [i/bins, (i+1)/bins), the last includes 1)."""
    v = iprs.double()
    q = torch.quantile(v, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)).tolist()
    h = torch.histc(v.clamp(0, 1), bins=bins, min=0, max=1).long().tolist()
    return {"mean": v.mean().item(), "q25": q[0], "median": q[1], "q75": q[2],
            "frac_above_0.5": (v > 0.5).double().mean().item(), "hist_bins": bins, "hist": h}
