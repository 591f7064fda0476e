"""The fast path's attention-weighted table sum, with a backward written out by hand.

Why: `F.embedding_bag(..., per_sample_weights=...)` computes the forward well, but autograd's
backward for it sorts the indices on every step, zero-fills a dense table gradient, and the
slices and the separate "=" term around it add zero-fill + copy + add passes of their own. In
training the indices never change (the full batch is fixed), so everything index-shaped is
computed once, in a `BagPlan`, and the backward becomes two more gathers:
- d table[r]   = sum over the (sample, slot) pairs that read row r of w * g[sample]
                 (an embedding_bag over g, by the plan's inverse index: no sort, no scatter);
- d w[b, slot] = table[idx[b, slot]] . g[b]  (aten's per-sample-weight kernel, given the plan).
Both are sums in a fixed order, so the result is deterministic and resume stays bit-identical.

Shapes: B samples, H heads, R = 2 p H table rows for the two number positions, D = d_mlp + p.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class BagPlan:
    """The index bookkeeping of one batch (x, y): built once, reused every step."""

    idx: torch.Tensor  # [B * 2H] table row read by each (sample, head, position) slot, sample-major
    offsets: torch.Tensor  # [B] first slot of each sample
    offset2bag: torch.Tensor  # [B * 2H] sample of each slot
    perm: torch.Tensor  # [B * 2H] slots sorted by the row they read
    slot_sample: torch.Tensor  # [B * 2H] sample of each slot in `perm` order
    row_offsets: torch.Tensor  # [R] first entry of each row in `perm`
    batch: int
    heads: int
    rows: int

    def matches(self, x: torch.Tensor, y: torch.Tensor, p: int, heads: int) -> bool:
        return x.shape[0] == self.batch and heads == self.heads and 2 * p * heads == self.rows


def make_plan(x: torch.Tensor, y: torch.Tensor, p: int, heads: int) -> BagPlan:
    """x, y [B] long -> the plan for `bag` (rows: x*H + h for position 0, pH + y*H + h for 1)."""
    B, H = x.shape[0], heads
    h = torch.arange(H, device=x.device)
    idx = torch.stack([x[:, None] * H + h, p * H + y[:, None] * H + h], dim=2).reshape(-1)  # [B*H*2]
    k = 2 * H
    offsets = torch.arange(0, B * k, k, device=x.device)
    offset2bag = torch.arange(B, device=x.device).repeat_interleave(k)
    perm = torch.argsort(idx, stable=True)
    counts = torch.bincount(idx, minlength=2 * p * H)
    row_offsets = torch.cumsum(counts, 0) - counts
    return BagPlan(idx, offsets, offset2bag, perm, perm // k, row_offsets, B, H, 2 * p * H)


class _Bag(torch.autograd.Function):
    @staticmethod
    def forward(ctx, table: torch.Tensor, w: torch.Tensor, plan: BagPlan) -> torch.Tensor:
        R, B, H = plan.rows, plan.batch, plan.heads
        w01 = w[:, :, :2].reshape(-1)  # [B*H*2], the order of plan.idx
        out = F.embedding_bag(plan.idx, table[:R], plan.offsets, mode="sum", per_sample_weights=w01)  # [B, D]
        out.addmm_(w[:, :, 2], table[R:])  # the "=" rows: the same H rows for every sample
        ctx.save_for_backward(table, w, w01)
        ctx.plan = plan
        return out

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        table, w, w01 = ctx.saved_tensors
        plan: BagPlan = ctx.plan
        R, B, H = plan.rows, plan.batch, plan.heads
        g = g.contiguous()
        d_table = d_w = None
        if ctx.needs_input_grad[0]:
            d_rows = F.embedding_bag(plan.slot_sample, g, plan.row_offsets, mode="sum", per_sample_weights=w01[plan.perm])  # [R, D]
            d_table = torch.cat([d_rows, w[:, :, 2].T @ g], 0)  # [R + H, D]
        if ctx.needs_input_grad[1]:
            d01 = torch.ops.aten._embedding_bag_per_sample_weights_backward(g, table[:R], plan.idx, plan.offsets, plan.offset2bag, 0)
            d_w = torch.cat([d01.view(B, H, 2), (g @ table[R:].T)[:, :, None]], 2)  # [B, H, 3]
        return d_table, d_w, None


def bag(table: torch.Tensor, w: torch.Tensor, plan: BagPlan) -> torch.Tensor:
    """table [R + H, D], attention pattern w [B, H, 3] -> [B, D]:
    out[b] = sum_h w[b,h,0] table[x_b H + h] + w[b,h,1] table[R/2 + y_b H + h] + w[b,h,2] table[R + h]."""
    return _Bag.apply(table, w, plan)
