"""What the attention heads do at "=": whom they read over the whole (x, y) grid, and what they
write (their OV output, the residual vector each (token, head) adds when fully attended).

In a one-layer model "=" is the only position that reaches the logits, and its query is a
constant vector, so head h's score of the x position is q_h . k_h(x) with
k_h(x) = (W_E[x] + W_pos[0]) @ W_K[h] (likewise y at position 1): a function of x alone. A
grokked embedding is a few waves cos / sin(w_k x), so k_h(x), the scores and the softmax over
(x, y, "=") are built from those waves: the attention pattern is periodic in x and in y at the
key frequencies. The numbers here come from the model's exact fast path (`fast_forward`),
which equals the full forward's `blocks.0.attn.hook_pattern[:, :, 2, :]`.
"""
from __future__ import annotations

import torch

from . import fourier
from .data import grid_tokens
from .model import Transformer


@torch.no_grad()
def grid_pattern(model: Transformer) -> torch.Tensor:
    """[p, p, H, 3] attention of "=" to (x, y, "=") per head over the grid (rows x, cols y)."""
    p = model.cfg.p
    tok = grid_tokens(p).to(model.embed.W_E.device)
    _, _, pattern = model.fast_forward(tok[:, 0], tok[:, 1])  # [p*p, H, 3]
    return pattern.reshape(p, p, model.cfg.n_heads, 3)


@torch.no_grad()
def ov_tables(model: Transformer) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ov0 [p, H, d], ov1 [p, H, d], ov2 [H, d]): what head h writes into the residual at "="
    when it attends fully to number x at position 0 (ov0[x, h]), to y at position 1, or to "="."""
    p = model.cfg.p
    a = model.attn
    W_E, W_pos = model.embed.W_E, model.pos_embed.W_pos
    W_OV = torch.einsum("hde,hef->hdf", a.W_V, a.W_O)  # [H, d, d]
    bOV = torch.einsum("he,hef->hf", a.b_V, a.W_O)  # [H, d]
    ov0 = torch.einsum("pd,hdf->phf", W_E[:p] + W_pos[0], W_OV) + bOV
    ov1 = torch.einsum("pd,hdf->phf", W_E[:p] + W_pos[1], W_OV) + bOV
    ov2 = torch.einsum("d,hdf->hf", W_E[p] + W_pos[2], W_OV) + bOV
    return ov0, ov1, ov2


@torch.no_grad()
def attn_out_grid(model: Transformer, pattern: torch.Tensor | None = None) -> torch.Tensor:
    """[p*p, d] the attention output at "=" (blocks.0.hook_attn_out[:, 2]) over the grid."""
    p, H = model.cfg.p, model.cfg.n_heads
    pat = (grid_pattern(model) if pattern is None else pattern).reshape(p, p, H, 3)
    ov0, ov1, ov2 = ov_tables(model)
    out = torch.einsum("xyh,xhd->xyd", pat[..., 0], ov0) + torch.einsum("xyh,yhd->xyd", pat[..., 1], ov1)
    out = out + torch.einsum("xyh,hd->xyd", pat[..., 2], ov2) + model.attn.b_O
    return out.reshape(p * p, -1)


@torch.no_grad()
def ov_freq_norms(model: Transformer) -> torch.Tensor:
    """[H, (p-1)/2] Fourier norm of frequency k = 1.. in what each head writes for number x
    (its OV output ov0[x, h] over x = 0..p-1; the position-1 table differs by a constant)."""
    ov0, _, _ = ov_tables(model)
    return torch.stack([fourier.freq_norms(ov0[:, h].double()) for h in range(ov0.shape[1])]).float()


def pattern_freq_share(pattern_xy: torch.Tensor, ks) -> float:
    """Fraction of the centred variance of a [p, p] attention map carried by the waves of x and
    y at frequencies ks (const, cos / sin(w_k x), cos / sin(w_k y) and their products): how
    periodic at the key frequencies the pattern is. 0 for a constant map."""
    A = pattern_xy.double()
    A = A - A.mean()
    tot = (A**2).sum()
    if tot <= 0:
        return 0.0
    S = fourier.transform_2d(A) ** 2  # [p, p]
    idx = [0] + [i for k in ks for i in (2 * int(k) - 1, 2 * int(k))]
    idx_t = torch.tensor(sorted(set(idx)))
    return (S[idx_t][:, idx_t].sum() / tot).item()
