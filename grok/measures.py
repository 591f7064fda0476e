"""Progress measures of Nanda et al. on any checkpoint: pure functions, tensors in, tensors or
small dicts out. Definitions follow ../shared/REFERENCE.md; all losses use a float64 log-softmax.

Grid convention: pair i is (x, y) = (i // p, i % p); `[p*p, ...]` tensors reshape to `[p, p, ...]`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import fourier
from .data import Dataset, grid_tokens
from .model import Transformer

CLUSTER_THRESHOLD = 0.85  # a neuron is "clustered" when one frequency explains this much
KEY_FREQ_SHARE = 0.01  # a key frequency carries at least this share of the logits' energy along all (x+y) waves
KEY_FREQ_MAX = 8


@dataclass
class GridActivations:
    """The last position's activations over the whole p x p grid, in grid order."""

    logits: torch.Tensor  # [p*p, p]
    pre: torch.Tensor  # [p*p, d_mlp] MLP pre-activation
    post: torch.Tensor  # [p*p, d_mlp] after ReLU
    pattern: torch.Tensor  # [p*p, H, 3] attention from "=" to x, y, "="


@torch.no_grad()
def grid_activations(model: Transformer) -> GridActivations:
    """One batched pass over all p^2 pairs (the exact fast path; equal to run_with_cache's)."""
    p = model.cfg.p
    tok = grid_tokens(p).to(model.embed.W_E.device)
    logits, pre, pattern = model.fast_forward(tok[:, 0], tok[:, 1])
    return GridActivations(logits, pre, pre.clamp_min(0), pattern)


# ---------------------------------------------------------------- losses
def nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[B, p], [B] -> per-example negative log-likelihood [B] (float64)."""
    return -logits.double().log_softmax(-1).gather(1, labels[:, None]).squeeze(1)


def loss_acc(logits: torch.Tensor, ds: Dataset) -> dict:
    """Loss and accuracy of grid logits [p*p, p] on train / test / all pairs."""
    l = nll(logits, ds.labels)
    c = (logits.argmax(-1) == ds.labels).double()
    m = ds.train_mask
    return {
        "train_loss": l[m].mean().item(), "test_loss": l[~m].mean().item(), "all_loss": l.mean().item(),
        "train_acc": c[m].mean().item(), "test_acc": c[~m].mean().item(), "all_acc": c.mean().item(),
    }


# ---------------------------------------------------------------- Fourier views of the weights
@torch.no_grad()
def embed_freq_norms(model: Transformer) -> torch.Tensor:
    """[(p-1)/2] norm of each frequency k = 1.. in W_E's number rows."""
    return fourier.freq_norms(model.embed.W_E[: model.cfg.p].double()).float()


@torch.no_grad()
def W_L(model: Transformer) -> torch.Tensor:
    """[d_mlp, p] neuron-to-logit map W_out @ W_U."""
    return model.mlp.W_out @ model.unembed.W_U


@torch.no_grad()
def unembed_freq_norms(model: Transformer) -> torch.Tensor:
    """[(p-1)/2] norm of each frequency in W_L over the output class c."""
    return fourier.freq_norms(W_L(model).T.double()).float()


def gini(c: torch.Tensor) -> torch.Tensor:
    """Gini coefficient (Hurley & Rickard 2009) of non-negative values c [N]: 0 flat, -> 1 sparse."""
    c = c.double().sort().values
    N = c.numel()
    k = torch.arange(1, N + 1, dtype=torch.float64, device=c.device)
    total = c.sum()
    if total <= 0:
        return torch.tensor(0.0, dtype=torch.float64)
    return 1 - 2 * ((c / total) * (N - k + 0.5) / N).sum()


@torch.no_grad()
def weight_norm(model: Transformer) -> float:
    """Total sum of squared weights (what weight decay shrinks)."""
    return sum((w.double() ** 2).sum() for w in model.weights().values()).item()


