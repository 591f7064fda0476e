"""Faults a hosted demo meets: corrupt run folders, shipped files the app must never touch, a
training whose browser tab has gone, and a real server started in demo mode.

Every test here reads pretrained/ but never writes to it; user runs live in temp folders
(GROK_RUNS_DIR), so the runs/ being trained on this machine are never listed or touched.
"""
from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
import random
import shutil
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tools import appdriver as drv
from grok import atomic
from grok import checkpoint as ckpt
from grok import jobs
from grok import replay as replay_mod
from grok.config import ModelConfig, TrainConfig
from grok.runs import PRETRAINED, discover, open_run
from grok.train import train

ROOT = Path(__file__).resolve().parents[2]
WAIT = 120  # seconds: a safety net so a broken job or server fails the test instead of hanging it
PAGES = ("views/home.py", "views/query.py", "views/neurons.py", "views/ablations.py", "views/replay.py", "views/train.py")
RUN_PAGES = PAGES[1:5]  # the pages that draw the selected run (Home shows the shipped run, Train its form)
BAD = ("bad-config", "truncated-model", "half-written", "garbage-replay")
SHIPPED = sorted(d.name for d in PRETRAINED.iterdir() if (d / ckpt.CONFIG_FILE).exists()) if PRETRAINED.is_dir() else []
needs_shipped = pytest.mark.skipif(not SHIPPED, reason="pretrained/ ships no run")


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def fault_root(tmp_path_factory) -> Path:
    """A user runs folder with one good run (p = 23, 60 steps, with its replay) and four broken
    ones, each broken the way a crash, a full disk or a bad copy leaves a folder."""
    root = tmp_path_factory.mktemp("faultruns")
    good = root / "good"
    train(TrainConfig(model=ModelConfig(p=23), frac_train=0.5, lr=3e-3, steps=60, eval_every=10), good, progress=False)
    replay_mod.build(good, progress=False)

    d = root / "bad-config"  # a config.json cut short: not JSON
    shutil.copytree(good, d)
    text = (d / ckpt.CONFIG_FILE).read_text()
    (d / ckpt.CONFIG_FILE).write_text(text[: len(text) // 2])

    d = root / "truncated-model"  # the final weights cut to half their bytes, nothing else to fall back on
    d.mkdir()
    for f in (ckpt.CONFIG_FILE, ckpt.METRICS_FILE):
        shutil.copy(good / f, d / f)
    data = (good / ckpt.MODEL_FILE).read_bytes()
    (d / ckpt.MODEL_FILE).write_bytes(data[: len(data) // 2])

    d = root / "half-written"  # killed before its first weights: config and a torn metrics line
    d.mkdir()
    shutil.copy(good / ckpt.CONFIG_FILE, d / ckpt.CONFIG_FILE)
    lines = (good / ckpt.METRICS_FILE).read_text().splitlines()
    (d / ckpt.METRICS_FILE).write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])

    d = root / "garbage-replay"  # a good run whose replay file is noise
    shutil.copytree(good, d)
    (d / ckpt.REPLAY_FILE).write_bytes(random.Random(0).randbytes(4096))
    return root


@pytest.fixture
def env(monkeypatch):
    """Point the app at a user runs folder; no demo caps or other knobs from the caller's shell."""
    for k in ("GROK_DEMO", "GROK_MAX_STEPS", "GROK_MAX_SECONDS", "GROK_MAX_P", "GROK_HEARTBEAT_SECONDS", "GROK_KEEP_RUNS", "GROK_MAX_JOBS"):
        monkeypatch.delenv(k, raising=False)

    def use(root: Path) -> None:
        monkeypatch.setenv("GROK_RUNS_DIR", str(root))

    return use


def new_session(run: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=WAIT)
    if run is not None:
        at.query_params["run"] = run
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.main.error]


def exceptions(at: AppTest) -> list[str]:
    return [e.value for e in at.exception]


def snapshot(folder: Path) -> dict[str, tuple[str, int, int]]:
    """{relative path: (sha256, size, mtime_ns)} of every file under folder."""
    out = {}
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            st = f.stat()
            out[str(f.relative_to(folder))] = (hashlib.sha256(f.read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns)
    return out


# ---------------------------------------------------------------- corrupt run folders
def test_every_bad_run_is_listed_and_fails_to_open_on_its_own(fault_root):
    """The premise of the app tests below: each broken folder is discovered (it has a
    config.json) but cannot be opened, while the good one opens."""
    found = discover((PRETRAINED, fault_root))
    for name in BAD + ("good",):
        assert found[f"{fault_root.name}/{name}"] == fault_root / name
    assert open_run(fault_root / "good").final_step == 60
    for name in BAD:
        with pytest.raises(ckpt.CheckpointError):
            open_run(fault_root / name)


@pytest.mark.parametrize("bad", BAD)
def test_a_corrupt_run_shows_an_error_on_every_page_then_the_good_run_works(fault_root, env, bad):
    env(fault_root)
    bad_name, good_name = f"{fault_root.name}/{bad}", f"{fault_root.name}/good"
    at = new_session(bad_name)
    at.run()
    assert not at.exception, exceptions(at)
    # The sidebar still offers every run, the broken ones included.
    options = at.sidebar.selectbox(key="w_run").options
    assert {f"{n} (your run)" for n in BAD + ("good",)} <= set(options)  # short labels; values are full names
    assert set(SHIPPED) <= set(options)
    assert at.sidebar.selectbox(key="w_run").value == bad_name
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, exceptions(at))
        msgs = [m for m in errors(at) if bad in m and "cannot be opened" in m]
        assert msgs, (page, errors(at))
        assert any("cannot be opened" in e.value for e in at.sidebar.error), page
        if page in RUN_PAGES:
            assert not drawn(at), page  # nothing drawn for a run that did not load

    # Same session: pick the good run; every page works again.
    at.query_params["run"] = good_name
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, exceptions(at))
        assert not errors(at), (page, errors(at))
        assert not at.sidebar.error, page
        assert st_caption_has(at, "p = 23"), page  # the sidebar describes the good run
        if page in RUN_PAGES:
            assert drawn(at), page
    at.switch_page("views/query.py").run()
    assert at.metric[0].label.endswith("mod 23")


