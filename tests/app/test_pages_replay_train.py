"""AppTest: the Replay and Train pages on a small run made here (p = 23, a few hundred steps)."""
from __future__ import annotations

import io
import json
import shutil
import time
from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from grok import checkpoint as ckpt
from grok import jobs
from grok import replay as replay_mod
from grok.config import ModelConfig, TrainConfig
from grok.train import train

ROOT = Path(__file__).resolve().parents[2]
WAIT = 120  # seconds: a safety net for the live training, never a timing assertion


@pytest.fixture(scope="module")
def run_root(tmp_path_factory) -> Path:
    """A runs folder with one p = 23 run (300 steps, ~25 replay frames) and its replay."""
    root = tmp_path_factory.mktemp("userruns")
    cfg = TrainConfig(model=ModelConfig(p=23), frac_train=0.5, lr=3e-3, steps=300, eval_every=25)
    train(cfg, root / "r23", progress=False)
    replay_mod.build(root / "r23", progress=False)
    return root


@pytest.fixture
def app(run_root, monkeypatch):
    monkeypatch.setenv("GROK_RUNS_DIR", str(run_root))
    for k in ("GROK_DEMO", "GROK_MAX_STEPS", "GROK_MAX_SECONDS", "GROK_MAX_P"):
        monkeypatch.delenv(k, raising=False)

    def make(run: str | None = f"{run_root.name}/r23") -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        if run:
            at.query_params["run"] = run
        return at

    return make


def replay_page(at: AppTest, **params) -> AppTest:
    at.run()
    at.switch_page("views/replay.py")
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def main_charts(at: AppTest) -> int:
    """Charts of the replay itself: the side-by-side section adds 3 per shown run (this one
    and each compared run, e.g. the shipped mod113-no-wd chosen by default)."""
    chosen = at.multiselect(key="replay_contrast").value if at.session_state and "replay_contrast" in at.session_state else []
    return len(at.get("vega_lite_chart")) - (3 * (1 + len(chosen)) if chosen else 0)


def chart(at: AppTest, title: str) -> dict:
    for c in at.get("vega_lite_chart"):
        spec = json.loads(c.proto.spec)
        if spec.get("title") == title:
            return {"spec": spec, "data": {d.name: pa.ipc.open_stream(io.BytesIO(d.data.data)).read_all().to_pandas() for d in c.proto.datasets}}
    raise AssertionError(f"no chart titled {title!r}; have {[json.loads(c.proto.spec).get('title') for c in at.get('vega_lite_chart')]}")


def marker_step(at: AppTest, title: str = "Loss") -> float:
    c = chart(at, title)
    rule = next(layer for layer in c["spec"]["layer"] if layer["mark"]["type"] == "rule")
    return float(c["data"][rule["data"]["name"]]["step1"].iloc[0])


def spectrum_values(at: AppTest) -> list[float]:
    c = next(json.loads(x.proto.spec) for x in at.get("vega_lite_chart") if str(json.loads(x.proto.spec).get("title", "")).startswith("Embedding spectrum"))
    title = c["title"]
    data = chart(at, title)["data"]
    return next(iter(data.values()))["value"].tolist()


# ---------------------------------------------------------------- Replay
def test_replay_page_renders_its_charts(app, run_root):
    at = replay_page(app())
    assert not at.exception, [e.value for e in at.exception]
    steps = replay_mod.load(run_root / "r23" / ckpt.REPLAY_FILE).steps
    slider = at.select_slider(key="w_frame_step")
    assert list(slider.options) == [f"{s:,}" for s in steps]
    assert slider.value == steps[-1]  # the sidebar's final step by default
    titles = {json.loads(c.proto.spec).get("title") for c in at.get("vega_lite_chart")}
    for t in ("Loss", "Neurons per frequency", "Restricted and excluded loss", "Sparsity in the Fourier basis", "Weight norm"):
        assert t in titles
    assert main_charts(at) == 7  # + spectrum and number circle
    assert len(at.get("image")) == 3  # the stored neurons' activation maps
    assert marker_step(at) == steps[-1]
    assert at.query_params["frame_step"] == str(steps[-1])


