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


class _ExactSoftmaxXent(torch.autograd.Function):
    """Mean softmax cross-entropy of float32 logits that keeps the loss and the correct class's
    gradient where a float32 (and, past margins of ~37, a float64) log-softmax rounds them to 0.

    Why this form: with m the row's largest logit (at class a) and S = sum_{j != a} exp(l_j - m),
        loss = (m - l_c) + log1p(S),   d loss / d l_j = p_j - [j = c],
        p_j = exp(l_j - m) / (1 + S),  p_a = 1 / (1 + S),  and for c = a:  p_c - 1 = -S / (1 + S).
    Every term is a ratio or a log1p of positive numbers, so each is exact to float32's relative
    precision however small the loss, and nothing is ever computed as 1 - (something near 1).
    It matches a float64 log-softmax to ~1e-7 relative wherever float64 resolves the loss, costs
    about a third of it (no float64 copies; ~1.3 ms of a 23 ms training step here), and is the
    project's default loss ("precision 64": at least float64's precision)."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        m, a = logits.max(1, keepdim=True)  # [B, 1], [B, 1]
        e = (logits - m).exp_()  # [B, C]
        e.scatter_(1, a, 0.0)  # the largest class's own term (exactly 1) is kept out of S
        S = e.sum(1, keepdim=True)  # [B, 1]
        rows = (m - logits.gather(1, labels[:, None])) + torch.log1p(S)  # [B, 1] per-pair loss
        ctx.save_for_backward(e, S, a, labels)
        return rows.double().mean()

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        e, S, a, labels = ctx.saved_tensors
        inv = 1.0 / (1.0 + S)  # [B, 1]
        grad = e.mul_(inv)  # p_j for j != a (0 at a); e is not needed again
        grad.scatter_(1, a, inv)  # p_a
        c = labels[:, None]
        grad.scatter_(1, c, torch.where(a == c, -S * inv, grad.gather(1, c) - 1.0))  # p_c - 1, exactly
        return grad.mul_((g / e.shape[0]).to(grad.dtype)), None


def float64_xent(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy from a float64 log-softmax (the loss of Nanda et al.'s code)."""
    return -logits.double().log_softmax(-1).gather(-1, labels[:, None]).mean()


def softmax_xent(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean softmax cross-entropy, exact however small (see _ExactSoftmaxXent); a float64 scalar."""
    if logits.dtype != torch.float32:
        return float64_xent(logits, labels)
    return _ExactSoftmaxXent.apply(logits, labels)


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, loss: str = "softmax", precision: int = 64) -> torch.Tensor:
    """Mean cross-entropy of logits [B, C] against labels [B].

    precision 32: the common float32 log-softmax, whose loss (and gradient) collapse below ~1e-7;
    precision 64 (this project's default): softmax_xent, exact at least to float64's precision.
    StableMax follows the reference code, in float`precision`."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if loss == "softmax" and precision == 64:
        return softmax_xent(logits, labels)
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
