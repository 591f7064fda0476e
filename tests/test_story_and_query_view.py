"""grok.story (Home's computed story), grok.query_view (what Ask draws, from the model itself)
and the chart builders' honesty rules, on synthetic metrics and the hand-built clock model."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from grok import charts, story
from grok import query_view as qv
from grok.data import make_dataset
from grok.snapshot import analyse

try:
    from clock import clock_model
except ImportError:  # tests/ imported as a package
    from tests.clock import clock_model


def rows_grokking():
    """Memorised at 200, test loss peaks then collapses from ~3,000, 100 % test accuracy from 5,000."""
    out = []
    for s in range(0, 8001, 100):
        train_acc = min(1.0, s / 200) if s else 0.01
        test_acc = 0.02 if s < 3000 else min(1.0, 0.02 + (s - 3000) / 2000)
        test_loss = 5.0 if s < 3000 else max(1e-6, 5.0 * 10 ** (-(s - 3000) / 300))
        out.append({"step": s, "train_acc": train_acc, "test_acc": test_acc, "train_loss": 4.7 * (1 - train_acc) + 1e-3,
                    "test_loss": test_loss, "restricted_loss": 4.0 - s / 4000, "key_frequencies": [7, 3]})
    return out


def test_story_of_a_grokking_run():
    st = story.stages(rows_grokking(), 23)
    assert [s.name for s in st] == ["memorise", "wait", "clean-up", "grokked"]
    mem, wait, clean, grok = st
    assert mem.step == 200 and "in 200 steps" in mem.text and "1/23" in mem.text
    assert wait.start == 200 and wait.page == story.NEURONS and wait.step == (wait.start + wait.end) // 2
    assert clean.page == story.REPLAY and grok.page == story.ABLATIONS
    assert "k = 3, 7" in grok.text
    assert story.where(st, 0) is mem and story.where(st, 8000) is grok  # the last step belongs to the last stage
    assert "{step:,}" in wait.button and wait.button.format(step=1234) == "See the clock half-built at step 1,234"


def test_story_of_a_memoriser_says_so():
    rows = [{**r, "test_acc": 0.03, "test_loss": 9.0} for r in rows_grokking()]
    st = story.stages(rows, 113)
    assert [s.name for s in st] == ["memorise", "no generalisation"]
    assert "never builds a clock" in st[1].text and "3.0 %" in st[1].text


def test_story_of_a_run_that_has_not_memorised():
    rows = [{"step": s, "train_acc": 0.3, "test_acc": 0.01, "train_loss": 3.0, "test_loss": 5.0} for s in (0, 10, 20)]
    st = story.stages(rows, 23)
    assert [s.name for s in st] == ["still memorising"] and "30.0 %" in st[0].text
    assert story.stages([], 23) == []


def test_read_metrics_skips_bad_lines(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 0, "train_acc": 0.1}\nnot json\n[1, 2]\n{"step": 10}\n')
    assert [r["step"] for r in story.read_metrics(tmp_path)] == [0, 10]
    assert story.read_metrics(tmp_path / "missing") == []


# ---------------------------------------------------------------- the clock model through query_view
@pytest.fixture(scope="module")
def clock_analysis():
    p, ks = 23, (3, 7)
    return p, ks, analyse(clock_model(p, ks), make_dataset(p, 0.3, 0))


def test_clock_model_has_a_clock_at_its_frequencies(clock_analysis):
    p, ks, a = clock_analysis
    v = qv.clock_verdict(a)
    assert v.has_clock and sorted(v.key_freqs) == list(ks) and v.share > 0.95
    assert qv.shown_freqs(a) == v.freqs


def test_the_models_own_clock_adds_angles(clock_analysis):
    p, ks, a = clock_analysis
    for x, y in ((0, 0), (5, 11), (22, 22), (13, 4)):
        assert qv.model_answer(a, x, y) == (x + y) % p
        gaps = dict(qv.clock_agreement(a, ks, x, y))
        assert all(g < 1.0 for g in gaps.values()), gaps  # x's and y's angles add to the answer's, in degrees
        pts = pd.DataFrame(qv.clock_points(a, ks, x, y))
        assert set(pts["point"]) == {"x", "y", "angles of x and y added", "model's answer"}
        assert len(pts) == 4 * len(ks)
    assert all(r < 0.02 for _, r in qv.circle_roundness(a, ks))  # the numbers lie on circles
    ang, _ = qv.embedding_angles(a, ks)
    w = 2 * math.pi * np.array(ks)[:, None] / p
    d = np.mod(ang - w * np.arange(p), 2 * np.pi)
    d2 = np.mod(ang + w * np.arange(p), 2 * np.pi)  # the embedding may turn either way
    assert all(min(np.abs(np.angle(np.exp(1j * d[i]))).max(), np.abs(np.angle(np.exp(1j * d2[i]))).max()) < 1e-3 for i in range(len(ks)))


def test_votes_sum_peaks_at_the_answer(clock_analysis):
    p, ks, a = clock_analysis
    v, total = qv.votes(a, ks, 4, 9)
    assert v.shape == (len(ks), p) and total == pytest.approx(v.sum(0))
    assert int(total.argmax()) == 13


def test_top_table_keeps_rounded_probabilities_readable(clock_analysis):
    p, ks, a = clock_analysis
    t = qv.top_table(a, 4, 9, n=3)
    assert [r["answer"] for r in t][0] == 13 and t[0]["correct"]
    assert t[0]["log-probability"] <= 0 and t[0]["log-probability"] >= t[1]["log-probability"]
    assert t[0]["logit"] > t[1]["logit"]
    assert qv.fmt_prob(0.99999993) == "1 − 7.0e-08" and qv.fmt_prob(3e-9) == "3.0e-09" and qv.fmt_prob(0.5) == "50.0 %"
    assert qv.fmt_prob(1.0) == "100 %" and qv.fmt_prob(0.0) == "0"


# ---------------------------------------------------------------- chart honesty
def test_spectrum_labels_key_frequencies_only_when_given():
    vals = np.arange(1, 12, dtype=float)
    none = json.dumps(charts.spectrum(vals, [], "norm").to_dict())
    assert "key frequency" not in none
    forming = json.dumps(charts.spectrum(vals, [], "norm", candidates=[3]).to_dict())
    assert "strongest (no clock yet)" in forming and "key frequency" not in forming
    keyed = charts.spectrum(vals, [3], "norm", selected=[3, 4], select="bar").to_dict()
    assert "key frequency" in json.dumps(keyed) and keyed["params"][0]["name"] == "bar"


def test_votes_layout_has_each_frequency_the_sum_and_the_answers():
    v = np.vstack([np.ones(5), np.arange(5.0)])  # [K, p]
    lay = charts.votes_layout(v, [1, 2], 3, total=v.sum(axis=0), model_answer=4)
    assert lay["p"] == 5 and [s["name"] for s in lay["series"]] == ["1", "2"]
    assert lay["series"][1]["values"] == [0.0, 1.0, 2.0, 3.0, 4.0] and lay["total"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert len({s["colour"] for s in lay["series"]}) == 2  # a colour per frequency
    assert [(m["c"], m["label"]) for m in lay["marks"]] == [(3, "true answer 3"), (4, "model's answer 4")]
    right = charts.votes_layout(v, [1, 2], 3, total=v.sum(axis=0), model_answer=3)
    assert [m["c"] for m in right["marks"]] == [3]  # one rule when the model is right
    none = charts.votes_layout(np.zeros((0, 5)), [], 2, total=np.zeros(5))
    assert none["series"] == [] and none["p"] == 5


def test_pair_logits_layout_names_its_three_curves_and_the_answer():
    lay = charts.pair_logits_layout(np.arange(4.0), np.ones(4), -np.ones(4), answer=2)
    assert lay["p"] == 4 and lay["total"] is None and lay["legend"] == "" and lay["prefix"] == ""
    assert [s["name"] for s in lay["series"]] == ["model's logits (centred)", "ideal clock (fitted a_k)", "mean(a_k) · sum_k cos(w_k(x+y−c))"]
    assert [s["values"] for s in lay["series"]] == [[0.0, 1.0, 2.0, 3.0], [1.0] * 4, [-1.0] * 4]
    assert [s["dash"] for s in lay["series"]] == [None, None, "5 3"]  # only the unweighted sum is dashed
    assert [(m["c"], m["label"]) for m in lay["marks"]] == [(2, "true answer 2")]


def test_pruning_layout_places_train_and_test_at_the_pruned_counts():
    lay = charts.pruning_layout([0, 16, 32, 40], [1.0, 0.9, 0.5, 0.1], [0.99, 0.8, 0.4, 0.0], chosen=2)
    assert lay["p"] == 4 and lay["xValues"] == [0, 16, 32, 40]  # the points sit at their counts (the last gap is shorter)
    assert [s["name"] for s in lay["series"]] == ["train", "test"] and lay["series"][1]["values"] == [0.99, 0.8, 0.4, 0.0]
    assert [(m["c"], m["label"]) for m in lay["marks"]] == [(2, "32 pruned")] and lay["total"] is None


def test_clock_half_width_holds_the_ring_and_every_point():
    ring_only = [{"cos": 1.0, "sin": 0.0}, {"cos": 0.0, "sin": -1.0}]
    assert charts.clock_half_width(ring_only) == 1.35  # the unit ring with room around it (27 / 20 exactly, not 1.40)
    assert charts.clock_half_width([]) == 1.35
    far = ring_only + [{"cos": 0.2, "sin": -1.6}]
    assert charts.clock_half_width(far) == 1.85  # 1.6 * 1.15 = 1.84, rounded up to 0.05
    assert charts.clock_half_width([{"cos": -3.0, "sin": 0.5}]) >= 3.0 * 1.15
