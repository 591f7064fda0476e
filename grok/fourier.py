"""The orthonormal Fourier basis over Z_p and the transforms the analysis uses.

Order (as in Nanda et al.'s code): row 0 is the constant 1/sqrt(p); for k = 1..(p-1)/2,
row 2k-1 is cos(2 pi k x / p) and row 2k is sin(2 pi k x / p), each divided by sqrt(p/2).
F [p, p] has orthonormal rows, so F @ M re-expresses the rows of M without changing its norm.
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch


def n_freqs(p: int) -> int:
    return (p - 1) // 2


@lru_cache(maxsize=16)
def _basis(p: int) -> torch.Tensor:
    x = torch.arange(p, dtype=torch.float64)
    rows = [torch.full((p,), 1 / math.sqrt(p), dtype=torch.float64)]
    for k in range(1, n_freqs(p) + 1):
        rows.append(torch.cos(2 * math.pi * k * x / p) / math.sqrt(p / 2))
        rows.append(torch.sin(2 * math.pi * k * x / p) / math.sqrt(p / 2))
    return torch.stack(rows)


def basis(p: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """F [p, p]: rows are the basis vectors, F @ F.T = I. Always a fresh copy: the cached
    float64 tensor must not be shared with callers that might write into theirs."""
    return _basis(p).to(dtype=dtype, device=device, copy=True)


def basis_labels(p: int) -> list[str]:
    """Names of F's rows: 'const', 'cos 1', 'sin 1', ..."""
    out = ["const"]
    for k in range(1, n_freqs(p) + 1):
        out += [f"cos {k}", f"sin {k}"]
    return out


def transform(M: torch.Tensor) -> torch.Tensor:
    """M [p, ...] indexed by a number along dim 0 -> coefficients [p, ...] in the basis."""
    F = basis(M.shape[0], M.dtype, M.device)
    return torch.tensordot(F, M, dims=([1], [0]))


def transform_2d(A: torch.Tensor) -> torch.Tensor:
    """A [p, p, ...] indexed (x, y) -> F @ A @ F.T per trailing index: [p, p, ...].
    Entry (i, j) is the coefficient of (basis i of x) * (basis j of y)."""
    p = A.shape[0]
    F = basis(p, A.dtype, A.device)
    rest = A.shape[2:]
    B = (F @ A.reshape(p, -1)).reshape(p, p, -1)  # [a, y, n]: transform over x
    return torch.matmul(F, B).reshape(p, p, *rest)  # [a, b, n]: then over y


def freq_norms(M: torch.Tensor) -> torch.Tensor:
    """M [p, n] rows indexed by a number -> [(p-1)/2] norm of frequency k = 1.. in M:
    sqrt(|F[cos k] @ M|^2 + |F[sin k] @ M|^2)."""
    C = transform(M).reshape(M.shape[0], -1)  # [p, n]
    e = (C[1:] ** 2).sum(-1)  # [p-1]
    return (e[0::2] + e[1::2]).sqrt()


def sum_directions(p: int, ks, dtype=torch.float32, device=None) -> torch.Tensor:
    """[p*p, 2 * len(ks)] unit vectors over the grid (pair i = (i // p, i % p)):
    cos(w_k (x + y)) and sin(w_k (x + y)) for each k, in that order. They are orthonormal to
    each other and to the constant, which is what lets restricted / excluded loss project."""
    x = torch.arange(p, dtype=torch.float64)
    s = (x[:, None] + x[None, :]).reshape(-1)  # [p*p]
    cols = []
    for k in ks:
        w = 2 * math.pi * int(k) / p
        cols += [torch.cos(w * s), torch.sin(w * s)]
    if not cols:
        return torch.zeros(p * p, 0, dtype=dtype, device=device)
    D = torch.stack(cols, 1) / (p / math.sqrt(2))
    return D.to(dtype=dtype, device=device)
