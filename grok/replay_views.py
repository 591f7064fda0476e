"""Data shaping for the Replay page: a `Replay` and a frame in, plain DataFrames / dicts out.

Kept out of the page (DESIGN: no maths in pages) and pure, so the tests can check every number
the page draws against the replay file it came from. Frames are indices into `replay.steps`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import checkpoint as ckpt
from .measures import CLUSTER_THRESHOLD
from .replay import Replay

LOSS_SERIES = {"train_loss": "train", "test_loss": "test"}
ACC_SERIES = {"train_acc": "train", "test_acc": "test"}
PROGRESS_LOSS_SERIES = {"train_loss": "train", "test_loss": "test", "restricted_loss": "restricted", "excluded_loss": "excluded"}
GINI_SERIES = {"gini_embed": "W_E", "gini_unembed": "W_L"}
NORM_SERIES = {"weight_norm": "sum of squared weights"}


# ---------------------------------------------------------------- frames and playback
def nearest_frame(steps: Sequence[int], step: int) -> int:
    """Index of the frame whose step is closest to `step` (ties go to the earlier frame)."""
    if not steps:
        raise ValueError("no frames")
    return min(range(len(steps)), key=lambda i: (abs(steps[i] - step), i))


def next_frame(i: int, n: int, loop: bool) -> tuple[int, bool]:
    """One playback tick from frame i of n: (next frame, keep playing). At the last frame a
    looping player wraps to 0, a non-looping one stays there and stops."""
    if i + 1 < n:
        return i + 1, True
    return (0, True) if loop else (n - 1, False)


# ---------------------------------------------------------------- long-format series for charts.curves
def series_long(steps: Sequence[int], columns: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    """{label: values over steps} -> rows (step, value, series), the format charts.curves takes."""
    parts = [pd.DataFrame({"step": np.asarray(steps, dtype=np.int64), "value": np.asarray(v, dtype=float), "series": label})
             for label, v in columns.items()]
    if not parts:
        return pd.DataFrame({"step": pd.Series(dtype=np.int64), "value": pd.Series(dtype=float), "series": pd.Series(dtype=str)})
    return pd.concat(parts, ignore_index=True)


def replay_long(replay: Replay, names: Mapping[str, str]) -> pd.DataFrame:
    """Replay metrics {metric name: series label} over the frame steps."""
    return series_long(replay.steps, {label: replay.metrics[k].tolist() for k, label in names.items() if k in replay.metrics})


def rows_long(rows: Sequence[Mapping], names: Mapping[str, str]) -> pd.DataFrame:
    """Metrics rows (metrics.jsonl, or a live job's rows) {key: label} -> long format; rows
    without a key are skipped for that series only."""
    out = []
    for k, label in names.items():
        have = [r for r in rows if k in r and r[k] is not None]
        if have:
            out.append(series_long([r["step"] for r in have], {label: [r[k] for r in have]}))
    return pd.concat(out, ignore_index=True) if out else series_long([], {})


# ---------------------------------------------------------------- per-frame views
def frame_summary(replay: Replay, frame: int) -> dict:
    """The headline numbers at one frame."""
    m = {k: float(v[frame]) for k, v in replay.metrics.items()}
    clustered = int((replay.neuron_frac[frame].float() >= CLUSTER_THRESHOLD).sum())
    return {"step": replay.steps[frame], **m, "clustered": clustered, "neurons": int(replay.neuron_frac.shape[1])}


def circle_frame(replay: Replay, frame: int) -> pd.DataFrame:
    """Rows (k, a, b, x): number x's embedding in the (cos_k, sin_k) plane of each key frequency,
    the format charts.number_circle takes."""
    c = replay.circle[frame].float().numpy()  # [K, p, 2]
    K, p, _ = c.shape
    return pd.DataFrame({
        "k": np.repeat(np.asarray(replay.key_freqs[:K], dtype=np.int64), p),
        "a": c[:, :, 0].ravel(), "b": c[:, :, 1].ravel(),
        "x": np.tile(np.arange(p), K),
    })


def cluster_counts(replay: Replay, frame: int, threshold: float = CLUSTER_THRESHOLD) -> dict:
    """Neurons per frequency at one frame, on a fixed axis so the bars can be compared across
    frames: every key frequency (even at 0), then 'other' (clustered on a non-key frequency)
    and 'unclustered' (no frequency explains `threshold` of the neuron's variance)."""
    freq = replay.neuron_freq[frame].long()  # [N]
    ok = replay.neuron_frac[frame].float() >= threshold  # [N]
    out: dict = {k: int(((freq == k) & ok).sum()) for k in sorted(replay.key_freqs)}
    out["other"] = int(ok.sum()) - sum(out.values())
    out["unclustered"] = int((~ok).sum())
    return out


def max_cluster_count(replay: Replay, threshold: float = CLUSTER_THRESHOLD) -> int:
    """The largest bar cluster_counts draws over all frames: a fixed y axis for the animation."""
    return max(max(cluster_counts(replay, f, threshold).values()) for f in range(len(replay.steps)))


def spectrum_max(replay: Replay) -> float:
    """The largest embedding frequency norm over all frames: a fixed y axis for the animation."""
    return float(replay.embed_norms.max())


def neuron_panels(replay: Replay, frame: int) -> list[dict]:
    """The stored neurons at one frame: index, current frequency and fraction explained, and the
    [p, p] activation map over (x, y)."""
    out = []
    for j, n in enumerate(replay.neurons):
        out.append({
            "neuron": int(n), "freq": int(replay.neuron_freq[frame, n]), "frac": float(replay.neuron_frac[frame, n]),
            "map": replay.neuron_map(frame, j).numpy(),
        })
    return out


# ---------------------------------------------------------------- which runs can be compared
def replay_runs(found: Mapping[str, Path], exclude: Path | None = None) -> list[str]:
    """Names (from grok.runs.discover) of the runs that have a replay file, minus the run in
    folder `exclude` (matched by folder: a Run's own name lacks discover's 'runs/' prefix)."""
    skip = Path(exclude).resolve() if exclude is not None else None
    return [name for name, d in found.items() if Path(d).resolve() != skip and (Path(d) / ckpt.REPLAY_FILE).exists()]


# activation maps as images: grok.images (re-exported here for the Replay page)
from .images import viridis_image  # noqa: E402,F401
