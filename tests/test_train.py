"""The trainer: config errors from the CLI, determinism, crash-safe resume, early stops,
Grokfast, the snapshot schedule and the metrics it logs."""
from __future__ import annotations

import json
import math
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from grok import checkpoint as ckpt
from grok.train import snapshot_schedule, train

PROGRESS_KEYS = ("restricted_loss", "excluded_loss", "key_frequencies", "gini_embed", "gini_unembed", "clustered_fraction")


def _weights(folder: Path, name: str = ckpt.MODEL_FILE) -> dict[str, torch.Tensor]:
    return load_file(str(folder / name))


def _assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert set(wa) == set(wb)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), f"{k} differs between {a} and {b}"


def _metadata(path: Path) -> dict:
    data = path.read_bytes()
    return json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])["__metadata__"]


def _without_wall_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "wall_time"} for r in rows]


# ---------------------------------------------------------------- config validation via the CLI
@pytest.mark.parametrize(
    "args, names",
    [
        (["--p", "24"], ["p must be an odd integer", "24"]),
        (["--frac-train", "1.5"], ["frac_train", "1.5"]),
        (["--frac-train", "0"], ["frac_train", "0"]),
        (["--steps", "-3"], ["steps must be >= 1", "-3"]),
    ],
    ids=["p-even", "frac-above-1", "frac-zero", "steps-negative"],
)
def test_cli_rejects_bad_settings(args, names, tmp_path, run_cli):
    out = tmp_path / "run"
    r = run_cli("grok.train", "--out", str(out), "--quiet", *args)
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ")
    for n in names:
        assert n in line, line
    assert "Traceback" not in r.stderr
    assert not out.exists()  # nothing written for a refused config


def test_cli_refuses_to_overwrite_a_run(tiny_run, tmp_path, run_cli):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = {f: f.read_bytes() for f in run.rglob("*") if f.is_file()}
    r = run_cli("grok.train", "--out", str(run), "--p", "23", "--steps", "30", "--quiet")
    assert r.returncode == 2
    assert "error:" in r.stderr and "already holds a run" in r.stderr and "--resume" in r.stderr
    after = {f: f.read_bytes() for f in run.rglob("*") if f.is_file()}
    assert after == before


def test_train_refuses_to_overwrite_in_process(tiny_run, tmp_path, make_config):
    from grok.config import ConfigError

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    with pytest.raises(ConfigError, match="already holds a run"):
        train(make_config(), run, progress=False)


# ---------------------------------------------------------------- determinism
def test_same_seed_gives_bit_identical_runs(tiny_run, tmp_path, make_config):
    again = tmp_path / "again"
    train(make_config(), again, progress=False)
    _assert_same_weights(tiny_run, again)
    assert _without_wall_time(ckpt.read_metrics(again)) == _without_wall_time(ckpt.read_metrics(tiny_run))
    assert ckpt.snapshot_steps(again) == ckpt.snapshot_steps(tiny_run) == [0, 10, 20, 30]
    for s in (10, 30):
        a = load_file(str(ckpt.snapshot_path(again, s)))
        b = load_file(str(ckpt.snapshot_path(tiny_run, s)))
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_other_seed_gives_other_weights(tiny_run, tmp_path, make_config):
    other = tmp_path / "other"
    train(make_config(seed=1), other, progress=False)
    assert not torch.equal(_weights(other)["embed.W_E"], _weights(tiny_run)["embed.W_E"])


# ---------------------------------------------------------------- resume after SIGKILL
# 250 steps, evaluated (and resume state saved) every 25; the first kill comes at step >= 100.
RESUME_STEPS = 250
RESUME_ARGS = ["--p", "23", "--steps", str(RESUME_STEPS), "--eval-every", "25", "--quiet"]


@pytest.fixture(scope="module")
def start_run(start_cli):
    def start(out: Path, *extra: str) -> subprocess.Popen:
        return start_cli("grok.train", "--out", str(out), *RESUME_ARGS, *extra)

    return start


def _max_step(out: Path) -> int:
    try:
        return max((r["step"] for r in ckpt.read_metrics(out)), default=-1)
    except (ckpt.CheckpointError, OSError):
        return -1  # the file is being replaced right now


