"""A hand-built "clock" transformer: weights set by hand so that the real architecture computes
logits = scale * sum_k cos(w_k (x + y - c)), w_k = 2 pi k / p. The analysis tests run on it
because its key frequencies, neuron clusters and Fourier structure are known exactly.

Residual stream layout (K chosen frequencies; the j-th uses dims 2j, 2j+1 of each block):
    M = [0, 3)   position markers: W_pos[i] = one-hot(i)
    E            W_E[x] = a_j (cos(w_k x), sin(w_k x)); W_E["="] = 0
    X, Y         head 0 copies x's block E here, head 1 copies y's
    O            the MLP writes the answer's (cos, sin) here; W_U reads only O
- Attention: head 0 attends from "=" to position 0 only, head 1 to position 1 only (the query
  reads marker 2, the key marker 0 resp. 1, score 40: the other positions get ~e^-40). W_V
  copies block E, W_O is the identity into X (resp. Y); further heads are zero. So resid_mid
  at "=" holds e(x) in X and e(y) in Y (plus marker 2, which nothing reads).
- MLP: for frequency k and every pair of phases (phi_i, psi_l), phi_i = 2 pi i / n_phases, one
  neuron reads pre = cos(w_k x + phi_i) + cos(w_k y + psi_l) (W_in rows of X = (cos phi,
  -sin phi) / a_j, of Y = (cos psi, -sin psi) / a_j) and writes (cos(phi + psi),
  -sin(phi + psi)) / n_phases^2 into O; W_U reads (cos(w_k c), sin(w_k c)) * scale / G there,
  so W_L[n, c] ~ cos(w_k c + phi + psi). Summed over the phase grid only the (1, 1) Fourier
  coefficient G of relu(cos a + cos b) survives: logits = scale * sum_k cos(w_k (x + y - c)).
- n_unused extra neurons have zero W_in and W_out: zero activation, fraction 0, not clustered.

With the default n_phases = p the phases 2 pi i / p are exactly the shifts of x by multiples
of k^-1 mod p, so the phase sum is a circular correlation over Z_p x Z_p and the result is
exact: no term at any other frequency (measured: removing any non-key frequency at the neuron
or logit site changes the logits by < 1e-4). Fewer phases (e.g. 8, 64 neurons per frequency)
leave aliasing terms from the (1 + n i, 1 + n l) coefficients of the ReLU, ~1e-2 to 0.5 in
logits of range ~80 at p = 23.

Departure from the simplest construction (uniform attention, W_pos = 0, one phase per neuron,
pre = cos(w x + phi) + cos(w y + phi), output cos(w c + 2 phi)): that variant reaches 100 %
accuracy too, but relu is positively homogeneous, so its logits come out as
2 |cos(w (x - y) / 2)| cos(w (x + y - c)): the amplitude depends on x - y and only ~80 % of the
logit variance lies along cos(w (x + y - c)) (measured 0.80 at p = 31), which would leave the
"variance explained ~ 1" test without a known answer. Independent phases for x and y need x
and y in different residual dims, hence the two position-selective heads.

The amplitudes a_j = 1 + 0.25 j make the embedding's principal directions non-degenerate across
frequencies (the probe reads PCA directions); W_in divides them out, so every neuron sees unit
cosines. Each used neuron puts ~96 % of its centred variance in its frequency's 3x3 block (the
rest is the 2k, 3k, ... harmonics of the ReLU).
"""
from __future__ import annotations

import math

import torch

from grok.config import ModelConfig
from grok.model import Transformer

SCORE = 40.0  # attention logit of the attended position


def g11(n: int) -> float:
    """(1, 1) Fourier coefficient of relu(cos a + cos b) on n x n phases: the mean of
    relu(cos a + cos b) * cos(a + b) over a, b in 2 pi Z_n / n (~0.1351 for large n)."""
    a = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n
    g = (torch.cos(a)[:, None] + torch.cos(a)[None, :]).clamp_min(0)
    return (g * torch.cos(a[:, None] + a[None, :])).mean().item()


def clock_config(p: int, n_freqs: int, n_phases: int | None = None, n_unused: int = 4) -> ModelConfig:
    n = n_phases or p
    return ModelConfig(p=p, d_model=3 + 8 * n_freqs, n_heads=2, d_head=2 * n_freqs, d_mlp=n_freqs * n * n + n_unused)


def neuron_freqs(p: int, freqs, n_phases: int | None = None, n_unused: int = 4) -> list[int]:
    """The frequency each neuron was built for, 0 for the unused ones, in neuron order."""
    n = n_phases or p
    return [int(k) for k in freqs for _ in range(n * n)] + [0] * n_unused


@torch.no_grad()
def clock_model(p: int, freqs, n_phases: int | None = None, scale: float = 20.0, n_unused: int = 4) -> Transformer:
    """A Transformer whose logits are scale * sum_{k in freqs} cos(w_k (x + y - c)): exact (float
    rounding) with the default n_phases = p, up to aliasing terms for other n_phases."""
    n = n_phases or p
    freqs = [int(k) for k in freqs]
    K = len(freqs)
    cfg = clock_config(p, K, n, n_unused)
    model = Transformer(cfg, seed=None)
    for prm in model.parameters():
        prm.zero_()
    M, E, X, Y, O = 0, 3, 3 + 2 * K, 3 + 4 * K, 3 + 6 * K  # block offsets
    a, m = model.attn, model.mlp
    xs = torch.arange(p, dtype=torch.float64)

    model.pos_embed.W_pos[:, M:M + 3] = torch.eye(3)
    for h, dst in ((0, X), (1, Y)):  # head h: from "=" (marker 2) to position h (marker h)
        a.W_Q[h, M + 2, 0] = 1.0
        a.W_K[h, M + h, 0] = SCORE * math.sqrt(cfg.d_head)
        a.W_V[h, E:E + 2 * K, :] = torch.eye(2 * K)
        a.W_O[h, :, dst:dst + 2 * K] = torch.eye(2 * K)

    ph = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n
    phi, psi = ph.repeat_interleave(n), ph.repeat(n)  # [n*n] every pair of phases
    G = g11(n)
    for j, k in enumerate(freqs):
        w = 2 * math.pi * k / p
        amp = 1 + 0.25 * j
        model.embed.W_E[:p, E + 2 * j] = (amp * torch.cos(w * xs)).float()
        model.embed.W_E[:p, E + 2 * j + 1] = (amp * torch.sin(w * xs)).float()
        cols = slice(j * n * n, (j + 1) * n * n)
        m.W_in[X + 2 * j, cols] = (torch.cos(phi) / amp).float()
        m.W_in[X + 2 * j + 1, cols] = (-torch.sin(phi) / amp).float()
        m.W_in[Y + 2 * j, cols] = (torch.cos(psi) / amp).float()
        m.W_in[Y + 2 * j + 1, cols] = (-torch.sin(psi) / amp).float()
        m.W_out[cols, O + 2 * j] = (torch.cos(phi + psi) / n**2).float()
        m.W_out[cols, O + 2 * j + 1] = (-torch.sin(phi + psi) / n**2).float()
        model.unembed.W_U[O + 2 * j] = (scale / G * torch.cos(w * xs)).float()
        model.unembed.W_U[O + 2 * j + 1] = (scale / G * torch.sin(w * xs)).float()
    model.eval()
    return model


def clock_and_acts(p: int, freqs):
    """(clock_model(p, freqs), its grid activations): the fixture several test files share."""
    from grok import measures
    model = clock_model(p, freqs)
    return model, measures.grid_activations(model)
