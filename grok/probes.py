"""Sparse linear probes: can cos(w_k x) and sin(w_k x) be read linearly from a few directions
of the model's activations? A grokked model writes them into its embedding (the clock's circle)
and its neurons compute with them; a random or memorising model has them nowhere in few dims.

Two places:
- "resid": the residual stream at the x position, blocks.0.hook_resid_pre[:, 0] over
  x = 0..p-1, which is W_E[:p] + W_pos[0] [p, d]. The residual basis is not privileged, so
  the candidate directions are its principal components (SVD of the centred matrix, components
  with singular value below 1e-6 of the largest dropped); "dims" are component indices, 0 =
  most variance.
- "attn": the attention output at "=", blocks.0.hook_attn_out[:, 2] over the whole grid
  [p*p, d] (grok.attention.attn_out_grid), target cos(w_k x) with x = i // p; candidates are
  its principal components, as for "resid".
- "neurons": the MLP's post-ReLU activations at "=" over the whole grid [p*p, d_mlp], target
  cos(w_k x) with x = i // p (the neuron basis is privileged: "dims" are neuron indices).

`probe_table` probes every site at several budgets (1, 2, 4, 8 directions) from ONE greedy
path per (site, k): greedy selection is nested, so the n-direction choice is the first n of
the 8-direction one. `probe_timeline` runs it over a replay's stored weights.

Method (deterministic): greedy forward selection. Starting from the intercept alone, add the
candidate column that most increases the summed R^2 of the two targets (cos and sin together,
so both share the same n dims), n times; ties go to the lower index. Candidates are
orthogonalised against the selected ones, so each step's gain is exact least squares. The
reported R^2 is then recomputed by torch.linalg.lstsq on [1, selected] (float64):
R^2 = 1 - |residual|^2 / |target - mean|^2.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import measures
from .model import Transformer

RANK_TOL = 1e-6


def column_stats(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean [N], centred squared norm [N]) of the columns of X [m, N] (float64)."""
    X = X.double()
    mean = torch.ones(X.shape[0], dtype=X.dtype, device=X.device) @ X / X.shape[0]
    norm2 = torch.ones(X.shape[0], dtype=X.dtype, device=X.device) @ (X * X) - X.shape[0] * mean**2
    return mean, norm2


def greedy_select(X: torch.Tensor, T: torch.Tensor, n: int, stats=None) -> list[int]:
    """Indices of n columns of X [m, N] chosen greedily to explain the targets T [m, t]
    (with an intercept), by the summed R^2 gain of the targets. `stats` = column_stats(X),
    when the caller probes several targets with the same X.

    Never forms the centred or orthogonalised X: with R the (centred) target residual and Q
    the orthonormal, centred basis of the chosen columns, a candidate's orthogonalised column
    x' = x_c - Q Q^T x_c has x'^T R = x^T R (Q^T R = 0, R centred) and
    |x'|^2 = |x_c|^2 - |Q^T x|^2, so each step is two passes over X."""
    X = X.double()
    mean, norm2 = column_stats(X) if stats is None else stats
    scale = norm2.max().clamp_min(1e-300) if norm2.numel() else torch.tensor(1.0)
    R = T.double() - T.double().mean(0)  # [m, t]
    Q: list[torch.Tensor] = []  # [m] each
    QX = torch.zeros_like(norm2)  # [N] |Q^T x|^2
    chosen: list[int] = []
    for _ in range(min(n, X.shape[1])):
        left = norm2 - QX  # [N] squared norm of each candidate outside the chosen span
        ok = left > 1e-12 * scale
        if chosen:
            ok[chosen] = False
        if not ok.any():
            break
        gain = ((R.T @ X) ** 2).sum(0) / left.clamp_min(1e-300)  # [N] R^2 gain (times |R|^2 const)
        gain[~ok] = -1.0
        j = int(torch.argmax(gain))  # first maximum: ties go to the lower index
        chosen.append(j)
        v = X[:, j] - mean[j]
        for q in Q:
            v = v - q * (q @ v)
        q = v / v.norm()
        Q.append(q)
        QX = QX + (q @ X) ** 2
        R = R - q[:, None] * (q @ R)[None, :]
    return chosen


