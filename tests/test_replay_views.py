"""grok.replay_views: the Replay page's data shaping, on a hand-made Replay with known numbers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from grok import checkpoint as ckpt
from grok import replay_views as rv
from grok.replay import METRIC_KEYS, Replay


def fake_replay() -> Replay:
    """3 frames, p = 5 (K = 2 frequencies), key frequencies [2, 1], 4 neurons, 2 stored maps."""
    F, p, N = 3, 5, 4
    metrics = {k: torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64) * (i + 1) for i, k in enumerate(METRIC_KEYS)}
    circle = torch.zeros(F, 2, p, 2)
    circle[1, 0, :, 0] = torch.arange(p).float()  # frame 1, first key frequency (k = 2): a = x
    circle[1, 1, :, 1] = -torch.arange(p).float()  # frame 1, k = 1: b = -x
    maps = torch.zeros(F, 2, p, p, dtype=torch.uint8)
    maps[2, 1, 0, 0] = 255
    return Replay(
        steps=[0, 10, 100], key_freqs=[2, 1], neurons=[3, 0], weight_steps=[0, 100], metrics=metrics,
        embed_norms=torch.tensor([[1.0, 1.0], [0.5, 2.0], [0.1, 4.0]]), unembed_norms=torch.zeros(F, 2),
        neuron_freq=torch.tensor([[1, 1, 2, 2], [1, 2, 2, 2], [2, 2, 2, 1]], dtype=torch.uint8),
        neuron_frac=torch.tensor([[0.1, 0.2, 0.3, 0.9], [0.9, 0.86, 0.2, 0.95], [0.99, 0.99, 0.99, 0.5]], dtype=torch.float16),
        circle=circle.half(), excluded_per_freq=torch.zeros(F, 2), maps=maps,
        map_range=torch.tensor([[-1.0, 1.0], [0.0, 2.0]]).expand(F, 2, 2).clone(), path=Path("fake"),
    )


def test_nearest_frame():
    steps = [0, 10, 100, 1000]
    assert [rv.nearest_frame(steps, s) for s in (0, 4, 5, 6, 54, 56, 999, 5000, -3)] == [0, 0, 0, 1, 1, 2, 3, 3, 0]
    with pytest.raises(ValueError):
        rv.nearest_frame([], 3)


def test_next_frame_wraps_or_stops():
    assert rv.next_frame(0, 3, loop=False) == (1, True)
    assert rv.next_frame(1, 3, loop=False) == (2, True)
    assert rv.next_frame(2, 3, loop=False) == (2, False)
    assert rv.next_frame(2, 3, loop=True) == (0, True)


def test_replay_long_is_the_metrics_over_frame_steps():
    r = fake_replay()
    df = rv.replay_long(r, {"train_loss": "train", "test_loss": "test"})
    assert list(df.columns) == ["step", "value", "series"]
    assert df[df.series == "train"][["step", "value"]].values.tolist() == [[0, 1.0], [10, 2.0], [100, 3.0]]
    assert df[df.series == "test"]["value"].tolist() == [2.0, 4.0, 6.0]  # test_loss is METRIC_KEYS[1]: x 2
    assert rv.replay_long(r, {"nonexistent": "x"}).empty


def test_rows_long_skips_missing_keys_per_series():
    rows = [{"step": 0, "train_loss": 3.0, "test_loss": 3.1}, {"step": 10, "train_loss": 1.0}, {"step": 20, "train_loss": 0.5, "test_loss": None}]
    df = rv.rows_long(rows, rv.LOSS_SERIES)
    assert df[df.series == "train"]["step"].tolist() == [0, 10, 20]
    assert df[df.series == "test"][["step", "value"]].values.tolist() == [[0, 3.1]]
    assert rv.rows_long([], rv.LOSS_SERIES).empty


def test_frame_summary():
    s = rv.frame_summary(fake_replay(), 1)
    assert s["step"] == 10 and s["train_loss"] == 2.0
    assert s["clustered"] == 3 and s["neurons"] == 4  # fracs 0.9, 0.86, 0.95 pass 0.85


def test_circle_frame_rows():
    df = rv.circle_frame(fake_replay(), 1)
    assert len(df) == 2 * 5
    k2 = df[df.k == 2]
    assert k2["x"].tolist() == [0, 1, 2, 3, 4] and k2["a"].tolist() == [0, 1, 2, 3, 4] and (k2["b"] == 0).all()
    k1 = df[df.k == 1]
    assert k1["b"].tolist() == [0, -1, -2, -3, -4]


def test_cluster_counts_on_a_fixed_axis():
    r = fake_replay()
    # frame 0: only neuron 3 (k = 2, 0.9) is clustered
    assert rv.cluster_counts(r, 0) == {1: 0, 2: 1, "other": 0, "unclustered": 3}
    # frame 1: neuron 0 -> k 1, neurons 1, 3 -> k 2; neuron 2 below threshold
    assert rv.cluster_counts(r, 1) == {1: 1, 2: 2, "other": 0, "unclustered": 1}
    assert list(rv.cluster_counts(r, 2)) == [1, 2, "other", "unclustered"]
    assert rv.cluster_counts(r, 2) == {1: 0, 2: 3, "other": 0, "unclustered": 1}
    assert rv.cluster_counts(r, 1, threshold=0.95) == {1: 0, 2: 1, "other": 0, "unclustered": 3}
    assert rv.max_cluster_count(r) == 3


def test_cluster_counts_other_bucket():
    r = fake_replay()
    r.key_freqs = [2]
    assert rv.cluster_counts(r, 1) == {2: 2, "other": 1, "unclustered": 1}


def test_spectrum_max_and_neuron_panels():
    r = fake_replay()
    assert rv.spectrum_max(r) == 4.0
    panels = rv.neuron_panels(r, 2)
    assert [(p_["neuron"], p_["freq"]) for p_ in panels] == [(3, 1), (0, 2)]
    assert panels[0]["frac"] == pytest.approx(0.5) and panels[1]["frac"] == pytest.approx(0.99, abs=1e-3)
    m = panels[1]["map"]
    assert m.shape == (5, 5) and m[0, 0] == pytest.approx(2.0) and np.count_nonzero(m) == 1
    assert (panels[0]["map"] == -1.0).all()


def test_replay_runs_lists_runs_with_a_replay(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d in (a, b, c):
        d.mkdir()
    (a / ckpt.REPLAY_FILE).write_bytes(b"x")
    (c / ckpt.REPLAY_FILE).write_bytes(b"x")
    found = {"a": a, "runs/b": b, "runs/c": c}
    assert rv.replay_runs(found) == ["a", "runs/c"]
    assert rv.replay_runs(found, exclude=c) == ["a"]


def test_viridis_image_colours_and_blocks():
    v = np.array([[0.0, 0.5], [1.0, 0.25]])
    img = rv.viridis_image(v, cell=3)
    assert img.shape == (6, 6, 3) and img.dtype == np.uint8
    assert img[0, 0].tolist() == [68, 1, 84]  # the minimum: dark purple
    assert img[3, 0].tolist() == [253, 231, 37]  # the maximum: yellow
    assert img[0, 3].tolist() == [33, 145, 140]  # the middle: viridis teal
    assert img[3, 3].tolist() == [59, 82, 139]  # a quarter: 3rd anchor
    assert (img[:3, :3] == img[0, 0]).all()  # each value is a 3 x 3 block
    assert (rv.viridis_image(np.full((2, 2), 7.0)) == [68, 1, 84]).all()  # constant map: no division by zero


def test_grid_image_palettes_range_and_highlight():
    from grok.images import grid_image

    v = np.array([[0.0, 1.0], [1.0, 0.0]])
    img = grid_image(v, cell=4, lo=0, hi=1, palette="redgreen")
    assert img.shape == (8, 8, 3)
    assert (img[0, 0] == [215, 48, 39]).all() and (img[0, 4] == [26, 152, 80]).all()  # wrong red, right green
    hl = grid_image(np.zeros((5, 5)), cell=3, lo=0, hi=1, highlight=(2, 2))
    magenta = (hl == [255, 0, 255]).all(-1)
    assert magenta[3, 3] and magenta[9, 9] and not magenta[7, 7]  # a frame around cell (2, 2), its inside untouched
    assert not magenta[0, 0]
