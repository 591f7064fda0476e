"""The perpendicular gradient ("⊥Grad", Prieto et al. 2025), applied per parameter tensor.

Why: without weight decay, once the training set is fit the cheapest way to lower the loss is
to scale the logits up ("naive loss minimisation"), i.e. to move along the weights w
themselves. Removing the gradient's component along w (per tensor, flattened) blocks that
direction; rescaling to the original norm keeps the step size:

    g_perp = g - (w . g) / (w . w) * w,     g <- g_perp * |g| / |g_perp|

As in the reference code the projection is done in float64 and eps 1e-30 guards the
divisions (w = 0 or g parallel to w leaves g_perp = 0).
"""
from __future__ import annotations

from typing import Iterable

import torch

EPS = 1e-30


@torch.no_grad()
def perpendicular(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """g with its component along w removed, rescaled to |g|; same shape and dtype as g."""
    w64, g64 = w.reshape(-1).double(), g.reshape(-1).double()
    proj = torch.dot(w64, g64) / (torch.dot(w64, w64) + EPS)
    gp = g64 - proj * w64
    gp = gp * (g64.norm() / (gp.norm() + EPS))
    return gp.reshape(g.shape).to(g.dtype)


@torch.no_grad()
def orthogonalize_(params: Iterable[torch.nn.Parameter]) -> None:
    """Replace each parameter's .grad by its perpendicular gradient, in place."""
    for prm in params:
        if prm.grad is not None:
            prm.grad.copy_(perpendicular(prm, prm.grad))
