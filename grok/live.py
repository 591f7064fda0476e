"""What the Train page draws while a run trains: the replay's panels from the latest snapshot.

Why from the snapshot files and not from the training thread: the trainer already writes its
weights on the replay's schedule (dense early), atomically, so the page can read the newest one
whenever it refreshes without slowing the training down or sharing tensors across threads. One
full-grid analysis of a p <= 59 model takes a few ms; the page keeps the last frame per
(run, step), so a refresh with no new snapshot costs nothing.

Labels follow grok.verdict: the strongest frequencies are called "key" only under a clock.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import checkpoint as ckpt
from . import measures, verdict
from .config import TrainConfig
from .replay import circle_coords

CIRCLE_PLANES = 3  # number circles drawn (the strongest frequencies)


@dataclass(frozen=True)
class LiveFrame:
    step: int
    verdict: verdict.ClockVerdict
    embed_norms: np.ndarray  # [p // 2] embedding norm per frequency k = 1..
    circle: pd.DataFrame  # rows (k, a, b, x) for charts.number_circle
    counts: dict  # {k: neurons} of the clustered neurons, then "unclustered"
    clustered: int
    neurons: int


def latest_step(folder) -> int | None:
    steps = ckpt.snapshot_steps(folder)
    return steps[-1] if steps else None


@torch.no_grad()
def frame(folder, cfg: TrainConfig, step: int | None = None) -> LiveFrame | None:
    """The panels of the snapshot at `step` (default: the newest readable one), or None if the
    run has none yet."""
    steps = ckpt.snapshot_steps(folder) if step is None else [step]
    for s in reversed(steps[-2:]):  # the newest; the one before if the newest is half-visible
        try:
            model = ckpt.load_snapshot(folder, s, cfg)
        except (ckpt.CheckpointError, OSError):
            continue
        return of_model(model, s)
    return None


@torch.no_grad()
def of_model(model, step: int) -> LiveFrame:
    p = model.cfg.p
    acts = measures.grid_activations(model)
    v = verdict.of_logits(acts.logits)
    ks = list(v.freqs[:CIRCLE_PLANES])
    c = circle_coords(model, ks).numpy() if ks else np.zeros((0, p, 2), dtype=np.float32)  # [K, p, 2]
    circle = pd.DataFrame({
        "k": np.repeat(np.asarray(ks, dtype=np.int64), p),
        "a": c[:, :, 0].ravel(), "b": c[:, :, 1].ravel(),
        "x": np.tile(np.arange(p), len(ks)),
    })
    cl = measures.neuron_clusters(acts.post, p)
    counts: dict = dict(cl.counts())
    n_clustered = int(cl.clustered.sum())
    counts["unclustered"] = int(cl.freq.numel()) - n_clustered
    return LiveFrame(step, v, measures.embed_freq_norms(model).numpy(), circle, counts, n_clustered, int(cl.freq.numel()))


def replay_ready(folder) -> bool:
    return (Path(folder) / ckpt.REPLAY_FILE).exists()
