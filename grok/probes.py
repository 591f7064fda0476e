"""Sparse linear probes: can cos(w_k x) and sin(w_k x) be read linearly from a few directions
of the model's activations? A grokked model writes them into its embedding (the clock's circle)
and its neurons compute with them; a random or memorising model has them nowhere in few dims.

Two places:
- "resid": the residual stream at the x position, blocks.0.hook_resid_pre[:, 0] over
  x = 0..p-1, which is W_E[:p] + W_pos[0] [p, d]. The residual basis is not privileged, so
  the candidate directions are its principal components (SVD of the centred matrix, components
  with singular value below 1e-6 of the largest dropped); "dims" are component indices, 0 =
  most variance.
- "neurons": the MLP's post-ReLU activations at "=" over the whole grid [p*p, d_mlp], target
  cos(w_k x) with x = i // p (the neuron basis is privileged: "dims" are neuron indices).

Method (deterministic): greedy forward selection. Starting from the intercept alone, add the
candidate column that most increases the summed R^2 of the two targets (cos and sin together,
so both share the same n dims), n times; ties go to the lower index. Candidates are
orthogonalised against the selected ones, so each step's gain is exact least squares. The
reported R^2 is then recomputed by torch.linalg.lstsq on [1, selected] (float64):
R^2 = 1 - |residual|^2 / |target - mean|^2.
"""
from __future__ import annotations

import math

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
