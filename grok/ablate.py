"""Frequency ablations: remove (or keep only) a set of Fourier frequencies at one site of the
model and see what the grid logits, losses and per-pair correctness become.

Sites, for a set S of frequencies k (1 <= k <= (p-1)/2) and P_S = F_S^T F_S, the orthogonal
projector of R^p onto the cos / sin rows of S (P_S+ adds the constant row):
- "embedding": W_E's number rows, W_E[:p] -> (I - P_S) W_E[:p] ("remove") or P_S+ W_E[:p]
  ("keep": the constant and S). The "=" row is untouched; the whole model then runs again
  (attention included), on a copy.
- "neurons": the MLP's post-ReLU activations over the grid, A [p, p, d_mlp] indexed (x, y).
  "remove" applies Q = I - P_S on both axes, A -> Q A Q^T: this zeroes exactly the 2-D
  coefficients (a, b) of F A F^T whose x index a or y index b is a cos / sin row of a
  frequency in S (so cos_k(x) const(y), const(x) sin_k(y), cos_k(x) cos_j(y) for any j, ...)
  and keeps the rest, the constant (0, 0) included. "keep" applies Q = P_S+ on both axes:
  only coefficients whose both indices are the constant or a frequency of S survive (this is
  "remove the complement of S"). The logits are then the unchanged rest of the logit path
  (direct path resid_mid @ W_U, b_out @ W_U, b_U, from the model's fast-path tables and the
  cached attention pattern) plus A' @ W_L. Because W_L = W_out @ W_U acts on the neuron
  axis and Q on the grid axes, A' @ W_L = Q (A @ W_L) Q^T: the projection is applied to the
  neurons' [p, p, p] logit contribution A @ W_L = logits - direct, which is cheaper than
  projecting [p, p, d_mlp] and identical (no forward pass, no [p*p, d_mlp] matmul).
- "logits": the grid logits themselves, along the directions cos / sin(w_k (x + y)):
  "remove" = measures.excluded_logits, "keep" = measures.restricted_logits (with the
  per-class mean added back), the two progress measures of Nanda et al.

The model is never modified. Callers that already hold the grid activations pass `acts`
to skip the forward pass (the app caches them per checkpoint).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from . import fourier, measures
from .data import Dataset
from .fastbag import table_rows
from .model import Transformer

SITES = ("embedding", "neurons", "logits")
MODES = ("remove", "keep")


@dataclass
class Ablation:
    site: str
    freqs: list[int]
    mode: str
    logits: torch.Tensor  # [p*p, p] float32, after the ablation
    correct: torch.Tensor  # [p, p] bool, after
    correct_before: torch.Tensor  # [p, p] bool
    metrics_before: dict = field(default_factory=dict)  # measures.loss_acc: train/test/all loss and acc
    metrics_after: dict = field(default_factory=dict)

    @property
    def broken(self) -> torch.Tensor:
        """[p, p] bool: pairs right before the ablation and wrong after."""
        return self.correct_before & ~self.correct

    @property
    def fixed(self) -> torch.Tensor:
        """[p, p] bool: pairs wrong before and right after (rare, but possible)."""
        return ~self.correct_before & self.correct


def check_freqs(p: int, freqs) -> list[int]:
    """Sorted unique frequencies, each an integer in 1..(p-1)/2, or a ValueError naming the bad one."""
    out = set()
    K = fourier.n_freqs(p)
    for k in freqs:
        if isinstance(k, bool) or int(k) != k or not 1 <= int(k) <= K:
            raise ValueError(f"frequency {k!r} is not an integer in 1..{K} (p = {p})")
        out.add(int(k))
    return sorted(out)


def freqs_text(freqs) -> str:
    """A frequency set as the link writes it, ?freqs=1,8,21 (sorted)."""
    return ",".join(map(str, sorted(int(k) for k in freqs)))


def freq_basis(p: int, freqs, keep: bool, dtype=torch.float32, device=None) -> torch.Tensor:
    """U [p, r]: orthonormal columns spanning cos / sin of each frequency, plus the constant
    when keep: what "remove" projects out, or what "keep" keeps."""
    rows = ([0] if keep else []) + [r for k in freqs for r in (2 * k - 1, 2 * k)]
    return fourier.basis(p, dtype, device)[rows].T


def projector(p: int, freqs, keep: bool, dtype=torch.float32, device=None) -> torch.Tensor:
    """[p, p] Q acting on functions of one number: I - P_S (remove) or P_S+ (keep)."""
    U = freq_basis(p, freqs, keep, torch.float64, device)
    P = U @ U.T
    Q = P if keep else torch.eye(p, dtype=torch.float64, device=device) - P
    return Q.to(dtype)


def _project_x(U: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """U U^T applied along dim 0 of A [p, p, n], in O(r p^2 n)."""
    p = A.shape[0]
    return (U @ (U.T @ A.reshape(p, -1))).reshape(A.shape)


def _project_y(U: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """U U^T applied along dim 1 of A [p, p, n]."""
    return _project_x(U, A.transpose(0, 1).contiguous()).transpose(0, 1)


# ---------------------------------------------------------------- the three sites
@torch.no_grad()
def _embedding(model: Transformer, Q: torch.Tensor) -> torch.Tensor:
    p = model.cfg.p
    m = copy.deepcopy(model)
    W = m.embed.W_E
    W[:p] = (Q.double() @ W[:p].double()).to(W.dtype)  # [p, d]: Q acts on the number axis
    return measures.grid_activations(m).logits


@torch.no_grad()
def direct_logits(model: Transformer, pattern: torch.Tensor) -> torch.Tensor:
    """[p*p, p] the part of the grid logits that does not go through the MLP neurons:
    attention output and "=" residual through W_U, plus b_out @ W_U + b_U. Computed from the
    fast-path tables with the given attention pattern [p*p, H, 3] (no forward pass)."""
    cfg = model.cfg
    p, H = cfg.p, cfg.n_heads
    numbers, const, _, _ = model.fast_tables()
    tok = torch.arange(p, device=pattern.device)
    idx = table_rows(tok.repeat_interleave(p), tok.repeat(p), p, H)  # [p*p, H, 2]
    w = pattern[:, :, :2].reshape(p * p, -1)  # the "=" weight is folded into the rows (fast_tables)
    bag = F.embedding_bag(idx.reshape(p * p, -1), numbers[:, cfg.d_mlp:].contiguous(), per_sample_weights=w, mode="sum")
    return bag + const[cfg.d_mlp:]


@torch.no_grad()
def _neurons(model: Transformer, acts: measures.GridActivations, ks: list[int], keep: bool) -> torch.Tensor:
    """Grid logits with the neurons' activations projected over (x, y), see the module doc.

    The neurons' logit contribution post @ W_L is taken as logits - direct_logits (both cheap
    given the cached activations; tests check it equals post @ W_L). Q A Q^T is applied in its
    low-rank form: with U [p, r] orthonormal columns spanning the projected functions,
    remove: A - U U^T A - A U U^T + U U^T A U U^T;  keep: U U^T A U U^T."""
    p = model.cfg.p
    direct = direct_logits(model, acts.pattern)  # [p*p, p]
    A = (acts.logits - direct).reshape(p, p, p)  # [x, y, c]: the neurons' part, post @ W_L
    if not keep and not ks:
        return direct + A.reshape(p * p, p)
    U = freq_basis(p, ks, keep, A.dtype, A.device)  # [p, r]
    PA = _project_x(U, A)
    PAP = _project_y(U, PA)
    out = PAP if keep else A - PA - _project_y(U, A) + PAP
    return direct + out.reshape(p * p, p)


# ---------------------------------------------------------------- entry point
@torch.no_grad()
def ablate(model: Transformer, ds: Dataset, site: str, freqs, mode: str = "remove",
           acts: measures.GridActivations | None = None) -> Ablation:
    """Ablate the frequencies `freqs` at `site` ("embedding", "neurons", "logits") by `mode`
    ("remove" them, or "keep" only them); returns logits, correctness and losses before/after."""
    if site not in SITES:
        raise ValueError(f"unknown site {site!r}: choose one of {', '.join(SITES)}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: choose 'remove' or 'keep'")
    p = model.cfg.p
    if ds.p != p:
        raise ValueError(f"the dataset is for p = {ds.p}, the model for p = {p}")
    ks = check_freqs(p, freqs)
    keep = mode == "keep"
    if acts is None:
        acts = measures.grid_activations(model)
    before = acts.logits
    dev = before.device
    if site == "logits":
        after = measures.restricted_logits(before, ks) if keep else measures.excluded_logits(before, ks)
    elif site == "embedding":
        after = _embedding(model, projector(p, ks, keep, torch.float64, dev))
    else:
        after = _neurons(model, acts, ks, keep)
    labels = ds.labels.to(dev)
    ok_before = (before.argmax(-1) == labels).reshape(p, p)
    ok_after = (after.argmax(-1) == labels).reshape(p, p)
    return Ablation(
        site=site, freqs=ks, mode=mode, logits=after.float(), correct=ok_after, correct_before=ok_before,
        metrics_before=measures.loss_acc(before, ds), metrics_after=measures.loss_acc(after, ds),
    )
