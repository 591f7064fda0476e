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


def specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def replay_chart(at: AppTest) -> dict:
    """The replay's one chart (every frame, one `frame` parameter): the one with the neuron maps."""
    mains = [s for s in specs(at) if '"image"' in json.dumps(s)]
    assert len(mains) == 1, f"{len(mains)} replay charts"
    return mains[0]


def datasets(at: AppTest, spec: dict) -> list:
    c = next(c for c in at.get("vega_lite_chart") if json.loads(c.proto.spec) == spec)
    return [pa.ipc.open_stream(io.BytesIO(d.data.data)).read_all().to_pandas() for d in c.proto.datasets]


def player_data(at: AppTest) -> dict:
    (el,) = at.get("bidi_component")
    assert el.proto.component_name == "grok_replay_player"
    return json.loads(el.proto.json)[0]


def frame_param(spec: dict) -> dict:
    return next(p for p in spec["params"] if p["name"] == "frame")


# ---------------------------------------------------------------- Replay
def test_replay_page_is_one_chart_and_a_player(app, run_root):
    at = replay_page(app())
    assert not at.exception, [e.value for e in at.exception]
    steps = replay_mod.load(run_root / "r23" / ckpt.REPLAY_FILE).steps
    spec = replay_chart(at)
    assert frame_param(spec)["bind"]["max"] == len(steps) - 1 and frame_param(spec)["value"] == 0
    data = player_data(at)
    assert data["steps"] == steps and data["target"] == ".st-key-replay_chart"
    assert data["start"] == len(steps) - 1  # the shared step: the final one by default
    assert data["fps"] == [5, 10, 15]
    assert [j["label"] for j in data["jumps"]] == ["memorisation ends", "circuit forms", "grokking", "converged"]
    maps = next(d for d in datasets(at, spec) if "url" in d.columns)
    assert len(maps) == 3  # every frame's neuron maps travel once: a PNG strip of all frames per stored neuron
    assert maps["url"].str.startswith("data:image/png;base64,").all()
    labels = next(d for d in datasets(at, spec) if "label" in d.columns and "range" in d.columns)
    assert len(labels) == 3 * len(steps)  # and each frame's label and colour range per neuron
    assert not at.get("image")  # no server-drawn per-frame images any more


def test_the_replay_opens_at_the_shared_step(app, run_root):
    steps = replay_mod.load(run_root / "r23" / ckpt.REPLAY_FILE).steps
    at = replay_page(app(), step=str(steps[5]))
    assert not at.exception
    assert player_data(at)["start"] == 5
    first = json.dumps(replay_chart(at), sort_keys=True)
    at.run()  # a rerun (the player's report reruns only its fragment; a full one must not change the spec)
    assert json.dumps(replay_chart(at), sort_keys=True) == first
    assert player_data(at)["start"] == 5


def test_frame_step_from_the_link_snaps_to_the_nearest_frame(app, run_root):
    steps = replay_mod.load(run_root / "r23" / ckpt.REPLAY_FILE).steps  # 0, 10, ..., 200, 250, 300
    at = replay_page(app(), frame_step="236")
    assert not at.exception and not any("frame_step" in w.value for w in at.warning)
    assert 250 in steps and player_data(at)["start"] == steps.index(250)
    assert at.session_state["step"] == 250 and at.query_params["step"] == "250"  # it became the shared step
    assert "frame_step" not in at.query_params


def test_bad_frame_step_warns_and_falls_back(app, run_root):
    steps = replay_mod.load(run_root / "r23" / ckpt.REPLAY_FILE).steps
    at = replay_page(app(), frame_step="banana")
    assert not at.exception
    assert any("frame_step=banana" in w.value for w in at.warning)
    assert player_data(at)["start"] == len(steps) - 1
    at = replay_page(app(), frame_step="99999")
    assert any("must be between 0 and 300" in w.value for w in at.warning)


SHIPPED = sorted(d.name for d in (ROOT / "pretrained").iterdir() if (d / ckpt.REPLAY_FILE).exists()) if (ROOT / "pretrained").is_dir() else []


@pytest.mark.parametrize("name", SHIPPED + ["small"])
def test_every_run_renders_its_replay(app, run_root, name):
    at = replay_page(app(f"{run_root.name}/r23" if name == "small" else name))
    assert not at.exception, [e.value for e in at.exception]
    rp = replay_mod.load((run_root / "r23" if name == "small" else ROOT / "pretrained" / name) / ckpt.REPLAY_FILE)
    spec = replay_chart(at)
    assert frame_param(spec)["bind"]["max"] == len(rp.steps) - 1
    text = json.dumps({k: v for k, v in spec.items() if k != "datasets"})
    from grok import replay_views as rv

    if rv.final_verdict(rp).has_clock:
        assert "key frequency" in text and not any("memorises" in w.value for w in at.warning)
    else:  # e.g. the shipped mod113-no-wd: nothing is called key, and the page says it memorises
        assert "key frequency" not in text
        assert any("This run memorises" in w.value for w in at.warning)
    assert len(player_data(at)["steps"]) == len(rp.steps)


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
        steps = replay_mod.load(run_root / "p7-norep" / ckpt.REPLAY_FILE).steps
        assert frame_param(replay_chart(at))["bind"]["max"] == len(steps) - 1
        assert player_data(at)["steps"] == steps
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
    # the form starts at the "Watch it grok" preset, which the page opens with
    assert at.button(key="train_watch").proto.label == "Watch it grok"
    assert at.number_input(key="train_p").value == 59
    assert at.slider(key="train_frac").value == 0.5
    assert at.number_input(key="train_lr").value == 3e-3 and at.number_input(key="train_wd").value == 1.0
    assert "at most 20,000 steps and 600 s" in at.info[0].value and "p ≤ 113" in at.info[0].value
    assert any("Measured on this project's 2-core machine over seeds 0, 1 and 2" in m.value and "grokked on all three" in m.value for m in at.caption)