# ---------------------------------------------------------------- key frequencies and the logits
def logit_freq_energy(logits: torch.Tensor) -> torch.Tensor:
    """[(p-1)/2] energy of the grid logits [p*p, p] along cos / sin(w_k (x + y)), per k.

    That energy is |D_k^T L|^2 with D_k the two unit grid directions of frequency k:
    how much of the logits is a function of (x + y) at frequency k."""
    p = logits.shape[1]
    D = fourier.sum_directions(p, range(1, fourier.n_freqs(p) + 1), torch.float32, logits.device)  # [p*p, p-1]
    proj = (D.T @ logits.float()).double()  # [p-1, p]
    e = (proj**2).sum(-1)
    return (e[0::2] + e[1::2]).float()


def key_frequencies(logits: torch.Tensor) -> list[int]:
    """The key frequencies, by a deterministic rule.

    Rule: rank k = 1..(p-1)/2 by the energy of the grid logits along cos(w_k(x+y)) and
    sin(w_k(x+y)) (`logit_freq_energy`), and keep, in that order, every k that carries at
    least 1 % of the summed energy of all k, at most 8. Ties break towards the smaller k.
    A grokked model concentrates its logits on a few frequencies (3 to 7), though not evenly:
    a share of the total (rather than of the top frequency) keeps a minor key frequency
    that one dominant frequency would hide. A memorising model spreads its logits, so early
    in training the rule returns up to 8 weak ones."""
    e = logit_freq_energy(logits)
    order = sorted(range(e.numel()), key=lambda i: (-e[i].item(), i))
    total = e.sum().item()
    keys = [i + 1 for i in order if total > 0 and e[i].item() >= KEY_FREQ_SHARE * total]
    return keys[:KEY_FREQ_MAX] or [order[0] + 1]


def project_key(logits: torch.Tensor, ks) -> torch.Tensor:
    """[p*p, p] the part of the logits along cos / sin(w_k (x + y)) for k in ks: D D^T L."""
    p = logits.shape[1]
    D = fourier.sum_directions(p, ks, torch.float64, logits.device)  # [p*p, 2K]
    L = logits.double()
    return D @ (D.T @ L)


def restricted_logits(logits: torch.Tensor, ks) -> torch.Tensor:
    """Keep only the key-frequency part of the logits, plus the per-class mean over the grid
    of the same checkpoint's logits (the bias correction of the paper)."""
    return project_key(logits, ks) + logits.double().mean(0, keepdim=True)


def excluded_logits(logits: torch.Tensor, ks) -> torch.Tensor:
    """Remove the key-frequency part of the logits (no bias correction)."""
    return logits.double() - project_key(logits, ks)


def restricted_loss(logits: torch.Tensor, ds: Dataset, ks) -> float:
    """Loss of the restricted logits on all pairs (falls before test loss does)."""
    return nll(restricted_logits(logits, ks), ds.labels).mean().item()


def excluded_loss(logits: torch.Tensor, ds: Dataset, ks) -> float:
    """Loss of the excluded logits on the training pairs (rises in circuit formation)."""
    m = ds.train_mask
    return nll(excluded_logits(logits, ks)[m], ds.labels[m]).mean().item()


def excluded_loss_per_freq(logits: torch.Tensor, ds: Dataset, ks) -> dict[int, float]:
    return {int(k): excluded_loss(logits, ds, [k]) for k in ks}


def logit_var_explained(logits: torch.Tensor, ks) -> float:
    """Fraction of the centred logits' variance along the key cos(w_k(x+y-c)) terms.

    One direction per k in [p*p, p] logit space, the unit cube cos(w_k(x+y-c)) / sqrt(p^3/2)
    = (d_cos (x) u_cos + d_sin (x) u_sin) / sqrt(2), with d the unit grid directions of
    `sum_directions` and u the unit cos / sin rows of the basis over c; the K directions are
    orthonormal, so the explained energy is the sum of the squared coefficients. (Projecting
    each class's logits on cos / sin(w_k(x+y)) separately would span 2p directions per k and
    also count terms like cos(w_k(x+y)) g(c) that are not the clock's.) Computed per
    frequency from D^T L [2K, p], never as a p x p x p cube."""
    p = logits.shape[1]
    Lc = logits.double() - logits.double().mean(0, keepdim=True)
    total = (Lc**2).sum()
    if total <= 0 or not len(ks):
        return 0.0
    ks = [int(k) for k in ks]
    P = fourier.sum_directions(p, ks, torch.float64, logits.device).T @ Lc  # [2K, p]
    F = fourier.basis(p, torch.float64, logits.device)
    U = torch.stack([F[r] for k in ks for r in (2 * k - 1, 2 * k)])  # [2K, p] unit cos / sin over c
    coef = (P * U).sum(-1).reshape(len(ks), 2).sum(-1) / 2**0.5  # [K]
    return ((coef**2).sum() / total).item()


