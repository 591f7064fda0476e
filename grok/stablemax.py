"""Losses on the logits, and the float32 softmax-collapse measure (Prieto et al. 2025).

Why: once a training pair's correct-class logit leads the rest by more than ~17 + ln(C - 1)
(1 - p_c below half a float32 ulp of 1, 2^-25), its float32 softmax rounds to exactly 1: the
loss of that pair is exactly 0 and so is the gradient on its correct logit ("softmax
collapse"; the wrong logits keep only a vanishing push). Prieto et al. ("Grokking at the edge of numerical
stability", LucasPrietoAl/grokking-at-the-edge-of-numerical-stability) replace exp with

    s(x) = x + 1        for x >= 0
    s(x) = 1 / (1 - x)  for x < 0

and probabilities s(x_i) / sum_j s(x_j) ("StableMax"), which grow linearly, not exponentially,
in the logits. As in their code, the logits are cast to the loss dtype (float64 by default)
first, and the log is taken of the normalised ratio: log(s_i / sum_j s_j).
(Their s() adds epsilon 1e-30 to 1 - x; 1 - x >= 1 there, so it changes nothing and is left out.)
"""
from __future__ import annotations

import torch

LOSSES = ("softmax", "stablemax")
PRECISIONS = {32: torch.float32, 64: torch.float64}


def s(x: torch.Tensor) -> torch.Tensor:
    """StableMax's exp replacement, elementwise; continuous with s(0) = 1 and s'(0) = 1."""
    # clamp keeps the unused branch finite (no inf * 0 = nan in the backward of torch.where)
    return torch.where(x >= 0, x + 1, 1 / (1 - x.clamp_max(0)))


def log_stablemax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log(s(x_i) / sum_j s(x_j)) along `dim`, in x's dtype."""
    sx = s(x)
    return torch.log(sx / sx.sum(dim=dim, keepdim=True))


def stablemax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    sx = s(x)
    return sx / sx.sum(dim=dim, keepdim=True)


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, loss: str = "softmax", precision: int = 64) -> torch.Tensor:
    """Mean cross-entropy of logits [B, C] against labels [B], computed in float`precision`.

    softmax in float32 is the common default whose loss (and gradient) collapse below ~1e-7;
    float64 (this project's default) keeps both. StableMax follows the reference code."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    z = logits.to(PRECISIONS[precision])
    logp = z.log_softmax(-1) if loss == "softmax" else log_stablemax(z, -1)
    return -logp.gather(-1, labels[:, None]).mean()


@torch.no_grad()
def collapse_fraction(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows [B, C] whose float32 softmax of the correct class is exactly 1.0:
    for those pairs a float32 cross-entropy is exactly 0 and so is its gradient on the correct
    logit (p_c - 1); only the wrong logits keep a push of p_j < 2^-24 each."""
    if logits.shape[0] == 0:
        return 0.0
    pc = logits.float().softmax(-1).gather(-1, labels[:, None])
    return (pc == 1.0).double().mean().item()