def test_demo_mode_lowers_the_limits(app, monkeypatch):
    monkeypatch.setenv("GROK_DEMO", "1")
    at = train_page(app())
    assert "at most 3,000 steps and 120 s" in at.info[0].value and "p ≤ 59" in at.info[0].value
    assert at.number_input(key="train_steps").value == 3000 and at.number_input(key="train_p").value == 59
    assert at.number_input(key="train_p").proto.max == 59 and at.number_input(key="train_steps").proto.max == 3000


def test_even_p_is_refused(app, run_root):
    at = train_page(app())
    at.number_input(key="train_p").set_value(22)
    at.button(key="train_start").click().run()
    assert any("p must be odd" in e.value for e in at.error)
    assert "train_job" not in at.session_state


def test_training_through_the_form_makes_a_run_listed_in_the_sidebar(app, run_root):
    before = {d.name for d in run_root.iterdir()}
    at = train_page(app())
    at.number_input(key="train_p").set_value(5)
    at.number_input(key="train_steps").set_value(50)
    at.number_input(key="train_eval").set_value(10)
    at.button(key="train_start").click().run()
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
        assert new == {job.out.name} and job.out.name.startswith("p5-f0.5-wd1-lr0.003-s0-")
        assert [r["step"] for r in ckpt.read_metrics(job.out)] == [0, 10, 20, 30, 40, 50]
        assert any("Finished 50 steps" in s.value for s in at.success)
        assert len(at.get("vega_lite_chart")) == 5  # accuracy, loss, spectrum, number circle, neurons per frequency
        assert (job.out / ckpt.REPLAY_FILE).exists() and not job.replay_error  # built when the run ended
        name = f"{run_root.name}/{job.out.name}"
        # A fresh visit lists the run in the sidebar picker (AppTest keeps sidebar widgets only
        # on a session's first run).
        fresh = app(None)
        fresh.run()
        assert any(o == name or o.startswith(f"{job.out.name} ") for o in fresh.sidebar.selectbox(key="w_run").options)  # its label
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
    at.button(key="train_start").click().run()
    job = at.session_state["train_job"]
    try:
        t = time.monotonic()
        while not job.rows and time.monotonic() - t < WAIT:
            time.sleep(0.05)
        at.run()
        assert job.is_alive() and at.button(key="train_stop")
        assert at.button(key="train_start").disabled and at.button(key="train_watch").disabled  # one training per session: Start is locked while it runs
        at.button(key="train_stop").click().run()
        assert job.join(WAIT)
        at.run()
        assert job.status == jobs.STOPPED
        assert any("Stopped at step" in w.value and "stopped by the user" in w.value for w in at.warning)
        from grok.runs import open_run
        run = open_run(job.out)
        assert run.metrics[-1]["step"] == run.final_step < 20000
        assert json.loads(ckpt.read_tensors(job.out / ckpt.MODEL_FILE)[1]["completed"]) is False
        assert not at.button(key="train_start").disabled
    finally:
        job.stop()
        job.join(WAIT)
        shutil.rmtree(job.out, ignore_errors=True)


def test_watch_it_grok_runs_end_to_end_with_live_panels_and_its_replay(app, run_root, monkeypatch):
    """The page's headline button with a small p (the limits cap the preset's p = 59 to 23):
    live panels while it trains, drawn from the newest snapshot, and the replay built at the end."""
    monkeypatch.setenv("GROK_MAX_P", "23")
    monkeypatch.setenv("GROK_MAX_STEPS", "150")
    at = train_page(app())
    assert not any("Measured on this project" in m.value for m in at.caption)  # a p = 23 run: no claim for it
    at.button(key="train_watch").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state["train_job"]
    try:
        c = job.config
        assert (c.model.p, c.frac_train, c.lr, c.wd, c.steps, c.eval_every) == (23, 0.5, 3e-3, 1.0, 150, 25)
        seen_live = False
        t = time.monotonic()
        while job.is_alive() and time.monotonic() - t < WAIT:
            time.sleep(0.2)
            at.run()
            if job.is_alive() and job.phase == "training" and len(at.get("vega_lite_chart")) == 5:
                seen_live = True  # the replay panels exist while it still trains
                titles = {json.loads(x.proto.spec).get("title") for x in at.get("vega_lite_chart")}
                assert {"Accuracy", "Loss", "Embedding spectrum", "Neurons per frequency"} <= {t if isinstance(t, str) else t.get("text") for t in titles if t}
        at.run()
        assert job.status == jobs.DONE, job.error
        assert any("Finished 150 steps" in s.value for s in at.success)
        assert (job.out / ckpt.REPLAY_FILE).exists()
        r = replay_mod.load(job.out / ckpt.REPLAY_FILE)
        assert r.steps[-1] == 150
        # the last frame the page drew is the final snapshot's
        fr = at.session_state["_train_live"][2]
        assert fr.step == 150 and sum(v for v in fr.counts.values()) == fr.neurons == 512
        assert any("At step 150" in m.value for m in at.markdown)
        assert seen_live or job.rows[-1]["step"] == 150  # on a very fast machine it may end between two refreshes
        # the Replay page shows it straight away, without its build button
        rp = replay_page(app(f"{run_root.name}/{job.out.name}"))
        assert not rp.exception and frame_param(replay_chart(rp))["bind"]["max"] == len(r.steps) - 1  # every frame, one chart
        assert not [b for b in rp.button if b.key == "replay_build"]
    finally:
        job.stop()
        job.join(WAIT)