def test_moving_the_slider_moves_the_marker_and_changes_the_data(app, run_root):
    at = replay_page(app())
    steps = replay_mod.load(run_root / "r23" / ckpt.REPLAY_FILE).steps
    before = spectrum_values(at)
    at.select_slider(key="w_frame_step").set_value(steps[3]).run()
    assert not at.exception
    assert marker_step(at) == max(steps[3], 1)
    assert marker_step(at, "Weight norm") == max(steps[3], 1)
    assert spectrum_values(at) != before
    assert at.query_params["frame_step"] == str(steps[3])
    assert at.metric[0].value == f"{steps[3]:,}"


def test_frame_step_from_the_link_snaps_to_the_nearest_frame(app, run_root):
    steps = replay_mod.load(run_root / "r23" / ckpt.REPLAY_FILE).steps  # 0, 10, ..., 200, 250, 300
    at = replay_page(app(), frame_step="236")
    assert not at.exception and not at.warning
    assert at.select_slider(key="w_frame_step").value == 250 and 250 in steps


def test_bad_frame_step_warns_and_falls_back(app, run_root):
    at = replay_page(app(), frame_step="banana")
    assert not at.exception
    assert any("frame_step=banana" in w.value for w in at.warning)
    assert at.select_slider(key="w_frame_step").value == 300
    at = replay_page(app(), frame_step="99999")
    assert any("must be between 0 and 300" in w.value for w in at.warning)


def test_play_advances_one_frame_per_tick_and_stops_at_the_end(app, run_root):
    steps = replay_mod.load(run_root / "r23" / ckpt.REPLAY_FILE).steps
    at = replay_page(app(), frame_step=str(steps[-3]))
    at.toggle(key="replay_play").set_value(True).run()  # pressing Play shows the current frame...
    assert at.select_slider(key="w_frame_step").value == steps[-3]
    at.run()  # ... and each tick (a fragment rerun in the browser) advances one frame
    assert at.select_slider(key="w_frame_step").value == steps[-2]
    at.run()
    assert at.select_slider(key="w_frame_step").value == steps[-1]
    assert at.toggle(key="replay_play").value is True
    at.run()  # past the end without Loop: playback stops
    assert at.toggle(key="replay_play").value is False
    assert at.select_slider(key="w_frame_step").value == steps[-1]
    at.run()
    assert at.select_slider(key="w_frame_step").value == steps[-1]
    at.toggle(key="replay_play").set_value(True).run()  # Play on the last frame starts over
    assert at.select_slider(key="w_frame_step").value == steps[0]
    at.run()
    assert at.select_slider(key="w_frame_step").value == steps[1]


def test_loop_wraps_to_the_first_frame(app, run_root):
    steps = replay_mod.load(run_root / "r23" / ckpt.REPLAY_FILE).steps
    at = replay_page(app(), frame_step=str(steps[-1]))
    at.checkbox(key="replay_loop").check().run()
    at.toggle(key="replay_play").set_value(True).run()
    assert at.select_slider(key="w_frame_step").value == steps[0]  # rewound on Play
    at.select_slider(key="w_frame_step").set_value(steps[-1]).run()  # a drag is not a tick
    assert at.select_slider(key="w_frame_step").value == steps[-1]
    at.run()
    assert at.select_slider(key="w_frame_step").value == steps[0]
    assert at.toggle(key="replay_play").value is True


def test_a_run_without_replay_offers_to_build_it(app, run_root):
    cfg = TrainConfig(model=ModelConfig(p=7), steps=30, eval_every=10)
    train(cfg, run_root / "p7-norep", progress=False)
    try:
        at = replay_page(app(f"{run_root.name}/p7-norep"))
        assert not at.exception
        assert not at.get("vega_lite_chart")
        button = at.button(key="replay_build")
        assert "no replay yet" in at.info[0].value
        button.click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert (run_root / "p7-norep" / ckpt.REPLAY_FILE).exists()
        assert main_charts(at) == 7 and len(at.get("image")) == 3
    finally:
        shutil.rmtree(run_root / "p7-norep", ignore_errors=True)