def r2(X: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """[t] R^2 of the least-squares fit of T [m, t] by [1, X] (X [m, n], n may be 0)."""
    T = T.double()
    A = torch.cat([torch.ones(T.shape[0], 1, dtype=torch.float64, device=T.device), X.double()], 1)
    coef = torch.linalg.lstsq(A, T, driver="gelsd").solution
    res = ((T - A @ coef) ** 2).sum(0)
    tot = ((T - T.mean(0)) ** 2).sum(0)
    return torch.where(tot > 0, 1 - res / tot.clamp_min(1e-300), torch.zeros_like(tot))


def _targets(xs: torch.Tensor, k: int, p: int) -> torch.Tensor:
    w = 2 * math.pi * k / p
    return torch.stack([torch.cos(w * xs), torch.sin(w * xs)], 1)  # [m, 2]


def _probe(X: torch.Tensor, xs: torch.Tensor, p: int, ks, n: int) -> dict[int, dict]:
    X = X.double()  # one copy and one pass of column statistics for all k
    stats = column_stats(X)
    out = {}
    for k in ks:
        T = _targets(xs.double(), int(k), p)
        dims = greedy_select(X, T, n, stats)
        c, s = r2(X[:, dims], T).tolist()
        out[int(k)] = {"cos": c, "sin": s, "dims": dims}
    return out


@torch.no_grad()
def resid_pcs(model: Transformer) -> torch.Tensor:
    """[p, r] scores of the residual at the x position on its principal components."""
    p = model.cfg.p
    R = (model.embed.W_E[:p] + model.pos_embed.W_pos[0]).double()  # [p, d] = hook_resid_pre[:, 0]
    U, S, _ = torch.linalg.svd(R - R.mean(0), full_matrices=False)
    keep = S > RANK_TOL * S[0] if S.numel() and S[0] > 0 else torch.zeros_like(S, dtype=torch.bool)
    return U[:, keep] * S[keep]


@torch.no_grad()
def resid_probe(model: Transformer, ks, n: int = 2) -> dict[int, dict]:
    """{k: {"cos": R^2, "sin": R^2, "dims": [principal components]}} at the x position."""
    p = model.cfg.p
    return _probe(resid_pcs(model), torch.arange(p), p, ks, n)


@torch.no_grad()
def neuron_probe(model: Transformer, ks, n: int = 2, acts: measures.GridActivations | None = None) -> dict[int, dict]:
    """{k: {"cos": R^2, "sin": R^2, "dims": [neurons]}}: cos / sin(w_k x) from n neurons at "="."""
    p = model.cfg.p
    post = (acts if acts is not None else measures.grid_activations(model)).post  # [p*p, d_mlp]
    xs = torch.arange(p, device=post.device).repeat_interleave(p)  # x of each grid pair
    return _probe(post, xs, p, ks, n)


@torch.no_grad()
def probes(model: Transformer, ks, n: int = 2, acts: measures.GridActivations | None = None) -> dict[str, dict[int, dict]]:
    """Both probes: {"resid": {k: ...}, "neurons": {k: ...}}."""
    return {"resid": resid_probe(model, ks, n), "neurons": neuron_probe(model, ks, n, acts)}


# ---------------------------------------------------------------- all sites, several budgets
SITES = ("resid", "attn", "neurons")
DIMS = (1, 2, 4, 8)


@dataclass
class SiteGram:
    """What greedy selection needs of a site: its centred Gram G = Xc^T Xc [N, N] (or only
    its diagonal `diag` and a function `columns(js) -> G[:, js]`, so a neuron site never forms
    the whole [512, 512] product), the cross-products B = Xc^T T [N, 2K] with the targets
    cos / sin(w_k x) of every k (columns 2j, 2j+1) and the targets' centred squared norms
    tt [2K]. For the principal-component sites G is diagonal (the PCs' variances)."""

    G: torch.Tensor | None
    B: torch.Tensor
    tt: torch.Tensor
    ks: list
    diag: torch.Tensor | None = None
    columns: object = None  # callable(list[int]) -> [N, len] float64

    def col_fn(self):
        if self.columns is not None:
            return self.columns
        return lambda js: self.G[:, js]

    def diagonal(self) -> torch.Tensor:
        return self.diag if self.diag is not None else torch.diagonal(self.G)


def _x_targets(p: int, ks) -> torch.Tensor:
    """[p, 2K] cos / sin(w_k x) over x = 0..p-1, float64."""
    xs = torch.arange(p, dtype=torch.float64)
    return torch.cat([_targets(xs, int(k), p) for k in ks], 1) if len(ks) else torch.zeros(p, 0, dtype=torch.float64)


def _pc_gram(C: torch.Tensor, XtT: torch.Tensor, tt: torch.Tensor, ks) -> SiteGram:
    """From a centred covariance C = Xc^T Xc [n, n] and Xc^T T [n, 2K]: the site in principal
    components (descending variance; variance below RANK_TOL^2 of the largest dropped)."""
    lam, V = torch.linalg.eigh(C)  # ascending
    lam, V = lam.flip(0), V.flip(1)
    keep = lam > RANK_TOL**2 * lam[0] if lam.numel() and lam[0] > 0 else torch.zeros_like(lam, dtype=torch.bool)
    lam, V = lam[keep], V[:, keep]
    return SiteGram(torch.diag(lam), V.T @ XtT, tt, list(ks))


@torch.no_grad()
def site_grams(model: Transformer, ks, acts: measures.GridActivations | None = None, sites=SITES) -> dict[str, SiteGram]:
    """SiteGram of each site. Grid targets depend on x only, so Xc^T T = (sum over y of Xc)^T T(x):
    one [p, N] marginal, no [p*p, 2K] target matrix."""
    from .attention import attn_out_grid

    p = model.cfg.p
    ks = [int(k) for k in ks]
    Tx = _x_targets(p, ks)  # [p, 2K]
    Txc = Tx - Tx.mean(0)
    out = {}
    if "resid" in sites:
        R = (model.embed.W_E[:p] + model.pos_embed.W_pos[0]).double()  # [p, d] = hook_resid_pre[:, 0]
        Rc = R - R.mean(0)
        out["resid"] = _pc_gram(Rc.T @ Rc, Rc.T @ Tx, (Txc**2).sum(0), ks)
    need_grid = [s for s in ("attn", "neurons") if s in sites]
    if need_grid:
        acts = measures.grid_activations(model) if acts is None else acts
        tt = p * (Txc**2).sum(0)  # each x appears p times on the grid
    for s in need_grid:
        X = attn_out_grid(model, acts.pattern) if s == "attn" else acts.post  # [p*p, N]
        # float64 (near-collinear neurons, a clock's phase neighbours, need it), stored transposed
        # [N, p*p] so the Gram columns greedy asks for are contiguous rows; never centred in
        # memory: Xc^T Xc = X^T X - m mean mean^T, Xc^T T = X^T T - mean (1^T T)
        XT = X.T.double().contiguous()  # [N, m]
        m = XT.shape[1]
        mean = XT.sum(1) / m  # [N]
        XtT = XT.reshape(-1, p, p).sum(2) @ Tx - mean[:, None] * (p * Tx.sum(0))[None, :]  # [N, 2K]
        if s == "attn":  # d_model columns: the covariance is cheap, its eigenvectors are the PCs
            out[s] = _pc_gram(XT @ XT.T - m * torch.outer(mean, mean), XtT, tt, ks)
        else:  # d_mlp columns: only the Gram columns greedy selection asks for, a few at a time
            diag = torch.einsum("nm,nm->n", XT, XT) - m * mean**2
            cols = lambda js, XT=XT, mean=mean, m=m: XT @ XT[js].T - m * torch.outer(mean, mean[js])
            out[s] = SiteGram(None, XtT, tt, ks, diag=diag, columns=cols)
    return out


def greedy_gram(G: torch.Tensor, B: torch.Tensor, tt: torch.Tensor, n: int) -> tuple[list[int], list[list[float]]]:
    """Greedy forward selection from a Gram matrix: the same choices as `greedy_select` (gain
    = summed squared residual correlation over the remaining norm, ties to the lower index),
    with every quantity kept in column space. Returns (chosen, R^2 per target after each
    choice, [len(chosen)][t])."""
    return greedy_many(torch.diagonal(G), lambda js: G[:, js], [B], [tt], n)[0]


def greedy_many(diag: torch.Tensor, columns, Bs: list[torch.Tensor], tts: list[torch.Tensor], n: int):
    """Several greedy selections over the same columns (one per target set Bs[i] [N, t_i]),
    run in lockstep so each step asks `columns(js)` for the Gram columns G[:, js] of all the
    new choices at once (one pass over the data per step). Returns [(chosen, r2s)] per set."""
    diag = diag.double()
    N = diag.numel()
    scale = diag.max().clamp_min(1e-300) if N else torch.tensor(1.0, dtype=torch.float64)
    S = len(Bs)
    QX = [torch.zeros(0, N, dtype=torch.float64) for _ in range(S)]  # [s, N] q^T x_j
    QT = [torch.zeros(0, B.shape[1], dtype=torch.float64) for B in Bs]  # [s, t] q^T T
    chosen: list[list[int]] = [[] for _ in range(S)]
    r2s: list[list[list[float]]] = [[] for _ in range(S)]
    explained = [torch.zeros_like(tt.double()) for tt in tts]
    live = list(range(S))
    for _ in range(min(n, N)):
        picks = {}
        for i in live:
            left = diag - (QX[i] ** 2).sum(0)  # [N]
            ok = left > 1e-12 * scale
            if chosen[i]:
                ok[chosen[i]] = False
            if not ok.any():
                continue
            RX = Bs[i].double() - QX[i].T @ QT[i]  # [N, t] residual correlations
            gain = (RX**2).sum(1) / left.clamp_min(1e-300)
            gain[~ok] = -1.0
            j = int(torch.argmax(gain))  # first maximum: ties go to the lower index
            picks[i] = (j, left[j], RX[j])
        live = list(picks)
        if not live:
            break
        js = sorted({j for j, _, _ in picks.values()})
        cols = columns(js).double()  # [N, len(js)]
        for i, (j, left_j, rx) in picks.items():
            nrm = left_j.sqrt()
            qx = (cols[:, js.index(j)] - QX[i][:, j] @ QX[i]) / nrm  # [N]
            qt = rx / nrm
            QX[i] = torch.cat([QX[i], qx[None]])
            QT[i] = torch.cat([QT[i], qt[None]])
            chosen[i].append(j)
            explained[i] = explained[i] + qt**2
            tt = tts[i].double()
            r2s[i].append(torch.where(tt > 0, explained[i] / tt.clamp_min(1e-300), torch.zeros_like(tt)).clamp(0, 1).tolist())
    return list(zip(chosen, r2s))


@torch.no_grad()
def probe_table(model: Transformer, ks, dims=DIMS, acts: measures.GridActivations | None = None,
                sites=SITES) -> dict[str, dict[int, dict]]:
    """{site: {k: {"n": [dims], "cos": [R^2 per n], "sin": [R^2 per n], "dims": [chosen, best first]}}}.
    One greedy path of max(dims) per (site, k); fewer usable directions than n keep the last R^2."""
    ks = [int(k) for k in ks]
    grams = site_grams(model, ks, acts, sites)
    nmax = max(dims)
    out: dict[str, dict[int, dict]] = {}
    for site in sites:
        g = grams[site]
        out[site] = {}
        paths = greedy_many(g.diagonal(), g.col_fn(), [g.B[:, 2 * j:2 * j + 2] for j in range(len(ks))],
                            [g.tt[2 * j:2 * j + 2] for j in range(len(ks))], nmax)
        for k, (chosen, r2s) in zip(ks, paths):
            pick = [r2s[min(n, len(r2s)) - 1] if r2s else [0.0, 0.0] for n in dims]
            out[site][k] = {"n": list(dims), "cos": [r[0] for r in pick], "sin": [r[1] for r in pick], "dims": chosen}
    return out


def first_found(steps, r2s, threshold: float = 0.9):
    """The first step at which R^2 reaches `threshold`, or None. (Not "and stays": with two
    circles of similar radius the 2 leading components can mix their planes at a later
    checkpoint, so the 2-direction R^2 of a found wave may dip again.)"""
    return next((s for s, v in zip(steps, r2s) if v >= threshold), None)


@torch.no_grad()
def probe_timeline(replay_path, config, steps, ks, n: int = 2, sites=SITES) -> dict:
    """Probes with n directions at each replay weight step: {"steps": [...], "test_acc": [...],
    site: {k: [min(R^2 cos, R^2 sin) per step]}} (the weaker of the two waves: a wave is
    found when both its cos and its sin are)."""
    from . import replay as replay_mod
    from .data import make_dataset

    ds = make_dataset(config.model.p, config.frac_train, config.seed)
    out: dict = {"steps": [], "test_acc": [], "n": n, **{s: {int(k): [] for k in ks} for s in sites}}
    for step in steps:
        model = replay_mod.load_weights(replay_path, step, config)
        acts = measures.grid_activations(model)
        t = probe_table(model, ks, (n,), acts, sites)
        out["steps"].append(int(step))
        out["test_acc"].append(measures.loss_acc(acts.logits, ds)["test_acc"])
        for s in sites:
            for k in ks:
                out[s][int(k)].append(min(t[s][int(k)]["cos"][0], t[s][int(k)]["sin"][0]))
    return out
