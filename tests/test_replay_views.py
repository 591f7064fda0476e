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
    from grok import palette
    from grok.images import grid_image

    v = np.array([[0.0, 1.0], [1.0, 0.0]])
    img = grid_image(v, cell=4, lo=0, hi=1, palette="rightwrong")
    assert img.shape == (8, 8, 3)
    hexes = ["#" + "".join(f"{c:02X}" for c in img[0, 0]), "#" + "".join(f"{c:02X}" for c in img[0, 4])]
    assert hexes == [palette.WRONG, palette.RIGHT]  # wrong vermillion, right blue
    hl = grid_image(np.zeros((5, 5)), cell=6, lo=0, hi=1, highlight=(2, 2))
    black = (hl == 0).all(-1)
    assert black[12, 12] and black[17, 17] and black[12, 17]  # a frame inside cell (2, 2): pixels 12..17
    assert not black[11, 11] and not black[18, 18] and not black[0, 0]  # nothing outside it


# ---------------------------------------------------------------- the in-browser replay's tables
def with_share(r: Replay, shares) -> Replay:
    """The fake replay with chosen logit variance shares per frame (the clock readout's input)."""
    r.metrics["logit_var_explained"] = torch.tensor(shares, dtype=torch.float64)
    return r


def test_frame_clock_follows_the_verdict_rule():
    r = with_share(fake_replay(), [0.05, 0.3, 0.8])  # below 10 %, between, above 50 %
    assert rv.frame_clock(r) == ["none", "forming", "clock"]
    t = rv.frames_table(r)
    assert t["step"].tolist() == [0, 10, 100] and t["frame"].tolist() == [0, 1, 2]
    assert t["clock_text"].tolist() == ["no clock", "clock forming", "clock"]
    assert t["clustered"].tolist() == [1, 3, 3]  # frac >= 0.85 per frame
    assert rv.final_verdict(r).key_freqs == (2, 1)
    assert rv.final_verdict(with_share(fake_replay(), [0.0, 0.0, 0.05])).key_freqs == ()  # no clock: nothing is "key"


def test_spectrum_and_circle_are_one_column_per_frame():
    r = fake_replay()
    s = rv.spectrum_wide(r, key=(2,))
    assert s["k"].tolist() == [1, 2] and s["kind"].tolist() == ["other", "key"]
    assert s["p1"].tolist() == pytest.approx([0.5, 2.0]) and s["p2"].tolist() == pytest.approx([0.1, 4.0])
    c = rv.circle_wide(r, planes=2)
    assert len(c) == 2 * 5 and c["k"].tolist()[:5] == [2] * 5 and c["x"].tolist()[:5] == [0, 1, 2, 3, 4]
    assert c["a1"].tolist()[:5] == [0, 100, 200, 300, 400]  # hundredths: frame 1, k = 2, a = x
    assert c["b1"].tolist()[5:] == [0, -100, -200, -300, -400]  # k = 1, b = -x
    assert c["a0"].abs().sum() == 0 and str(c["a1"].dtype) == "int16"
    assert rv.circle_extent(r, 2) == pytest.approx(4.0)


def test_counts_wide_matches_cluster_counts_per_frame():
    r = fake_replay()
    c = rv.counts_wide(r, key=(1, 2))
    assert c["bucket"].tolist() == ["1", "2", "other", "unclustered"]
    assert c["kind"].tolist() == ["key", "key", "other", "unclustered"]
    for f in range(3):
        assert c[f"n{f}"].tolist() == list(rv.cluster_counts(r, f).values())
    assert rv.counts_wide(r, key=())["kind"].tolist()[:2] == ["final", "final"]  # no clock: not called key


def test_png_palette_decodes_to_the_indices():
    from PIL import Image
    import io

    idx = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)
    pal = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=np.uint8)
    im = Image.open(io.BytesIO(rv.png_palette(idx, pal)))
    assert im.size == (3, 2) and im.mode == "P"
    assert np.array(im).tolist() == idx.tolist()
    assert np.array(im.convert("RGB"))[0, 2].tolist() == [0, 0, 255]


def test_shrink_box_averages_odd_grids():
    g = np.arange(25, dtype=float).reshape(5, 5)
    s = rv.shrink(g, side=3)  # factor 2, padded to 6 by repeating the last row / column
    assert s.shape == (3, 3)
    assert s[0, 0] == pytest.approx((0 + 1 + 5 + 6) / 4)
    assert s[2, 2] == pytest.approx(24.0)  # the corner box is the last value four times
    assert rv.shrink(g, side=5).tolist() == g.tolist()  # small grids unchanged
    assert rv.shrink(np.zeros((113, 113)), 64).shape == (57, 57)


def test_maps_long_one_row_per_frame_and_neuron():
    r = fake_replay()
    m = rv.maps_long(r)
    assert len(m) == 3 * 2 and m["frame"].tolist() == [0, 0, 1, 1, 2, 2] and m["slot"].tolist() == [0, 1] * 3
    row = m[(m.frame == 2) & (m.slot == 1)].iloc[0]
    assert row["label"] == "n0: k = 2, 99%" and row["range"] == "0 to 2"


def test_maps_strips_stack_every_frame_of_a_neuron_in_one_image():
    from PIL import Image
    import base64
    import io

    r = fake_replay()  # 3 frames; only frame 2 of slot 1 has a (255) cell, at (0, 0)
    m = rv.maps_strips(r, levels=8)
    assert m["slot"].tolist() == [0, 1] and all(u.startswith("data:image/png;base64,") for u in m["url"])
    ims = [Image.open(io.BytesIO(base64.b64decode(u.split(",", 1)[1]))).convert("RGB") for u in m["url"]]
    assert [im.size for im in ims] == [(5, 15), (5, 15)]  # 5 wide, 3 frames of 5 rows stacked
    px = np.array(ims[1])
    assert px[10, 0].tolist() == [253, 231, 37]  # frame 2, row 0: the 255 cell is yellow
    assert (px[:10] == [68, 1, 84]).all() and (px[11:] == [68, 1, 84]).all()  # every other cell purple
    assert (np.array(ims[0]) == [68, 1, 84]).all()
    assert rv.map_strip_url(r.maps[:, 1].numpy(), levels=8) == (m["url"][1], 5)
    big = rv.map_strip_url(np.zeros((2, 113, 113), np.uint8))[0]
    assert Image.open(io.BytesIO(base64.b64decode(big.split(",", 1)[1]))).size == (57, 114)  # each map shrunk to 57


def test_jump_points_from_the_phases():
    from grok.phases import Phase

    phases = [Phase("memorisation", 0, 100), Phase("circuit formation", 100, 400), Phase("clean-up", 400, 900), Phase("converged", 900, 1000)]
    rows = [{"step": s, "test_acc": a} for s, a in ((0, 0.0), (300, 0.5), (500, 0.995), (900, 1.0))]
    steps = [0, 50, 120, 450, 500, 880, 1000]
    j = rv.jump_points(phases, rows, steps)
    assert [x["label"] for x in j] == ["memorisation ends", "circuit forms", "grokking", "converged"]
    assert [x["step"] for x in j] == [100, 400, 500, 900]
    assert [x["frame"] for x in j] == [2, 3, 4, 5]  # nearest frames: 120, 450, 500, 880
    memorises = rv.jump_points([Phase("memorisation", 0, 100), Phase("no generalisation", 100, 1000)], rows, steps)
    assert [x["frame"] for x in memorises] == [2, None, None, None]
