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
from . import curves
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


# ---------------------------------------------------------------- long-format series for the replay's curves
def series_long(steps: Sequence[int], columns: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    """{label: values over steps} -> rows (step, value, series), the replay spec's curves format."""
    parts = [pd.DataFrame({"step": np.asarray(steps, dtype=np.int64), "value": np.asarray(v, dtype=float), "series": label})
             for label, v in columns.items()]
    if not parts:
        return pd.DataFrame({"step": pd.Series(dtype=np.int64), "value": pd.Series(dtype=float), "series": pd.Series(dtype=str)})
    return pd.concat(parts, ignore_index=True)


def replay_long(replay: Replay, names: Mapping[str, str]) -> pd.DataFrame:
    """Replay metrics {metric name: series label} over the frame steps."""
    return series_long(replay.steps, {label: replay.metrics[k].tolist() for k, label in names.items() if k in replay.metrics})


def rows_long(rows: Sequence[Mapping], names: Mapping[str, str]) -> pd.DataFrame:
    """Metrics rows (metrics.jsonl, or a live job's rows) {key: label} -> long format (the
    DataFrame of grok.curves.long_rows); rows without a key are skipped for that series only."""
    out = curves.long_rows(rows, names)
    return pd.DataFrame(out).astype({"step": np.int64, "value": float}) if out else series_long([], {})


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


# ---------------------------------------------------------------- the in-browser replay (wide layout)
# Every per-frame array becomes one column per frame (`p0`, `p1`, ...) of a table with one row
# per item (frequency, number, neuron): the browser picks a frame with `datum['p' + frame]`
# and touches only those rows (DESIGN "Speed": 45 ms repaint vs 135 ms for one row per
# (frame, item) and a filter). Values are rounded to small dtypes to keep the payload small.
CIRCLE_SCALE = 100  # circle coordinates travel as int16 hundredths
CIRCLE_PLANES = 3  # number circles drawn (the first key frequencies); each costs p x 2F numbers
MAP_SIDE = 64  # neuron maps larger than this are box-averaged down (113 -> 57) before encoding
MAP_LEVELS = 32  # grey levels of a neuron map PNG (palette PNG, viridis)


def _frame_columns(prefix: str, values: np.ndarray) -> dict[str, np.ndarray]:
    """[F, rows] -> {prefix + str(f): [rows]} (one column per frame)."""
    return {f"{prefix}{f}": values[f] for f in range(values.shape[0])}


CLOCK_WORDS = {"clock": "clock", "forming": "clock forming", "none": "no clock"}


def frame_clock(replay: Replay) -> list[str]:
    """[F] clock state ("clock" / "forming" / "none") of each frame by grok.verdict's rule,
    on the logit variance the FINAL model's key frequencies explain at that frame."""
    from .verdict import verdict

    share = replay.metrics["logit_var_explained"].tolist()
    return [verdict(s, replay.key_freqs).state for s in share]


def final_verdict(replay: Replay):
    """The verdict of the replay's last frame: whether its frequencies may be called key."""
    from .verdict import verdict

    return verdict(float(replay.metrics["logit_var_explained"][-1]), replay.key_freqs)


def frames_table(replay: Replay) -> pd.DataFrame:
    """One row per frame: frame, step, the headline metrics, clustered neurons, clock state."""
    n = int(replay.neuron_frac.shape[1])
    clustered = (replay.neuron_frac.float() >= CLUSTER_THRESHOLD).sum(1).numpy().astype(np.int16)  # [F]
    m = {k: replay.metrics[k].numpy().astype(np.float32) for k in
         ("train_loss", "test_loss", "train_acc", "test_acc", "logit_var_explained")}
    clock = frame_clock(replay)
    return pd.DataFrame({"frame": np.arange(len(replay.steps), dtype=np.int16), "step": np.asarray(replay.steps, dtype=np.int64),
                         **m, "clustered": clustered, "neurons": np.int16(n), "clock": clock,
                         "clock_text": [CLOCK_WORDS[c] for c in clock]})


def spectrum_wide(replay: Replay, key: Sequence[int]) -> pd.DataFrame:
    """Rows k = 1..K (is it a `key` frequency to label?), columns p0..: |W_E| norm at each frame."""
    v = replay.embed_norms.numpy().astype(np.float32)  # [F, K]
    ks = np.arange(1, v.shape[1] + 1, dtype=np.int16)
    kind = np.where(np.isin(ks, list(key)), "key", "other")
    return pd.DataFrame({"k": ks, "kind": kind, **_frame_columns("p", np.round(v, 3))})


def circle_wide(replay: Replay, planes: int = CIRCLE_PLANES) -> pd.DataFrame:
    """Rows (k, x) for the first `planes` key frequencies, columns a0.., b0..: number x's
    embedding along cos_k / sin_k at each frame, in hundredths (int16; the chart divides by
    CIRCLE_SCALE): half the bytes of float32, finer than a pixel."""
    c = replay.circle[:, :planes].float().numpy()  # [F, planes, p, 2]
    F, K, p, _ = c.shape
    q = np.clip(np.round(c * CIRCLE_SCALE), -32767, 32767).astype(np.int16)
    a, b = q[..., 0].reshape(F, K * p), q[..., 1].reshape(F, K * p)
    return pd.DataFrame({"k": np.repeat(np.asarray(replay.key_freqs[:K], dtype=np.int16), p),
                         "x": np.tile(np.arange(p, dtype=np.int16), K), **_frame_columns("a", a), **_frame_columns("b", b)})


def circle_extent(replay: Replay, planes: int = CIRCLE_PLANES) -> float:
    """The largest |coordinate| of the drawn circles over all frames: a fixed, square axis."""
    return float(replay.circle[:, :planes].float().abs().max()) if replay.circle.numel() else 1.0


def counts_wide(replay: Replay, key: Sequence[int], threshold: float = CLUSTER_THRESHOLD) -> pd.DataFrame:
    """Rows: each of the final model's frequencies (kind "key" if in `key`, else "final": not
    to be labelled key), 'other', 'unclustered'; columns n0..: neurons per bucket per frame."""
    rows = [cluster_counts(replay, f, threshold) for f in range(len(replay.steps))]
    names = list(rows[0])
    v = np.array([[r[n] for n in names] for r in rows], dtype=np.int16)  # [F, buckets]
    kind = ["key" if isinstance(n, int) and n in set(key) else "final" if isinstance(n, int) else n for n in names]
    label = [str(n) if isinstance(n, int) else n for n in names]
    return pd.DataFrame({"bucket": label, "kind": kind, **_frame_columns("n", v)})


def png_palette(index: np.ndarray, palette: np.ndarray) -> bytes:
    """[h, w] uint8 palette indices + [n, 3] uint8 colours -> an 8-bit palette PNG (no Pillow
    needed: IHDR, PLTE, IDAT with filter 0 per row, IEND)."""
    import struct
    import zlib

    h, w = index.shape

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = np.concatenate([np.zeros((h, 1), np.uint8), index.astype(np.uint8)], axis=1).tobytes()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0))
            + chunk(b"PLTE", palette.astype(np.uint8).tobytes()) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def shrink(grid: np.ndarray, side: int = MAP_SIDE) -> np.ndarray:
    """[p, p] -> box average by the smallest integer factor that makes it <= side (edge rows
    repeated to fill the last box): 113 -> 57 at side 64; small grids unchanged."""
    p = grid.shape[0]
    f = -(-p // side)
    if f <= 1:
        return grid.astype(float)
    n = -(-p // f) * f
    g = np.pad(grid.astype(float), ((0, n - p), (0, n - p)), mode="edge")
    return g.reshape(n // f, f, n // f, f).mean((1, 3))


def _map_index(u8: np.ndarray, side: int, levels: int) -> np.ndarray:
    """[p, p] uint8 (0..255) -> [s, s] palette indices 0..levels-1, s <= side."""
    return np.clip(np.round(shrink(u8, side) / 255 * (levels - 1)), 0, levels - 1).astype(np.uint8)


def _viridis_png_url(idx: np.ndarray, levels: int) -> str:
    import base64

    from .images import grid_image

    pal = grid_image(np.arange(levels, dtype=float)[None], cell=1, lo=0, hi=levels - 1)[0]  # [levels, 3] viridis
    return "data:image/png;base64," + base64.b64encode(png_palette(idx, pal)).decode("ascii")


def map_data_url(u8: np.ndarray, side: int = MAP_SIDE, levels: int = MAP_LEVELS) -> str:
    """A stored [p, p] uint8 map (0..255 over its own range) -> data:image/png;base64 URL of a
    `levels`-colour viridis PNG, at most `side` pixels a side."""
    return _viridis_png_url(_map_index(u8, side, levels), levels)


def map_strip_url(u8: np.ndarray, side: int = MAP_SIDE, levels: int = MAP_LEVELS) -> tuple[str, int]:
    """A neuron's [F, p, p] stored maps -> (one PNG data URL of all F maps stacked top to
    bottom, s = the rows of one map). Why a strip: the Replay shows frame f by moving the
    image up f * s rows inside a clip, so a scrub moves one attribute and decodes nothing
    (one image per frame re-decoded a PNG per neuron on every frame)."""
    idx = np.concatenate([_map_index(m, side, levels) for m in u8], axis=0)  # [F * s, s]
    return _viridis_png_url(idx, levels), idx.shape[1]


def maps_long(replay: Replay) -> pd.DataFrame:
    """One row per (frame, stored neuron): frame, slot j, label ("n55: k = 8, 93%": its best
    frequency at that frame and the share it explains) and range (the activation range the
    colours span). Long, not wide: 2 rows x 4 columns per frame cost far fewer Arrow columns
    than 2 per frame, and filtering ~900 rows in the browser is cheap."""
    F, M = replay.maps.shape[:2]
    rows = []
    for f in range(F):
        for j, n in enumerate(replay.neurons[:M]):
            lo, hi = (float(x) for x in replay.map_range[f, j])
            rows.append((f, j, f"n{n}: k = {int(replay.neuron_freq[f, n])}, {float(replay.neuron_frac[f, n]):.0%}", f"{lo:.2g} to {hi:.2g}"))
    df = pd.DataFrame(rows, columns=["frame", "slot", "label", "range"])
    return df.astype({"frame": np.int16, "slot": np.int16})


def maps_strips(replay: Replay, side: int = MAP_SIDE, levels: int = MAP_LEVELS) -> pd.DataFrame:
    """One row per stored neuron: slot j and url, its maps over every frame as one strip
    (map_strip_url). The PNG encoding is the slow part: cache the result."""
    maps = replay.maps.numpy()  # [F, M, p, p]
    urls = [map_strip_url(maps[:, j], side, levels)[0] for j in range(maps.shape[1])]
    return pd.DataFrame({"slot": np.arange(len(urls), dtype=np.int16), "url": urls})


# ---------------------------------------------------------------- jump to a phase boundary
JUMPS = (
    ("memorisation ends", "train accuracy first reaches 99 % (the end of the memorisation phase)"),
    ("circuit forms", "the test loss starts to collapse (circuit formation ends, clean-up begins)"),
    ("grokking", "test accuracy first reaches 99 %"),
    ("converged", "test accuracy >= 99.9 % and the test loss within 10 % (log) of its minimum"),
)


def jump_points(phases: Sequence, rows: Sequence[Mapping], steps: Sequence[int]) -> list[dict]:
    """The "jump to" targets of a run: [{label, rule, step, frame}] in JUMPS order, from the
    grok.phases boundaries (and the first eval step with test accuracy >= 99 %); step and
    frame are None for a boundary the run never reaches (a run that only memorises)."""
    from .phases import grokked_step

    start = {p.name: p.start for p in phases}
    at = {
        "memorisation ends": start.get("circuit formation", start.get("no generalisation")),
        "circuit forms": start.get("clean-up"),
        "grokking": grokked_step(list(rows), 0.99) if "clean-up" in start else None,
        "converged": start.get("converged"),
    }
    return [{"label": label, "rule": rule, "step": at[label],
             "frame": None if at[label] is None else nearest_frame(steps, at[label])} for label, rule in JUMPS]