# ---------------------------------------------------------------- neurons
@torch.no_grad()
def neuron_spectra(post: torch.Tensor, p: int) -> torch.Tensor:
    """post [p*p, N] -> 2-D Fourier coefficients of each centred neuron, [p, p, N]."""
    A = post.float().reshape(p, p, -1)
    A = A - A.mean((0, 1), keepdim=True)
    return fourier.transform_2d(A)


@torch.no_grad()
def neuron_freq_fractions(post: torch.Tensor, p: int) -> torch.Tensor:
    """[(p-1)/2, N] fraction of each centred neuron's energy in the 3x3 block {0, 2k-1, 2k}^2."""
    S = neuron_spectra(post, p) ** 2  # [p, p, N]
    total = S.sum((0, 1)).clamp_min(1e-30)  # [N]
    K, N = fourier.n_freqs(p), S.shape[-1]
    blocks = S[1:, 1:].reshape(K, 2, K, 2, N)
    inner = torch.diagonal(blocks, dim1=0, dim2=2).sum((0, 1))  # [N, K]: {cos k, sin k}^2
    row0 = S[0, 1:].reshape(K, 2, N).sum(1)  # [K, N]: const(x) * {cos k, sin k}(y)
    col0 = S[1:, 0].reshape(K, 2, N).sum(1)  # [K, N]
    return ((inner.T + row0 + col0 + S[0, 0]) / total).float()


@dataclass
class NeuronClusters:
    freq: torch.Tensor  # [N] long: each neuron's best frequency k (1..)
    frac: torch.Tensor  # [N] fraction of its variance that frequency explains
    threshold: float = CLUSTER_THRESHOLD

    @property
    def clustered(self) -> torch.Tensor:  # [N] bool
        return self.frac >= self.threshold

    def counts(self) -> dict[int, int]:
        """{k: number of clustered neurons of frequency k}, largest first."""
        ks = self.freq[self.clustered]
        c = torch.bincount(ks).tolist() if ks.numel() else []
        return dict(sorted(((k, n) for k, n in enumerate(c) if n), key=lambda t: (-t[1], t[0])))


@torch.no_grad()
def neuron_clusters(post: torch.Tensor, p: int, threshold: float = CLUSTER_THRESHOLD) -> NeuronClusters:
    fr = neuron_freq_fractions(post, p)  # [K, N]
    frac, arg = fr.max(0)
    return NeuronClusters(arg + 1, frac, threshold)


# ---------------------------------------------------------------- everything the trainer logs
@torch.no_grad()
def progress_measures(model: Transformer, ds: Dataset, logits: torch.Tensor | None = None, ks=None,
                      acts: GridActivations | None = None) -> dict:
    """The measures logged at every eval. Key frequencies are this checkpoint's own unless
    `ks` is given (the replay passes the final model's, as the paper's curves do).
    Pass `acts` when the caller already ran the grid forward."""
    acts = grid_activations(model) if acts is None else acts
    logits = acts.logits if logits is None else logits
    p = model.cfg.p
    ks = key_frequencies(logits) if ks is None else [int(k) for k in ks]
    cl = neuron_clusters(acts.post, p)
    return {
        "key_frequencies": ks,
        "restricted_loss": restricted_loss(logits, ds, ks),
        "excluded_loss": excluded_loss(logits, ds, ks),
        "gini_embed": gini(embed_freq_norms(model)).item(),
        "gini_unembed": gini(unembed_freq_norms(model)).item(),
        "clustered_fraction": cl.clustered.float().mean().item(),
        "logit_var_explained": logit_var_explained(logits, ks),
    }
