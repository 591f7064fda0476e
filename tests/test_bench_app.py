"""`python -m tools.bench_app --runs 1 --json` runs end to end and reports every number (no timing
thresholds: the budgets are measured by the benchmark, never asserted)."""
from __future__ import annotations

import importlib.util
import json

from tools.bench_app import INTERACTIONS, KEYS, TARGETS


def test_bench_app_reports_every_number(run_cli, require_chromium):
    require_chromium()
    r = run_cli("tools.bench_app", "--runs", "1", "--json", timeout=600)
    if r.returncode != 0:
        # One more try: on a loaded 2-core machine a browser interaction has been seen to stall
        # past its time limit (a whole-browser hiccup, not a wrong answer); a second failure fails.
        first = r.stdout[-1500:] + r.stderr[-1500:]
        r = run_cli("tools.bench_app", "--runs", "1", "--json", timeout=600)
        assert r.returncode == 0, "failed twice; first: " + first + "\nsecond: " + r.stdout[-2000:] + r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for k in KEYS:
        assert k in out, k
    assert out["repeats"] == 1 and out["first_paint"]["n"] == 1
    assert 0 < out["server_health_s"] < out["first_paint_s"]  # the chart comes after the server answers
    assert out["first_ask_view_s"] > 0
    for k in INTERACTIONS:
        s = out[k]
        assert s is not None, out["errors"].get(k)
        assert s["n"] == 1 and s["p50_ms"] == s["p95_ms"] == s["max_ms"] > 0
        assert s["settled"]["p50_ms"] >= s["p50_ms"]  # idle again only after the repaint
        assert out["within_targets"][k] == (s["p95_ms"] < TARGETS["interaction_p95_ms"])
    fl = out["floor"]  # the minimal app, measured in the same run
    assert fl is not None, out["errors"].get("floor")
    assert fl["n"] == 1 and 0 < fl["p50_ms"] <= fl["settled"]["p50_ms"]
    assert "floor: barest app" in r.stdout
    ffp = out["floor_first_paint"]  # and the minimal app's first paint, launched alternately
    assert ffp["n"] == 1 and ffp["p50_ms"] > 0 and "floor: barest app, first paint" in r.stdout
    assert out["within_targets"]["first_paint"] == (out["first_paint_s"] < TARGETS["first_paint_s"])
    if importlib.util.find_spec("tools.replay_timing") is None:
        assert out["replay"] is None and "replay_timing" in out["errors"]["replay"]
    else:
        assert "replay" not in out["errors"], out["errors"].get("replay")
        assert out["replay"]["scrub_p50_ms"] > 0 and out["replay"]["play_fps"] > 0
    assert "first paint" in r.stdout and "shared-step move" in r.stdout