def drawn(at: AppTest) -> list:
    """The page's charts: Vega charts and the app's drawing components (grids, clocks, votes, bars)."""
    return list(at.get("vega_lite_chart")) + list(at.get("bidi_component"))


def st_caption_has(at: AppTest, text: str) -> bool:
    return any(text in c.value for c in at.sidebar.caption)


def test_comparing_with_a_run_whose_replay_is_corrupt_shows_an_error(fault_root, env):
    """The Replay page's side-by-side list offers every run with a replay file, the broken one too."""
    env(fault_root)
    at = new_session(f"{fault_root.name}/good")
    at.run()
    at.switch_page("views/replay.py").run()
    assert not at.exception, exceptions(at)
    assert not at.get("multiselect")  # the side-by-side section is a lazy expander: nothing inside runs until it opens
    at.session_state["replay_side"] = True  # open it, as a click on its header does
    at.run()
    assert not at.exception, exceptions(at)
    broken = f"{fault_root.name}/garbage-replay"
    assert broken in at.multiselect(key="replay_contrast").options
    at.multiselect(key="replay_contrast").set_value([broken]).run()
    assert not at.exception, exceptions(at)
    assert any("garbage-replay" in e for e in errors(at)), errors(at)
    assert at.get("vega_lite_chart")  # the good run's own views are still there


