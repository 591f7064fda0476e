"""Reading one MLP neuron as trigonometry, and the neuron-to-logit map W_L by frequency.

A clustered neuron's activation over the (x, y) grid is, to > 85 % of its variance, a sum of
the products of cos / sin(w_k x) and cos / sin(w_k y) for one frequency k (w_k = 2 pi k / p).
`trig_terms` reads those coefficients off the neuron's 2-D Fourier transform and evaluates
them at one pair, so the page can show the model's own numbers in
cos(a) cos(b) - sin(a) sin(b) = cos(a + b): a neuron whose cos.cos and sin.sin coefficients
are opposite computes cos(w_k (x + y)), constant along the diagonals x + y = const.
Pure torch, no Streamlit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import fourier

# The eight products of one frequency's waves (x wave, y wave); "1" is the constant.
TERMS: tuple[tuple[str, str], ...] = (
    ("cos", "cos"), ("sin", "sin"), ("cos", "sin"), ("sin", "cos"),
    ("cos", "1"), ("sin", "1"), ("1", "cos"), ("1", "sin"),
)


@dataclass
class Term:
    x_wave: str  # "cos", "sin" or "1"
    y_wave: str
    coef: float  # alpha: the activation ~ mean + sum alpha * x_wave(w x) * y_wave(w y)
    value: float  # x_wave(w x) * y_wave(w y) at the chosen pair
    contribution: float  # coef * value

    @property
    def name(self) -> str:
        parts = ([f"{self.x_wave}(wx)"] if self.x_wave != "1" else []) + ([f"{self.y_wave}(wy)"] if self.y_wave != "1" else [])
        return " ".join(parts)


@dataclass
class TrigDecomposition:
    """One neuron at frequency k evaluated at (x, y) from its 2-D Fourier coefficients."""

    k: int
    x: int
    y: int
    mean: float  # the neuron's mean activation over the grid
    terms: list[Term]  # in TERMS order
    fitted: float  # mean + sum of the terms' contributions
    actual: float  # the activation at (x, y)
    frac: float  # fraction of the centred neuron's energy in these terms (its "fraction explained" at k)
    cos_x: float  # cos(w_k x)
    cos_y: float
    sin_x: float
    sin_y: float
    cos_sum: float  # cos(w_k (x + y)) = cos_x cos_y - sin_x sin_y
    sin_sum: float  # sin(w_k (x + y)) = sin_x cos_y + cos_x sin_y
    sum_cos: float  # coefficient on cos(w_k (x + y)): (alpha_cc - alpha_ss) / 2
    sum_sin: float  # coefficient on sin(w_k (x + y)): (alpha_sc + alpha_cs) / 2
    diff_cos: float  # coefficient on cos(w_k (x - y)): (alpha_cc + alpha_ss) / 2
    diff_sin: float  # coefficient on sin(w_k (x - y)): (alpha_sc - alpha_cs) / 2

    def coef(self, x_wave: str, y_wave: str) -> float:
        return next(t.coef for t in self.terms if (t.x_wave, t.y_wave) == (x_wave, y_wave))


def _row(k: int, wave: str) -> int:
    """Index of a wave in the Fourier basis order (const, cos 1, sin 1, ...)."""
    return {"1": 0, "cos": 2 * k - 1, "sin": 2 * k}[wave]


def centred_spectrum(act: torch.Tensor) -> torch.Tensor:
    """act [p, p] over (x, y) -> [p, p] 2-D Fourier coefficients of act minus its mean
    (entry (i, j): basis i of x times basis j of y, normalised basis)."""
    A = act.double()
    return fourier.transform_2d(A - A.mean())


@torch.no_grad()
def trig_terms(act: torch.Tensor, k: int, x: int, y: int, spectrum: torch.Tensor | None = None) -> TrigDecomposition:
    """Decompose a neuron's activation map act [p, p] at frequency k and evaluate it at (x, y).

    The normalised basis rows are wave / n with n = sqrt(p) for the constant and sqrt(p/2)
    for cos / sin, so a coefficient C[i, j] of the centred map multiplies the plain product
    of waves by alpha = C[i, j] / (n_i n_j): that alpha is what the identity needs. `spectrum`:
    centred_spectrum(act), when the caller has it already (the Neurons page draws it too)."""
    p = act.shape[0]
    if not 1 <= k <= fourier.n_freqs(p):
        raise ValueError(f"frequency {k} out of range 1..{fourier.n_freqs(p)}")
    A = act.double()
    mean = A.mean().item()
    C = centred_spectrum(A) if spectrum is None else spectrum.double()  # [p, p]
    w = 2 * math.pi * k / p
    wave_x = {"1": 1.0, "cos": math.cos(w * x), "sin": math.sin(w * x)}
    wave_y = {"1": 1.0, "cos": math.cos(w * y), "sin": math.sin(w * y)}
    norm = {"1": math.sqrt(p), "cos": math.sqrt(p / 2), "sin": math.sqrt(p / 2)}
    terms = []
    for xw, yw in TERMS:
        alpha = C[_row(k, xw), _row(k, yw)].item() / (norm[xw] * norm[yw])
        v = wave_x[xw] * wave_y[yw]
        terms.append(Term(xw, yw, alpha, v, alpha * v))
    block = [0, 2 * k - 1, 2 * k]
    total = (C**2).sum().item()
    frac = (C[block][:, block] ** 2).sum().item() / total if total > 0 else 0.0
    a = {(t.x_wave, t.y_wave): t.coef for t in terms}
    return TrigDecomposition(
        k=k, x=x, y=y, mean=mean, terms=terms, fitted=mean + sum(t.contribution for t in terms),
        actual=A[x, y].item(), frac=frac,
        cos_x=wave_x["cos"], cos_y=wave_y["cos"], sin_x=wave_x["sin"], sin_y=wave_y["sin"],
        cos_sum=math.cos(w * (x + y)), sin_sum=math.sin(w * (x + y)),
        sum_cos=(a["cos", "cos"] - a["sin", "sin"]) / 2, sum_sin=(a["sin", "cos"] + a["cos", "sin"]) / 2,
        diff_cos=(a["cos", "cos"] + a["sin", "sin"]) / 2, diff_sin=(a["sin", "cos"] - a["cos", "sin"]) / 2,
    )


def spectrum_rows(p: int, ks) -> list[int]:
    """Basis indices to show in a compact 2-D spectrum: the constant and cos / sin of each k
    in ks (duplicates dropped, ascending k)."""
    out = [0]
    for k in sorted({int(k) for k in ks}):
        out += [2 * k - 1, 2 * k]
    return out


# ---------------------------------------------------------------- neuron lists
def ranked_members(freq: torch.Tensor, frac: torch.Tensor, k: int) -> list[int]:
    """Neurons whose best frequency is k, best explained first (ties: lower index first)."""
    idx = (freq == k).nonzero().squeeze(1).tolist()
    return sorted(idx, key=lambda i: (-frac[i].item(), i))


def cluster_order(freq: torch.Tensor, frac: torch.Tensor, clustered: torch.Tensor, ks) -> list[int]:
    """All neurons, grouped: the clusters of the key frequencies in ks order, then clusters of
    other frequencies by k, then the unclustered; each group best explained first."""
    ks = [int(k) for k in ks]
    fq, fr, cl = freq.tolist(), frac.tolist(), clustered.tolist()  # lists: no tensor index per neuron

    def group(i: int) -> tuple:
        if not cl[i]:
            return (2, 0)
        return (0, ks.index(fq[i])) if fq[i] in ks else (1, fq[i])
    return sorted(range(len(fq)), key=lambda i: (*group(i), -fr[i], i))


# ---------------------------------------------------------------- W_L = W_out @ W_U
def wl_freq_norms(WL: torch.Tensor) -> torch.Tensor:
    """WL [N, p] neuron-to-logit map -> [N, (p-1)/2]: for each neuron, the norm of frequency k
    in its row over the output c. A clock neuron writes cos / sin(w_k c) only: one bright cell."""
    C = fourier.transform(WL.double().T)  # [p, N] coefficients over c
    e = C[1:] ** 2  # [p-1, N]
    return (e[0::2] + e[1::2]).sqrt().T.float()
