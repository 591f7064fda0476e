"""AppTest: the one shared step. The sidebar offers every frame step of the run, the step survives
page switches (and stays in ?step=), a link to a step that is not a frame snaps to the nearest
and says so, the Replay page shows the step as text (its player is the control), and
ui.set_shared_step() moves the step for every page."""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from grok import replay as replay_mod
from grok.config import ModelConfig, TrainConfig
from grok.runs import open_run
from grok.train import train

ROOT = Path(__file__).resolve().parents[2]
WAIT = 120  # seconds: a safety net, never a timing assertion


@pytest.fixture(scope="module")
def run_root(tmp_path_factory) -> Path:
    """A runs folder with one p = 23 run (200 steps) and its replay, like a shipped run."""
    root = tmp_path_factory.mktemp("steproots")
    cfg = TrainConfig(model=ModelConfig(p=23), frac_train=0.5, lr=3e-3, steps=200, eval_every=20)
    train(cfg, root / "r23", progress=False)
    replay_mod.build(root / "r23", n_weights=4, progress=False)
    shutil.rmtree(root / "r23" / "snapshots")  # as in a shipped run: weights at 4 frames and the final step only
    return root


@pytest.fixture
def env(run_root, monkeypatch):
    monkeypatch.setenv("GROK_RUNS_DIR", str(run_root))
    monkeypatch.setenv("GROK_WARM", "0")  # no background warm-up thread inside the test process
    for k in ("GROK_DEMO", "GROK_MAX_STEPS", "GROK_MAX_SECONDS", "GROK_MAX_P"):
        monkeypatch.delenv(k, raising=False)
    return f"{run_root.name}/r23", open_run(run_root / "r23")


def session(name: str, **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=WAIT)
    at.query_params["run"] = name
    for k, v in params.items():
        at.query_params[k] = v
    return at


def step_slider(at: AppTest):
    return at.sidebar.select_slider(key="w_step")


def test_sidebar_offers_every_frame_and_the_final_step_first(env):
    name, run = env
    frames = run.frame_steps()
    assert len(frames) > len(run.weight_steps())  # frames without weights exist: the test means something
    at = session(name)
    at.run()
    assert not at.exception, at.exception
    assert list(step_slider(at).options) == [f"{s:,}" for s in frames]
    assert step_slider(at).value == frames[-1]
    assert at.session_state["step"] == frames[-1]
    labels = [o for o in at.sidebar.selectbox(key="w_run").options]
    assert "r23 (your run)" in labels  # short name; the full path is in the help


def test_a_link_between_frames_snaps_to_the_nearest_and_says_so(env):
    name, run = env
    frames = run.frame_steps()
    between = (frames[2] + frames[3]) // 2 + 1  # nearer frames[3]
    assert between not in frames
    at = session(name, step=str(between))
    at.run()
    assert step_slider(at).value == frames[3]
    msgs = [w.value for w in at.warning]
    assert any(f"?step={between}" in m and f"{frames[3]:,}" in m for m in msgs), msgs
    assert at.query_params["step"] == str(frames[3])


def test_a_long_bad_link_value_is_echoed_short(env):
    name, run = env
    at = session(name, step="z" * 300)
    at.run()
    assert step_slider(at).value == run.frame_steps()[-1]
    msgs = [w.value for w in at.warning if "?step=" in w.value]
    assert msgs and all("z" * 41 not in m for m in msgs), msgs


def test_the_step_survives_page_switches_and_replay_shows_it_as_text(env):
    name, run = env
    frames = run.frame_steps()
    no_weights = next(s for s in frames if s not in run.weight_steps())
    at = session(name)
    at.run()
    step_slider(at).set_value(no_weights).run()
    for page in ("views/query.py", "views/ablations.py", "views/replay.py", "views/neurons.py", "views/home.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert at.session_state["step"] == no_weights, page
        assert at.query_params["step"] == str(no_weights), page
        if page == "views/replay.py":
            assert not at.sidebar.select_slider, "a second step slider on the Replay page"
            assert any(f"Step {no_weights:,}" in m.value and "replay player" in m.value for m in at.sidebar.markdown)
        else:
            assert step_slider(at).value == no_weights, page


def test_set_shared_step_moves_the_step_for_every_page(env, tmp_path):
    """A page that calls ui.set_shared_step (as the Replay player does on pause): the sidebar text
    of that run, ?step= and session state follow at once; the slider of the next page too."""
    name, run = env
    frames = run.frame_steps()
    script = tmp_path / "setter.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        import streamlit as st
        import ui
        st.session_state["run"], st.session_state["step"] = ui.sidebar("replay" if st.session_state.get("as_replay", True) else None)
        target = st.session_state.get("target")
        if target is not None:
            ui.set_shared_step(target)
            st.session_state["target"] = None
    """))
    at = AppTest.from_file(str(script), default_timeout=WAIT)
    at.query_params["run"] = name
    at.run()
    assert at.session_state["step"] == frames[-1]
    at.session_state["target"] = frames[1] + 1  # not a frame: snaps to frames[1]
    at.run()
    assert at.session_state["step"] == frames[1]
    assert at.query_params["step"] == str(frames[1])
    assert any(f"Step {frames[1]:,}" in m.value for m in at.sidebar.markdown), [m.value for m in at.sidebar.markdown]
    at.session_state["as_replay"] = False  # now another page: its slider starts at the player's step
    at.run()
    assert step_slider(at).value == frames[1]
