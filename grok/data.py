"""The task: every pair (x, y) of Z_p, label (x + y) mod p, and a seeded train/test split.

Pair i of the grid is (x, y) = (i // p, i % p), so a [p*p] vector reshapes to a [p, p] table
indexed [x, y]. The split is a boolean mask over that grid (no tuple comparisons).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Dataset:
    p: int
    tokens: torch.Tensor  # [p*p, 3] long: x, y, "=" (token p)
    labels: torch.Tensor  # [p*p] long
    train_mask: torch.Tensor  # [p*p] bool
    seed: int
    frac_train: float

    @property
    def train_idx(self) -> torch.Tensor:
        return self.train_mask.nonzero().squeeze(1)

    @property
    def test_idx(self) -> torch.Tensor:
        return (~self.train_mask).nonzero().squeeze(1)

    def to(self, device) -> "Dataset":
        return Dataset(self.p, self.tokens.to(device), self.labels.to(device), self.train_mask.to(device), self.seed, self.frac_train)


def grid_tokens(p: int) -> torch.Tensor:
    """[p*p, 3] sequences [x, y, =] in grid order."""
    x = torch.arange(p).repeat_interleave(p)
    y = torch.arange(p).repeat(p)
    return torch.stack([x, y, torch.full_like(x, p)], dim=1)


def split_mask(p: int, frac_train: float, seed: int) -> torch.Tensor:
    """[p*p] bool: the first int(frac * p^2) pairs of a seeded permutation train."""
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(p * p, generator=g)
    mask = torch.zeros(p * p, dtype=torch.bool)
    mask[perm[: int(frac_train * p * p)]] = True
    return mask


def make_dataset(p: int, frac_train: float = 0.3, seed: int = 0) -> Dataset:
    tokens = grid_tokens(p)
    labels = (tokens[:, 0] + tokens[:, 1]) % p
    return Dataset(p, tokens, labels, split_mask(p, frac_train, seed), seed, frac_train)