# ---------------------------------------------------------------- Train
def train_page(at: AppTest) -> AppTest:
    at.run()
    return at.switch_page("views/train.py").run()


def test_train_page_renders_its_form_and_limits(app):
    at = train_page(app())
    assert not at.exception
    assert {"train_p", "train_wd", "train_lr", "train_seed", "train_steps", "train_eval", "train_gf_alpha", "train_gf_lambda"} <= {n.key for n in at.number_input}
    assert at.number_input(key="train_p").value == 23
    assert at.slider(key="train_frac").value == 0.5
    assert "at most 20,000 steps and 600 s" in at.info[0].value and "p ≤ 113" in at.info[0].value


def test_demo_mode_lowers_the_limits(app, monkeypatch):
    monkeypatch.setenv("GROK_DEMO", "1")
    at = train_page(app())
    assert "at most 3,000 steps and 120 s" in at.info[0].value and "p ≤ 59" in at.info[0].value
    assert at.number_input(key="train_steps").value == 2000
    assert at.number_input(key="train_p").proto.max == 59 and at.number_input(key="train_steps").proto.max == 3000


def test_even_p_is_refused(app, run_root):
    at = train_page(app())
    at.number_input(key="train_p").set_value(22)
    at.button[0].click().run()
    assert any("p must be odd" in e.value for e in at.error)
    assert "train_job" not in at.session_state


def test_training_through_the_form_makes_a_run_listed_in_the_sidebar(app, run_root):
    before = {d.name for d in run_root.iterdir()}
    at = train_page(app())
    at.number_input(key="train_p").set_value(5)
    at.number_input(key="train_steps").set_value(50)
    at.number_input(key="train_eval").set_value(10)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state["train_job"]
    try:
        t = time.monotonic()
        while job.is_alive() and time.monotonic() - t < WAIT:
            time.sleep(0.2)
            at.run()  # the live view refreshes (and sends its heartbeat)
        at.run()
        assert job.status == jobs.DONE, job.error
        new = {d.name for d in run_root.iterdir()} - before
        assert new == {job.out.name} and job.out.name.startswith("p5-f0.5-wd3-lr0.003-s0-")
        assert [r["step"] for r in ckpt.read_metrics(job.out)] == [0, 10, 20, 30, 40, 50]
        assert any("Finished 50 steps" in s.value for s in at.success)
        assert len(at.get("vega_lite_chart")) == 2  # live loss and accuracy
        name = f"{run_root.name}/{job.out.name}"
        # A fresh visit lists the run in the sidebar picker (AppTest keeps sidebar widgets only
        # on a session's first run).
        fresh = app(None)
        fresh.run()
        assert name in fresh.sidebar.selectbox(key="w_run").options
        fresh = app(name)
        fresh.run()
        assert fresh.sidebar.selectbox(key="w_run").value == name
    finally:
        job.stop()
        job.join(WAIT)


def test_stop_button_leaves_a_readable_partial_run(app, run_root):
    at = train_page(app())
    at.number_input(key="train_p").set_value(5)
    at.number_input(key="train_steps").set_value(20000)
    at.number_input(key="train_eval").set_value(10)
    at.button[0].click().run()
    job = at.session_state["train_job"]
    try:
        t = time.monotonic()
        while not job.rows and time.monotonic() - t < WAIT:
            time.sleep(0.05)
        at.run()
        assert job.is_alive() and at.button(key="train_stop")
        assert at.button[0].disabled  # one training per session: Start is locked while it runs
        at.button(key="train_stop").click().run()
        assert job.join(WAIT)
        at.run()
        assert job.status == jobs.STOPPED
        assert any("Stopped at step" in w.value and "stopped by the user" in w.value for w in at.warning)
        from grok.runs import open_run
        run = open_run(job.out)
        assert run.metrics[-1]["step"] == run.final_step < 20000
        assert json.loads(ckpt.read_tensors(job.out / ckpt.MODEL_FILE)[1]["completed"]) is False
        assert not at.button[0].disabled
    finally:
        job.stop()
        job.join(WAIT)
        shutil.rmtree(job.out, ignore_errors=True)
