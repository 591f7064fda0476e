"""Everything the views of one checkpoint need, computed once on the whole grid.

The app caches one `SnapshotAnalysis` per (run, step); every page reads from it, so a widget
change never recomputes activations. Pure torch, no Streamlit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

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

    @property
    def p(self) -> int:
        return self.model.cfg.p


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


def freq_votes(logits: torch.Tensor, ks, x: int, y: int) -> torch.Tensor:
    """[len(ks), p]: the part of the logits for (x, y) that frequency k contributes, over the
    output c: the projection on cos / sin(w_k (x + y)) of the grid, which for a clock model is
    alpha_k cos(w_k (x + y - c))."""
    p = logits.shape[1]
    i = x * p + y
    out = []
    for k in ks:
        D = fourier.sum_directions(p, [k], torch.float64, logits.device)  # [p*p, 2]
        out.append(D[i] @ (D.T @ logits.double()))
    return torch.stack(out).float() if out else torch.zeros(0, p)


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