# ---------------------------------------------------------------- shipped files stay as shipped
def drive_every_page(runs_root: Path) -> None:
    """Each shipped run on every page (with a frequency ablation and a replay step), then a
    user run without a replay through the Replay page's Build button."""
    for name in SHIPPED:
        at = new_session(name)
        at.run()
        assert not at.exception, (name, exceptions(at))
        for page in PAGES:
            at.switch_page(page).run()
            assert not at.exception, (name, page, exceptions(at))
            assert not errors(at), (name, page, errors(at))
            if page == "views/replay.py":
                # Shipped runs carry their replay: the build path must never show for them.
                assert "replay_build" not in [b.key for b in at.button], name
                # The step is the in-browser player's; from the server side a link sets it.
                steps = open_run(PRETRAINED / name).replay().steps
                middle = steps[len(steps) // 2]
                at.query_params["step"] = str(middle)
                at.run()
                assert not at.exception, (name, exceptions(at))
                assert f"**Step {middle:,}**" in "".join(m.value for m in at.sidebar.markdown), name
            if page == "views/ablations.py":
                at.radio(key="w_site").set_value("embedding").run()
                assert not at.exception, (name, exceptions(at))
    at = new_session(f"{runs_root.name}/norep")
    at.run()
    at.switch_page("views/replay.py").run()
    at.button(key="replay_build").click().run()
    assert not at.exception, exceptions(at)
    assert (runs_root / "norep" / ckpt.REPLAY_FILE).exists()


@pytest.fixture
def norep_root(tmp_path, env) -> Path:
    """A user runs folder holding one small run without a replay (the Build button's path)."""
    root = tmp_path / "userruns"
    train(TrainConfig(model=ModelConfig(p=7), steps=30, eval_every=10), root / "norep", progress=False)
    env(root)
    return root


@needs_shipped
def test_driving_every_page_leaves_shipped_files_byte_identical(norep_root):
    before = snapshot(PRETRAINED)
    drive_every_page(norep_root)
    after = snapshot(PRETRAINED)
    assert after == before  # same files (none added, none removed), same bytes, same mtimes


@needs_shipped
def test_no_write_is_even_attempted_under_pretrained(norep_root, monkeypatch):
    """Tests run as root, for whom `chmod a-w pretrained` stops nothing (root ignores file
    permission bits), so instead every Python path that can write, create, rename or delete a
    file is wrapped to refuse (and record) any target under pretrained/. The attempts are
    recorded too, in case some code swallows the PermissionError."""
    shipped = PRETRAINED.resolve()
    attempts: list[str] = []

    def under_pretrained(target) -> bool:
        if isinstance(target, int) or target is None:
            return False
        try:
            return Path(os.fsdecode(target)).resolve().is_relative_to(shipped)
        except (TypeError, ValueError):
            return False

    def refuse(what: str, target) -> None:
        attempts.append(f"{what} {target}")
        raise PermissionError(f"test guard: {what} {target} is under pretrained/")

    def guard(name: str, fn, *targets: int):
        """fn, refusing when any of its positional arguments at `targets` is under pretrained/."""
        def wrapped(*args, **kwargs):
            for i in targets:
                if i < len(args) and under_pretrained(args[i]):
                    refuse(name, args[i])
            return fn(*args, **kwargs)
        return wrapped

    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def writing_mode(args, kwargs) -> bool:
        mode = args[1] if len(args) > 1 else kwargs.get("mode", "r")
        return isinstance(mode, str) and any(c in mode for c in "wax+")

    real_open, real_os_open = builtins.open, os.open

    def guarded_open(*args, **kwargs):
        if args and writing_mode(args, kwargs) and under_pretrained(args[0]):
            refuse("open for writing", args[0])
        return real_open(*args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & write_flags and under_pretrained(path):
            refuse("os.open for writing", path)
        return real_os_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(atomic, "write_bytes", guard("grok.atomic.write_bytes", atomic.write_bytes, 0))
    monkeypatch.setattr(Path, "write_bytes", guard("Path.write_bytes", Path.write_bytes, 0))
    monkeypatch.setattr(Path, "write_text", guard("Path.write_text", Path.write_text, 0))
    monkeypatch.setattr(Path, "unlink", guard("Path.unlink", Path.unlink, 0))
    monkeypatch.setattr(Path, "rename", guard("Path.rename", Path.rename, 0, 1))
    monkeypatch.setattr(Path, "replace", guard("Path.replace", Path.replace, 0, 1))
    monkeypatch.setattr(Path, "mkdir", guard("Path.mkdir", Path.mkdir, 0))
    for name in ("copyfile", "copy", "copy2", "copytree", "move"):
        monkeypatch.setattr(shutil, name, guard(f"shutil.{name}", getattr(shutil, name), 1))
    monkeypatch.setattr(shutil, "rmtree", guard("shutil.rmtree", shutil.rmtree, 0))
    for name, targets in (("replace", (0, 1)), ("rename", (0, 1)), ("remove", (0,)), ("unlink", (0,)), ("mkdir", (0,)),
                          ("rmdir", (0,)), ("chmod", (0,)), ("utime", (0,)), ("truncate", (0,))):
        monkeypatch.setattr(os, name, guard(f"os.{name}", getattr(os, name), *targets))
    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)

    # The guard itself works (else this test could not fail):
    with pytest.raises(PermissionError):
        atomic.write_bytes(PRETRAINED / SHIPPED[0] / "probe.bin", b"x")
    with pytest.raises(PermissionError):
        open(PRETRAINED / SHIPPED[0] / ckpt.CONFIG_FILE, "a")
    assert len(attempts) == 2 and not (PRETRAINED / SHIPPED[0] / "probe.bin").exists()
    attempts.clear()

    drive_every_page(norep_root)
    assert attempts == []


# ---------------------------------------------------------------- an abandoned training
def assert_valid_partial_run(out: Path) -> int:
    """The folder a stopped training leaves: final weights flagged incomplete, loadable, with
    readable metrics up to the same step. Returns that step."""
    _, meta = ckpt.read_tensors(out / ckpt.MODEL_FILE)
    assert json.loads(meta["completed"]) is False
    loaded = ckpt.load(out)
    rows = ckpt.read_metrics(out)
    assert rows and [r["step"] for r in rows] == sorted({r["step"] for r in rows})
    assert loaded.step == rows[-1]["step"] == open_run(out).final_step
    assert loaded.model.cfg.p == loaded.config.model.p
    return loaded.step


def test_a_job_nobody_beats_for_stops_itself_and_leaves_a_valid_partial_run(tmp_path):
    """grok.jobs with the real clock: no heartbeat after start, a 1 s timeout."""
    cfg = TrainConfig(model=ModelConfig(p=5), frac_train=0.5, steps=1_000_000, eval_every=10)
    job = jobs.TrainingJob(cfg, tmp_path / "r", heartbeat_timeout=1.0).start(registry=jobs.Registry(1))
    try:
        assert job.join(WAIT), "the job kept running without heartbeats"
    finally:
        job.stop()
        job.join(WAIT)
    assert job.status == jobs.STOPPED, job.error
    assert "no heartbeat" in job.error
    step = assert_valid_partial_run(tmp_path / "r")
    assert 0 < step < cfg.steps


def test_closing_the_train_page_stops_its_training(tmp_path, env, monkeypatch):
    """A training started with the Train page's form, then the session goes silent (a closed
    tab: AppTest is simply not run again): the job stops after GROK_HEARTBEAT_SECONDS and the
    run opens in a fresh session."""
    root = tmp_path / "userruns"
    env(root)
    monkeypatch.setenv("GROK_HEARTBEAT_SECONDS", "1.5")
    at = new_session()
    at.run()
    at.switch_page("views/train.py").run()
    at.number_input(key="train_p").set_value(5)
    at.number_input(key="train_steps").set_value(20000)
    at.number_input(key="train_eval").set_value(10)
    at.button(key="train_start").click().run()
    assert not at.exception, exceptions(at)
    job = at.session_state["train_job"]
    try:
        assert job.heartbeat_timeout == 1.5
        # No more runs of this session from here on: nobody calls job.beat().
        assert job.join(WAIT), "the job kept running after its page went away"
    finally:
        job.stop()
        job.join(WAIT)
    assert job.status == jobs.STOPPED, job.error
    assert "no heartbeat" in job.error
    step = assert_valid_partial_run(job.out)
    assert 0 < step < 20000

    fresh = new_session(f"{root.name}/{job.out.name}")
    fresh.run()
    fresh.switch_page("views/query.py").run()
    assert not fresh.exception, exceptions(fresh)
    assert fresh.metric[0].label.endswith("mod 5")


# ---------------------------------------------------------------- a real server in demo mode
@needs_shipped
def test_a_real_demo_server_serves_and_leaves_pretrained_alone(tmp_path):
    """`python -m streamlit run app.py` with GROK_DEMO=1: health and the page answer 200. If
    Chromium is here, a visitor also loads Home and Replay (the script runs in the server), and
    nothing under pretrained/ changes. (Running as root, the folder cannot be made read-only
    for real; the hashes and mtimes are the check.)"""
    before = snapshot(PRETRAINED)
    runs_dir = tmp_path / "demo-runs"
    srv = drv.start_server(env={"GROK_DEMO": "1", "GROK_RUNS_DIR": str(runs_dir)})
    try:
        srv.wait_healthy(timeout=WAIT)
        with urllib.request.urlopen(f"{srv.url}/_stcore/health", timeout=10) as r:
            assert r.status == 200 and r.read().decode().strip() == "ok"
        with urllib.request.urlopen(f"{srv.url}/", timeout=10) as r:
            assert r.status == 200 and b'<div id="root">' in r.read()
        if drv.chromium_missing() is None:
            from playwright.sync_api import sync_playwright

            specs = {s.name: s for s in drv.APP_PAGES}
            with sync_playwright() as pw:
                browser = drv.launch_browser(pw)
                try:
                    page = drv.new_page(browser)
                    page.goto(srv.url, timeout=WAIT * 1000)
                    drv.wait_app_ready(page, timeout_ms=WAIT * 1000)
                    for name in ("home", "replay"):
                        drv.goto_page(page, srv.url, specs[name], timeout_ms=WAIT * 1000)
                        assert drv.exceptions(page) == [], (name, drv.exceptions(page))
                finally:
                    browser.close()
        assert srv.proc.poll() is None, srv.log_tail()
    finally:
        srv.stop()
    assert snapshot(PRETRAINED) == before
