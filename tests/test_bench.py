"""`python -m grok.bench` runs end to end and reports consistent numbers (no timing thresholds:
the budgets are measured by the benchmark, never asserted)."""
from __future__ import annotations

import json

KEYS = ("plain_ms", "fast_ms", "ratio", "max_logit_diff", "analysis_ms", "ablation_ms", "eval_overhead_pct")


def _bench(run_cli, *args: str) -> tuple[dict, str]:
    r = run_cli("grok.bench", "--quick", "--json", "--threads", "1", *args, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    return json.loads(lines[-1]), r.stdout


def _check(out: dict) -> None:
    for k in KEYS:
        assert k in out, k
    assert out["plain_ms"] > 0 and out["fast_ms"] > 0
    assert out["ratio"] > 0
    assert abs(out["ratio"] - out["plain_ms"] / out["fast_ms"]) < 1e-9 * out["ratio"]
    assert 0 <= out["max_logit_diff"] <= 1e-5
    assert out["analysis_ms"] > 0
    assert out["ablation_ms"] is None or out["ablation_ms"] > 0
    assert abs(out["eval_overhead_pct"] - out["eval_ms"] / (100 * out["fast_ms"]) * 100) < 1e-9 * out["eval_overhead_pct"]
    assert out["threads"] == 1 and out["quick"] is True


def test_bench_quick_json_canonical(run_cli):
    out, text = _bench(run_cli)
    _check(out)
    assert out["p"] == 113 and out["batch"] == 3830  # the canonical full batch
    assert f"ratio: {out['ratio']:.2f}" in text
    assert "analysis:" in text and "ablation:" in text and "eval overhead:" in text


def test_bench_on_a_checkpoint(run_cli, tiny_run):
    out, _ = _bench(run_cli, "--checkpoint", str(tiny_run))
    _check(out)
    assert out["p"] == 23 and out["batch"] == int(0.3 * 23 * 23)
    assert str(tiny_run) in out["source"]


def test_bench_refuses_a_bad_checkpoint(run_cli, tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a model")
    r = run_cli("grok.bench", "--quick", "--checkpoint", str(bad))
    assert r.returncode == 2 and "error:" in r.stderr and str(bad) in r.stderr
