"""grok.jobs: background training jobs, their stop paths, the server-wide busy limit, pruning."""
from __future__ import annotations

import json
import os
import time
from datetime import datetime

import pytest

from grok import checkpoint as ckpt
from grok import jobs
from grok.config import ModelConfig, TrainConfig
from grok.runs import open_run

WAIT = 120  # seconds: a safety net so a broken job fails the test instead of hanging it


def cfg(p: int = 5, steps: int = 20, **kw) -> TrainConfig:
    return TrainConfig(model=ModelConfig(p=p), frac_train=0.5, steps=steps, eval_every=kw.pop("eval_every", 10), **kw)


def wait_for(pred, what: str) -> None:
    t = time.monotonic()
    while not pred():
        if time.monotonic() - t > WAIT:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def completed_flag(folder) -> bool:
    _, meta = ckpt.read_tensors(folder / ckpt.MODEL_FILE)
    return json.loads(meta["completed"])


def test_job_finishes_and_leaves_a_loadable_run(tmp_path):
    job = jobs.TrainingJob(cfg(p=7, steps=20), tmp_path / "r")
    assert job.status == jobs.PENDING and job.progress == (0, 20)
    job.start(registry=jobs.Registry(1))
    assert job.join(WAIT)
    assert job.status == jobs.DONE, job.error
    assert job.progress == (20, 20)
    assert [r["step"] for r in job.rows] == [0, 10, 20]
    run = open_run(tmp_path / "r")
    assert run.config.model.p == 7 and run.final_step == 20
    assert [r["step"] for r in run.metrics] == [0, 10, 20]
    assert run.metrics[-1]["test_loss"] == pytest.approx(job.rows[-1]["test_loss"])
    assert completed_flag(tmp_path / "r") is True
    assert run.model_at(20).cfg.p == 7
    assert job.started is not None and job.finished >= job.started


def test_stop_leaves_a_valid_partial_run(tmp_path):
    reg = jobs.Registry(1)
    job = jobs.TrainingJob(cfg(p=5, steps=100_000, eval_every=5), tmp_path / "r").start(registry=reg)
    wait_for(lambda: len(job.rows) >= 3, "three eval rows")
    job.stop()
    assert job.join(WAIT)
    assert job.status == jobs.STOPPED
    assert job.error == "stopped by the user"
    assert not reg.running()
    run = open_run(tmp_path / "r")
    assert completed_flag(tmp_path / "r") is False
    last = run.metrics[-1]["step"]
    assert 10 <= last < 100_000 and run.final_step == last
    assert job.rows[-1]["step"] == last
    assert run.model_at(None).cfg.p == 5


def test_stop_before_the_first_step_stops_after_one(tmp_path):
    job = jobs.TrainingJob(cfg(p=5, steps=1000), tmp_path / "r")
    job.stop("test")
    job.start(registry=jobs.Registry(1)).join(WAIT)
    assert job.status == jobs.STOPPED and job.error == "test"
    assert [r["step"] for r in ckpt.read_metrics(tmp_path / "r")] == [0, 1]


def test_missing_heartbeats_stop_the_job(tmp_path, monkeypatch):
    job = jobs.TrainingJob(cfg(p=5, steps=100_000, eval_every=5), tmp_path / "r", heartbeat_timeout=30)
    job.start(registry=jobs.Registry(1))
    wait_for(lambda: len(job.rows) >= 2, "two eval rows")
    assert job.is_alive()  # beats are fresh: still running
    real = time.monotonic
    monkeypatch.setattr(jobs, "_now", lambda: real() + 31)  # the tab went quiet 31 s ago
    assert job.join(WAIT)
    assert job.status == jobs.STOPPED
    assert "no heartbeat" in job.error
    assert completed_flag(tmp_path / "r") is False


def test_failing_config_surfaces_as_failed(tmp_path):
    reg = jobs.Registry(1)
    job = jobs.TrainingJob(cfg(p=4), tmp_path / "r").start(registry=reg)
    assert job.join(WAIT)
    assert job.status == jobs.FAILED
    assert "p must be an odd integer" in job.error
    assert not reg.running()  # the slot is free again
    jobs.TrainingJob(cfg(p=5, steps=1), tmp_path / "ok").start(registry=reg).join(WAIT)


def test_max_steps_caps_the_config(tmp_path):
    job = jobs.TrainingJob(cfg(p=5, steps=500), tmp_path / "r", max_steps=15)
    assert job.capped_steps and job.config.steps == 15 and job.total == 15
    job.start(registry=jobs.Registry(1)).join(WAIT)
    assert job.status == jobs.DONE
    assert ckpt.load_config(tmp_path / "r").steps == 15
    assert [r["step"] for r in job.rows] == [0, 10, 15]


