"""`python -m tools.bench_app --runs 1 --json` runs end to end and reports every number (no timing
thresholds: the budgets are measured by the benchmark, never asserted)."""
from __future__ import annotations

import json


from tools.bench_app import KEYS


def test_bench_app_reports_every_number(run_cli, require_chromium):
    require_chromium()
    r = run_cli("tools.bench_app", "--runs", "1", "--json", timeout=600)
    if r.returncode != 0:
        # One more try: on a loaded 2-core machine a browser interaction has been seen to stall
        # past its time limit (a whole-browser hiccup, not a wrong answer); a second failure fails.
        first = r.stderr[-1500:]
        r = run_cli("tools.bench_app", "--runs", "1", "--json", timeout=600)
        assert r.returncode == 0, "failed twice; first: " + first + "\nsecond: " + r.stdout[-2000:] + r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for k in KEYS:
        assert k in out, k
    assert out["repeats"] == 1
    assert 0 < out["server_health_s"] < out["first_paint_s"]  # the chart comes after the server answers
    for k in ("ask", "ablation", "replay"):  # every run the benchmark picks by default has a replay
        s = out[k]
        assert s["n"] == 1 and s["median_ms"] == s["p95_ms"] == s["max_ms"] > 0
        assert out["within_targets"][k] == (s["p95_ms"] < out["targets"]["interaction_ms"])
    assert out["within_targets"]["first_paint"] == (out["first_paint_s"] < out["targets"]["first_paint_s"])
    assert "first paint" in r.stdout and "replay step" in r.stdout
