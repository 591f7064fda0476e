"""Grokfast gradient filters (Lee et al. 2024): amplify the slow part of the gradient.

Both add lambda times a low-pass of past gradients to the current gradient before the
optimiser step, g <- g + lambda * lowpass(g):
- EMA: h <- alpha * h + (1 - alpha) * g (h starts at the first gradient);
- MA:  the mean of the last `window` gradients, applied only once the window is full
  (the paper's `warmup=True` default).
With lambda = 2 a steady gradient is tripled: Grokfast acts like a (1 + lambda)-fold learning
rate along the slow directions (before Adam's normalisation; see the README, "Numerics").

State is a dict of tensors so that it goes into state.safetensors verbatim and a resumed run
is bit-identical: EMA keeps h per parameter; MA keeps a ring buffer [window, *shape] per
parameter plus two counters (filled, next slot) as 0-d int64 tensors.
"""
from __future__ import annotations

import torch

MA_FILLED, MA_POS = "__filled__", "__pos__"


@torch.no_grad()
def ema_(named: dict[str, torch.nn.Parameter], state: dict | None, alpha: float, lamb: float) -> dict:
    if state is None:
        state = {n: p.grad.detach().clone() for n, p in named.items()}
    else:
        for n, p in named.items():
            state[n].mul_(alpha).add_(p.grad, alpha=1 - alpha)
    for n, p in named.items():
        p.grad.add_(state[n], alpha=lamb)
    return state


@torch.no_grad()
def ma_(named: dict[str, torch.nn.Parameter], state: dict | None, window: int, lamb: float) -> dict:
    if state is None:
        state = {n: torch.zeros((window, *p.shape), dtype=p.grad.dtype, device=p.grad.device) for n, p in named.items()}
        state[MA_FILLED] = torch.tensor(0, dtype=torch.int64)
        state[MA_POS] = torch.tensor(0, dtype=torch.int64)
    pos = int(state[MA_POS])
    for n, p in named.items():
        state[n][pos].copy_(p.grad)
    filled = min(window, int(state[MA_FILLED]) + 1)
    state[MA_FILLED] = torch.tensor(filled, dtype=torch.int64)
    state[MA_POS] = torch.tensor((pos + 1) % window, dtype=torch.int64)
    if filled == window:
        for n, p in named.items():
            p.grad.add_(state[n].mean(0), alpha=lamb)
    return state