def test_busy_limit(tmp_path):
    reg = jobs.Registry(1)
    a = jobs.TrainingJob(cfg(p=5, steps=100_000), tmp_path / "a").start(registry=reg)
    b = jobs.TrainingJob(cfg(p=5, steps=10), tmp_path / "b")
    with pytest.raises(jobs.BusyError, match="another training is running on this server, try again in a few minutes"):
        b.start(registry=reg)
    assert b.status == jobs.PENDING and not (tmp_path / "b").exists()
    assert reg.running() == [a]
    a.stop()
    assert a.join(WAIT)
    assert reg.running() == []
    c = jobs.TrainingJob(cfg(p=5, steps=10), tmp_path / "c").start(registry=reg)
    assert c.join(WAIT) and c.status == jobs.DONE


def test_busy_limit_of_two_allows_two(tmp_path):
    reg = jobs.Registry(2)
    a = jobs.TrainingJob(cfg(p=5, steps=100_000), tmp_path / "a").start(registry=reg)
    b = jobs.TrainingJob(cfg(p=5, steps=100_000), tmp_path / "b").start(registry=reg)
    with pytest.raises(jobs.BusyError):
        jobs.TrainingJob(cfg(p=5, steps=10), tmp_path / "c").start(registry=reg)
    for j in (a, b):
        j.stop()
        assert j.join(WAIT)


def test_run_names():
    when = datetime(2025, 1, 2, 3, 4, 5)
    assert jobs.run_name(cfg(p=23), when) == "p23-f0.5-wd1-lr0.001-s0-20250102-030405"
    gf = cfg(p=23, grokfast_alpha=0.98, grokfast_lambda=2.0, wd=0.0, seed=3)
    assert jobs.run_name(gf, when) == "p23-f0.5-wd0-lr0.001-s3-gf0.98x2-20250102-030405"


def test_new_run_dir_never_reuses_a_folder(tmp_path):
    when = datetime(2025, 1, 2, 3, 4, 5)
    first = jobs.new_run_dir(tmp_path, cfg(), when)
    first.mkdir()
    second = jobs.new_run_dir(tmp_path, cfg(), when)
    assert second.name == first.name + "-2"


def _fake_run(root, name: str, mtime: float):
    d = root / name
    d.mkdir()
    (d / ckpt.CONFIG_FILE).write_text("{}")
    os.utime(d / ckpt.CONFIG_FILE, (mtime, mtime))
    return d


def test_prune_keeps_the_newest_n(tmp_path):
    made = [_fake_run(tmp_path, f"p5-f0.5-wd1-lr0.001-s0-20250101-00000{i}", 1_000_000 + i) for i in range(6)]
    other = _fake_run(tmp_path, "mod113", 1.0)  # not made by a job: never pruned, however old
    stray = tmp_path / "p5-notes-20250101-000000"  # job-like name but no config.json
    stray.mkdir()
    protected = made[0]  # oldest, but its job is running
    removed = jobs.prune_runs(tmp_path, keep=2, protect=(protected,))
    assert sorted(removed) == sorted(made[1:4])
    left = sorted(d.name for d in tmp_path.iterdir())
    assert left == sorted([made[0].name, made[4].name, made[5].name, other.name, stray.name])
    assert jobs.prune_runs(tmp_path, keep=2, protect=(protected,)) == []
    assert jobs.prune_runs(tmp_path / "missing", keep=1) == []


def test_limits_from_env():
    local = jobs.limits({})
    assert (local.demo, local.max_steps, local.max_seconds, local.max_p) == (False, 20000, 600.0, 113)
    demo = jobs.limits({"GROK_DEMO": "1"})
    assert (demo.demo, demo.max_steps, demo.max_seconds, demo.max_p) == (True, 3000, 120.0, 59)
    assert demo.max_concurrent == 1
    custom = jobs.limits({"GROK_DEMO": "1", "GROK_MAX_STEPS": "500", "GROK_MAX_SECONDS": "30", "GROK_MAX_JOBS": "2"})
    assert (custom.max_steps, custom.max_seconds, custom.max_concurrent) == (500, 30.0, 2)
    bad = jobs.limits({"GROK_MAX_STEPS": "lots", "GROK_MAX_SECONDS": "-5", "GROK_DEMO": "0"})
    assert (bad.demo, bad.max_steps, bad.max_seconds) == (False, 20000, 600.0)
