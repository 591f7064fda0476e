"""The fast path's attention-weighted sum of number rows, with a backward written out by hand.

Why: `F.embedding_bag(..., per_sample_weights=...)` computes the forward well, but autograd's
backward for it sorts the indices on every step, zero-fills a dense table gradient, and the
slices around it add zero-fill + copy + add passes of their own. In training the indices never
change (the full batch is fixed), so everything index-shaped is computed once, in a `BagPlan`,
and the backward becomes two more gathers:
- d table[r]   = sum over the (sample, slot) pairs that read row r of w * g[sample]
                 (an embedding_bag over g, by the plan's inverse index: no sort, no scatter);
- d w[b, slot] = table[idx[b, slot]] . g[b]  (aten's per-sample-weight kernel, given the plan).
Both are sums in a fixed order, so the result is deterministic and resume stays bit-identical.

Only the two number positions are bags: the "=" position's weight is 1 - w0 - w1 (softmax),
so the model folds its row into the number rows and a constant (see Transformer.fast_tables),
which spares three rank-H matmuls a step that BLAS runs slowly at these shapes.

Layout: token-major, row t H + h for token t of head h: x at t = x (position 0), y at t = p + y
(position 1). Shapes: B samples, H heads, R = 2 p H number rows, D = d_mlp + p.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class BagPlan:
    """The index bookkeeping of one batch (x, y): built once, reused every step."""

    idx: torch.Tensor  # [B * 2H] table row read by each (sample, head, number position) slot, sample-major
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


def table_rows(x: torch.Tensor, y: torch.Tensor, p: int, heads: int) -> torch.Tensor:
    """x, y [B] long -> [B, H, 2] the number row each (sample, head, number position) reads."""
    h = torch.arange(heads, device=x.device)  # [H]
    return torch.stack([x[:, None] * heads + h, (p + y[:, None]) * heads + h], dim=2)


def make_plan(x: torch.Tensor, y: torch.Tensor, p: int, heads: int) -> BagPlan:
    """x, y [B] long -> the plan for `bag`."""
    B, H = x.shape[0], heads
    idx = table_rows(x, y, p, H).reshape(-1)  # [B*H*2]
    k = 2 * H
    offsets = torch.arange(0, B * k, k, device=x.device)
    offset2bag = torch.arange(B, device=x.device).repeat_interleave(k)
    perm = torch.argsort(idx, stable=True)
    counts = torch.bincount(idx, minlength=2 * p * H)
    row_offsets = torch.cumsum(counts, 0) - counts
    return BagPlan(idx, offsets, offset2bag, perm, perm // k, row_offsets, B, H, 2 * p * H)


class _Bag(torch.autograd.Function):
    @staticmethod
    def forward(ctx, table: torch.Tensor, w: torch.Tensor, const: torch.Tensor, plan: BagPlan) -> torch.Tensor:
        w01 = w.reshape(-1)  # [B*H*2], the order of plan.idx
        out = F.embedding_bag(plan.idx, table, plan.offsets, mode="sum", per_sample_weights=w01)  # [B, D]
        out.add_(const)  # in place: a fresh [B, D] sum costs ~3x more here
        ctx.save_for_backward(table, w01)
        ctx.plan = plan
        return out

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        table, w01 = ctx.saved_tensors
        plan: BagPlan = ctx.plan
        g = g.contiguous()
        d_table = d_w = d_const = None
        if ctx.needs_input_grad[2]:
            d_const = g.sum(0)  # [D]
        if ctx.needs_input_grad[0]:
            d_table = F.embedding_bag(plan.slot_sample, g, plan.row_offsets, mode="sum", per_sample_weights=w01[plan.perm])  # [R, D]
        if ctx.needs_input_grad[1]:
            d_w = torch.ops.aten._embedding_bag_per_sample_weights_backward(g, table, plan.idx, plan.offsets, plan.offset2bag, 0)
            d_w = d_w.view(plan.batch, plan.heads, 2)
        return d_table, d_w, d_const, None


def bag(table: torch.Tensor, w: torch.Tensor, plan: BagPlan, const: torch.Tensor | None = None) -> torch.Tensor:
    """number rows table [2pH, D], weights w [B, H, 2], const [D] -> [B, D]:
    out[b] = const + sum_h w[b,h,0] table[x_b H + h] + w[b,h,1] table[(p + y_b) H + h]."""
    if const is None:
        const = table.new_zeros(table.shape[1])
    return _Bag.apply(table, w, const, plan)