def _kill_when(proc: subprocess.Popen, out: Path, min_step: int) -> int:
    """SIGKILL the trainer once it has saved state at a step >= min_step; returns that step."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        step = _max_step(out)
        if step >= min_step and (out / ckpt.STATE_FILE).exists():
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
            assert not (out / ckpt.MODEL_FILE).exists()  # really mid-way
            return step
        if proc.poll() is not None:
            pytest.fail(f"trainer exited early ({proc.returncode}): {proc.stderr.read()}")
        time.sleep(0.005)
    proc.kill()
    pytest.fail("trainer made no progress")


def _resume(start_run, out: Path) -> None:
    proc = start_run(out, "--resume")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, start_run) -> Path:
    out = tmp_path_factory.mktemp("resume") / "uninterrupted"
    proc = start_run(out)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return out


def _check_same_run(run: Path, reference: Path) -> None:
    _assert_same_weights(run, reference)
    rows, ref_rows = ckpt.read_metrics(run), ckpt.read_metrics(reference)
    assert [r["step"] for r in rows] == list(range(0, RESUME_STEPS + 1, 25))
    assert _without_wall_time(rows) == _without_wall_time(ref_rows)
    assert ckpt.snapshot_steps(run) == ckpt.snapshot_steps(reference)
    assert json.loads(_metadata(run / ckpt.MODEL_FILE)["completed"]) is True


def test_resume_after_sigkill_is_bit_identical(uninterrupted, tmp_path, start_run):
    out = tmp_path / "killed"
    killed_at = _kill_when(start_run(out), out, 100)
    assert 100 <= killed_at < RESUME_STEPS
    _resume(start_run, out)
    _check_same_run(out, uninterrupted)


def test_resume_after_two_sigkills_is_bit_identical(uninterrupted, tmp_path, start_run):
    out = tmp_path / "killed2"
    first = _kill_when(start_run(out), out, 100)
    second = _kill_when(start_run(out, "--resume"), out, first + 50)
    assert first < second < RESUME_STEPS
    _resume(start_run, out)
    _check_same_run(out, uninterrupted)


# ---------------------------------------------------------------- stopping early
def test_stop_after_grokked(tmp_path, make_config):
    # p=23 with 90 % of pairs training and lr 1e-2 generalises within about 110 steps
    # (much smaller p such as 5 or 7 did not reach 100 % test accuracy within 600 steps).
    out = tmp_path / "groks"
    n = 7
    cfg = make_config(frac_train=0.9, lr=0.01, steps=600, eval_every=5, stop_after_grokked=n)
    row = train(cfg, out, progress=False)
    rows = ckpt.read_metrics(out)
    grokked = next(r["step"] for r in rows if r["test_acc"] >= 1.0)
    assert 0 < grokked < 600 - n
    assert row["grokked_step"] == grokked and row["step"] == grokked + n and row["completed"] is True
    assert rows[-1]["step"] == grokked + n
    meta = _metadata(out / ckpt.MODEL_FILE)
    assert json.loads(meta["step"]) == grokked + n
    assert json.loads(meta["grokked_step"]) == grokked
    assert json.loads(meta["completed"]) is True
    assert ckpt.snapshot_steps(out)[-1] == grokked + n


def test_cli_passes_stop_after_grokked():
    from grok.train import parse_args

    assert parse_args(["--out", "x", "--stop-after-grokked", "7"]).stop_after_grokked == 7
    assert parse_args(["--out", "x"]).stop_after_grokked == -1


def test_should_stop_leaves_a_loadable_partial_run(tmp_path, make_config):
    out = tmp_path / "partial"
    calls = {"n": 0}

    def stop() -> bool:  # polled once per step: ask to stop after step 13
        calls["n"] += 1
        return calls["n"] >= 13

    row = train(make_config(steps=1000), out, progress=False, should_stop=stop)
    assert row["step"] == 13 and row["completed"] is False
    meta = _metadata(out / ckpt.MODEL_FILE)
    assert json.loads(meta["completed"]) is False
    loaded = ckpt.load(out)
    assert loaded.step == 13 and loaded.config.steps == 1000
    assert [r["step"] for r in ckpt.read_metrics(out)] == [0, 10, 13]
    assert json.loads(_metadata(out / ckpt.STATE_FILE)["step"]) == 13


# ---------------------------------------------------------------- Grokfast
def test_grokfast_runs_and_changes_training(tiny_run, tmp_path, make_config):
    cfg = make_config(grokfast_alpha=0.98, grokfast_lambda=2.0)
    assert cfg.grokfast
    out = tmp_path / "gf"
    train(cfg, out, progress=False)
    plain, fast = _weights(tiny_run), _weights(out)
    assert set(plain) == set(fast)
    diff = max((plain[k] - fast[k]).abs().max().item() for k in plain if not k.endswith(("mask", "IGNORE")))
    assert diff > 1e-3
    state = _weights(out, ckpt.STATE_FILE)
    ema = {k[len("grokfast."):] for k in state if k.startswith("grokfast.")}
    assert ema == {k for k in plain if not k.endswith(("mask", "IGNORE"))}
    assert not any(k.startswith("grokfast.") for k in _weights(tiny_run, ckpt.STATE_FILE))


def test_grokfast_resume_is_bit_identical(tmp_path, make_config):
    """The EMA is part of the resume state: stopping and resuming changes nothing."""
    cfg = make_config(grokfast_alpha=0.9, grokfast_lambda=1.0)
    ref, out = tmp_path / "ref", tmp_path / "stopped"
    train(cfg, ref, progress=False)
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] >= 15

    assert train(cfg, out, progress=False, should_stop=stop)["step"] == 15
    assert train(cfg, out, progress=False, resume=True)["step"] == 30
    _assert_same_weights(out, ref)


# ---------------------------------------------------------------- snapshot schedule
def test_snapshot_schedule_default_is_dense_early():
    s = snapshot_schedule(40_000)
    assert 0 in s and 40_000 in s
    assert sorted(x for x in s if x < 200) == list(range(0, 200, 10))
    assert sorted(x for x in s if 200 <= x < 2000) == list(range(200, 2000, 50))
    assert sorted(x for x in s if x >= 2000) == list(range(2000, 40_001, 100))
    assert len(snapshot_schedule(20_000)) >= 200  # enough replay frames for a canonical-length run


def test_snapshot_schedule_always_has_first_and_last_step():
    assert snapshot_schedule(1) == {0, 1}
    assert snapshot_schedule(35) == {0, 10, 20, 30, 35}
    assert max(snapshot_schedule(1234)) == 1234 and 1230 not in snapshot_schedule(1234)
    assert snapshot_schedule(20, every=7) == {0, 7, 14, 20}


# ---------------------------------------------------------------- metrics rows
def test_metrics_rows_carry_the_progress_measures(tiny_run):
    rows = ckpt.read_metrics(tiny_run)
    assert [r["step"] for r in rows] == [0, 10, 20, 30]
    for r in rows:
        for k in PROGRESS_KEYS + ("train_loss", "test_loss", "train_acc", "test_acc", "weight_norm"):
            assert k in r, (r["step"], k)
        ks = r["key_frequencies"]
        assert 1 <= len(ks) <= 8 and len(set(ks)) == len(ks) and all(1 <= k <= 11 for k in ks)
        for k in ("restricted_loss", "excluded_loss"):
            assert math.isfinite(r[k]) and r[k] > 0
        for k in ("gini_embed", "gini_unembed", "clustered_fraction"):
            assert 0.0 <= r[k] <= 1.0
    # step 0 is the init: loss near log(p) for both splits
    assert abs(rows[0]["train_loss"] - math.log(23)) < 1.0
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]


def test_training_flushes_float32_denormals_and_restores_the_flag():
    """Inside the trainer a denormal float32 (1e-40) computes as 0 (no slow microcode path late
    in a run); outside, it is kept again."""
    from grok.train import flushed_denormals
    x = torch.tensor([1e-40], dtype=torch.float32)
    assert (x * 1.0).item() != 0.0
    with flushed_denormals(torch.device("cpu")):
        if (x * 1.0).item() != 0.0:
            pytest.skip("this CPU cannot flush denormals")
        inside = (x * 1.0).item()
    assert inside == 0.0 and (x * 1.0).item() != 0.0
    with flushed_denormals(torch.device("meta")):  # not a CPU: nothing changes
        assert (x * 1.0).item() != 0.0
