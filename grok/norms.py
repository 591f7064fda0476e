"""Per-matrix weight norms (Frobenius), logged at every eval.

Why: the total squared norm hides which matrix grows or shrinks; Thilak et al. 2022's
"slingshot" cycles show in the last layer (W_U, W_out) first, and without weight decay the
logit scale (and so the float32 softmax collapse) grows with W_U and W_out.
"""
from __future__ import annotations

import torch

from .model import Transformer

MATRICES = ("W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_in", "W_out", "W_U")
KEY_PREFIX = "norm_"  # metrics.jsonl keys: norm_W_E, ...


@torch.no_grad()
def matrix_norms(model: Transformer) -> dict[str, float]:
    """{"norm_W_E": |W_E|_F, ...} for the nine weight matrices (biases left out)."""
    out = {}
    for name, prm in model.named_parameters():
        short = name.rsplit(".", 1)[-1]
        if short in MATRICES:
            out[KEY_PREFIX + short] = prm.double().norm().item()
    return out
