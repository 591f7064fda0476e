"""Phase detection on synthetic curves whose boundaries are known by construction."""
import math

import pytest

from grok.phases import detect, grokked_step


def curve(n=200, dt=100, mem=5, peak=20, clean=(80, 110), conv=130):
    """A grokking-shaped run: train accuracy reaches 1 at row `mem`; test loss rises to a
    peak at row `peak`, falls slowly, collapses between rows clean[0] and clean[1]."""
    rows = []
    for i in range(n):
        step = i * dt
        train_acc = min(1.0, i / mem)
        if i <= peak:
            tl = 4.7 + 15 * i / peak
        elif i < clean[0]:
            tl = 19.7 - 2 * (i - peak) / (clean[0] - peak)  # a slow drift down: still circuit formation
        elif i < clean[1]:
            f = (i - clean[0]) / (clean[1] - clean[0])
            tl = math.exp((1 - f) * math.log(17.7) + f * math.log(1e-6))
        else:
            tl = 1e-6 * (1 + 0.01 * math.sin(i))
        test_acc = 1.0 if i >= conv else (0.02 if i < clean[0] else min(0.99, (i - clean[0]) / (conv - clean[0])))
        rows.append({"step": step, "train_acc": train_acc, "test_acc": test_acc, "test_loss": tl})
    return rows


def test_grokking_run_has_four_phases_at_the_constructed_boundaries():
    ph = detect(curve())
    assert [p.name for p in ph] == ["memorisation", "circuit formation", "clean-up", "converged"]
    assert ph[0].start == 0 and ph[0].end == 500  # train acc >= 99 % at row 5
    # 10 % of the log-range fall from 19.7 to 1e-6 happens early in the collapse (rows 80..110)
    assert 8000 <= ph[1].end <= 8500
    assert ph[2].end == 13000  # converged once test acc >= 99.9 % (row 130) and the loss is near its floor
    assert ph[-1].end == 19900
    assert all(a.end == b.start for a, b in zip(ph, ph[1:]))


def test_run_that_never_generalises_has_no_clean_up():
    rows = [{"step": i * 100, "train_acc": min(1.0, i / 3), "test_acc": 0.03, "test_loss": 5 + i * 0.2} for i in range(100)]
    ph = detect(rows)
    assert [p.name for p in ph] == ["memorisation", "no generalisation"]
    assert ph[0].end == 300 and ph[1].end == 9900


def test_run_that_has_not_memorised_yet_is_all_memorisation():
    rows = [{"step": i * 10, "train_acc": 0.5, "test_acc": 0.01, "test_loss": 4.7} for i in range(10)]
    assert [(p.name, p.start, p.end) for p in detect(rows)] == [("memorisation", 0, 90)]


def test_empty_and_incomplete_rows():
    assert detect([]) == []
    assert detect([{"step": 0}]) == []


def test_grokked_step():
    rows = curve()
    assert grokked_step(rows) == 13000
    assert grokked_step(rows, threshold=0.5) == 10500  # (i - 80) / 50 >= 0.5 at row 105
    assert grokked_step([{"step": 0, "test_acc": 0.1}]) is None


def with_late_rise(rows, start=150, top=190, factor=100.0):
    """The curve() run, but its test loss climbs from the floor 1e-6 (row `start`) to
    factor x 1e-6 (row `top`) in log space, then stays there; accuracy stays 100 %."""
    out = []
    for i, r in enumerate(rows):
        r = dict(r)
        if i > start:
            f = min(1.0, (i - start) / (top - start))
            r["test_loss"] = 1e-6 * factor**f
        elif i >= 130:
            r["test_loss"] = 1e-6
        out.append(r)
    return out


def test_a_late_100_fold_rise_is_not_called_converged():
    ph = detect(with_late_rise(curve()))
    assert [p.name for p in ph] == ["memorisation", "circuit formation", "clean-up", "converged", "late test-loss rise"]
    conv, rise = ph[3], ph[4]
    assert conv.start == 13000 and conv.end == rise.start
    assert rise.start == 15000 and rise.end == 19900  # from the floor (row 150) to the end
    assert "100-fold" in rise.note and "step 15,000" in rise.note and "step 19,000" in rise.note
    assert all(a.end == b.start for a, b in zip(ph, ph[1:]))


def test_a_rise_below_ten_fold_stays_converged():
    ph = detect(with_late_rise(curve(), factor=5.0))
    assert [p.name for p in ph][-1] == "converged" and ph[-1].end == 19900


def test_late_rise_measures_the_largest_climb_over_the_running_minimum():
    from grok.phases import late_rise

    rows = [{"step": s, "test_loss": v} for s, v in enumerate([1.0, 0.1, 2.0, 0.01, 0.5, 3.0, 1.0])]
    r = late_rise(rows)
    assert (r.floor_step, r.top_step) == (3, 5) and r.factor == pytest.approx(300.0) and r.last_loss == 1.0
    assert late_rise(rows, factor=1000.0) is None
