"""Everything the views of one checkpoint need, computed once on the whole grid.

The app caches one `SnapshotAnalysis` per (run, step); every page reads from it, so a widget
change never recomputes activations. Pure torch, no Streamlit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from . import fourier, measures
from .data import Dataset
from .model import Transformer


@dataclass
class SnapshotAnalysis:
    model: Transformer
    ds: Dataset
    acts: measures.GridActivations
    key_freqs: list[int]
    clusters: measures.NeuronClusters
    embed_norms: torch.Tensor  # [K]
    unembed_norms: torch.Tensor  # [K]
    metrics: dict  # loss / accuracy on train, test, all; restricted / excluded loss; Gini; weight norm
    probs_correct: torch.Tensor  # [p, p] probability the model gives the right answer
    correct: torch.Tensor  # [p, p] bool
    _memo: dict = field(default_factory=dict, repr=False, compare=False)  # per-checkpoint results: predictions, k -> vote_projection

    @property
    def p(self) -> int:
        return self.model.cfg.p

    def predictions(self) -> torch.Tensor:
        """[p*p] the model's answer to every pair (computed once per checkpoint)."""
        if "predictions" not in self._memo:
            self._memo["predictions"] = self.acts.logits.argmax(-1)
        return self._memo["predictions"]

    def vote_projections(self, ks) -> torch.Tensor:
        """[len(ks), 2, p] float64: the grid logits projected on cos / sin(w_k (x + y)), per k.
        They depend on the checkpoint only, so a query (x, y) is one small product each (and
        the Ask page does not redo a [p*p, p] float64 product per frequency per click)."""
        for k in ks:
            if k not in self._memo:
                self._memo[k] = vote_projection(self.acts.logits, k)
        return torch.stack([self._memo[k] for k in ks]) if ks else torch.zeros(0, 2, self.p, dtype=torch.float64)


@torch.no_grad()
def analyse(model: Transformer, ds: Dataset, key_freqs=None) -> SnapshotAnalysis:
    acts = measures.grid_activations(model)
    p = model.cfg.p
    ks = sorted(measures.key_frequencies(acts.logits) if key_freqs is None else key_freqs)  # shown in k order everywhere
    prob = acts.logits.double().softmax(-1).gather(1, ds.labels[:, None]).squeeze(1)
    en, un = measures.embed_freq_norms(model), measures.unembed_freq_norms(model)
    metrics = {
        **measures.loss_acc(acts.logits, ds),
        "restricted_loss": measures.restricted_loss(acts.logits, ds, ks),
        "excluded_loss": measures.excluded_loss(acts.logits, ds, ks),
        "gini_embed": measures.gini(en).item(), "gini_unembed": measures.gini(un).item(),
        "weight_norm": measures.weight_norm(model),
    }
    return SnapshotAnalysis(
        model, ds, acts, ks, measures.neuron_clusters(acts.post, p), en, un, metrics,
        prob.reshape(p, p).float(), (acts.logits.argmax(-1) == ds.labels).reshape(p, p),
    )


def vote_projection(logits: torch.Tensor, k: int) -> torch.Tensor:
    """[2, p] float64: D_k^T logits, with D_k [p*p, 2] the unit cos / sin(w_k (x + y)) directions."""
    D = fourier.sum_directions(logits.shape[1], [k], torch.float64, logits.device)  # [p*p, 2]
    return D.T @ logits.double()


def freq_votes(logits: torch.Tensor, ks, x: int, y: int, projections: torch.Tensor | None = None) -> torch.Tensor:
    """[len(ks), p]: the part of the logits for (x, y) that frequency k contributes, over the
    output c: the projection on cos / sin(w_k (x + y)) of the grid, which for a clock model is
    alpha_k cos(w_k (x + y - c)). `projections` [len(ks), 2, p]: vote_projection of each k, if
    already computed (SnapshotAnalysis.vote_projections)."""
    p = logits.shape[1]
    if not len(ks):
        return torch.zeros(0, p)
    P = projections if projections is not None else torch.stack([vote_projection(logits, k) for k in ks])  # [K, 2, p]
    s = (x + y) % p
    w = torch.tensor([2 * math.pi * int(k) / p for k in ks], dtype=torch.float64)  # [K]
    d = torch.stack([torch.cos(w * s), torch.sin(w * s)], 1) / (p / math.sqrt(2))  # [K, 2]: row (x, y) of each D_k
    return torch.einsum("kj,kjc->kc", d, P).float()


def clock_angles(p: int, ks, x: int, y: int) -> list[dict]:
    """Angles w_k x, w_k y, w_k (x + y) on the unit circle of each key frequency."""
    rows = []
    for k in ks:
        w = 2 * math.pi * k / p
        for label, v in (("x", x), ("y", y), ("x + y", (x + y) % p)):
            a = w * v
            rows.append({"k": k, "point": label, "value": v, "cos": math.cos(a), "sin": math.sin(a)})
    return rows


def top_predictions(logits: torch.Tensor, x: int, y: int, n: int = 5) -> list[tuple[int, float]]:
    p = logits.shape[1]
    probs = logits[x * p + y].double().softmax(-1)
    v, i = probs.topk(min(n, p))
    return list(zip(i.tolist(), v.tolist()))
