"""A hand-built "pizza" transformer (Zhong et al. 2023): the simplest construction of
tests/clock.py's docstring, which adds the two embeddings instead of keeping them apart.

Residual layout (K frequencies, 2 dims each per block): E = [0, 2K) the embedding
W_E[x] = (cos(w_k x), sin(w_k x)) per k, A = [2K, 4K) where the one head writes, O = [4K, 6K)
what the MLP writes and W_U reads. W_pos = 0 and W_Q = 0, so "=" attends uniformly to
(x, y, "=") and, with W_E["="] = 0, the attention output at "=" is (e(x) + e(y)) / 3: the
model sees only e(x) + e(y), symmetric in x and y (gradient symmetricity exactly 1).
Neuron (k, i) with phase phi_i = 2 pi i / n reads pre = cos(w x + phi) + cos(w y + phi) =
2 cos(w (x - y) / 2) cos(w (x + y) / 2 + phi) and writes (cos 2 phi, -sin 2 phi) into O; W_U
reads (cos w c, sin w c). Summed over the phases only the second harmonic of the ReLU in phi
survives, so the logits are ~ |cos(w (x - y) / 2)| cos(w (x + y - c)): the answer is right
(cos(w (x - y) / 2) never vanishes for odd p) but the correct logit depends on x - y, the
pizza signature (distance irrelevance ~ 0).
"""
from __future__ import annotations

import math

import torch

from grok.config import ModelConfig
from grok.model import Transformer


@torch.no_grad()
def pizza_model(p: int, freqs, n_phases: int = 32, scale: float = 20.0) -> Transformer:
    freqs = [int(k) for k in freqs]
    K = len(freqs)
    cfg = ModelConfig(p=p, d_model=6 * K, n_heads=1, d_head=2 * K, d_mlp=K * n_phases)
    model = Transformer(cfg, seed=None)
    for prm in model.parameters():
        prm.zero_()
    E, A, O = 0, 2 * K, 4 * K
    a, m = model.attn, model.mlp
    a.W_V[0, E:E + 2 * K, :] = torch.eye(2 * K)
    a.W_O[0, :, A:A + 2 * K] = torch.eye(2 * K)
    xs = torch.arange(p, dtype=torch.float64)
    ph = torch.arange(n_phases, dtype=torch.float64) * 2 * math.pi / n_phases
    for j, k in enumerate(freqs):
        w = 2 * math.pi * k / p
        model.embed.W_E[:p, E + 2 * j] = torch.cos(w * xs).float()
        model.embed.W_E[:p, E + 2 * j + 1] = torch.sin(w * xs).float()
        cols = slice(j * n_phases, (j + 1) * n_phases)
        m.W_in[A + 2 * j, cols] = (3 * torch.cos(ph)).float()  # attention divides by 3
        m.W_in[A + 2 * j + 1, cols] = (-3 * torch.sin(ph)).float()
        m.W_out[cols, O + 2 * j] = (torch.cos(2 * ph) / n_phases).float()
        m.W_out[cols, O + 2 * j + 1] = (-torch.sin(2 * ph) / n_phases).float()
        model.unembed.W_U[O + 2 * j] = (scale * torch.cos(w * xs)).float()
        model.unembed.W_U[O + 2 * j + 1] = (scale * torch.sin(w * xs)).float()
    model.eval()
    return model
