"""AppTest: the Circuit page on every shipped run and on a small run made here (p = 23, with its
replay): it renders, its numbers are grok.circuit's, the pair inputs and the pruning slider work."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from grok import attention, circuit, measures, runs
from grok.replay import circle_coords
from grok.data import make_dataset

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.name for p in (ROOT / "pretrained").iterdir() if (p / "config.json").exists())


@pytest.fixture(scope="module")
def run_root(tmp_path_factory, replay_run_p23) -> Path:
    root = tmp_path_factory.mktemp("cruns")
    shutil.copytree(replay_run_p23, root / "r23")
    return root


def open_page(run: str, runs_dir: Path | None = None, monkeypatch=None, **params) -> AppTest:
    if runs_dir is not None:
        monkeypatch.setenv("GROK_RUNS_DIR", str(runs_dir))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params["run"] = run
    at.run()
    at.switch_page("views/circuit.py")
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def component(at: AppTest, name: str) -> list[dict]:
    """The data of every drawing of the st.components.v2 component `name` on the page."""
    return [json.loads(e.proto.json)[0] for e in at.get("bidi_component") if e.proto.component_name == name]


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_small_run(run_root, monkeypatch):
    name = next(n for n, path in runs.discover([run_root]).items() if path == run_root / "r23")
    at = open_page(name, run_root, monkeypatch)
    no_exception(at)
    assert at.title[0].value == "Circuit"
    heads = [h.value for h in at.header]
    for want in ("One pair through the model", "Sparse linear probes", "Periodic and memorising neurons", "Clock or pizza?"):
        assert want in heads
    # the numbers are grok.circuit's on the same checkpoint
    run = runs.open_run(run_root / "r23")
    model = run.model_at(None)
    ds = make_dataset(23, 0.5, run.config.seed)
    acts = measures.grid_activations(model)
    ks = sorted(measures.key_frequencies(acts.logits))
    want = circuit.measures_of(model, ds, acts, ks)
    assert metric(at, "Leak-free test accuracy") == f"{want['test_acc_novel']:.1%}"
    assert metric(at, "Gradient symmetricity") == f"{want['clock_or_pizza']['gradient_symmetricity']:.3f}"
    fit = circuit.clock_fit(acts.logits, ks)
    assert metric(at, "Ideal clock fit") == f"{fit.var_explained:.1%}"
    # the pair: x, y number inputs shared with the Ask page (17, 42 clipped to p - 1 by default)
    assert at.number_input(key="w_x").value == 17 and at.number_input(key="w_y").value == 22
    pair = circuit.pair_logits(acts.logits, fit, 17, 22)
    assert metric(at, "This pair: cosine") == f"{pair['cosine']:.3f}"
    lines = next(d for d in component(at, "grok_votes") if d.get("aria", "").startswith("the pair's logits"))
    model_c = (pair["model"] - pair["model"].mean()).numpy()
    assert lines["series"][0]["values"] == pytest.approx(model_c.tolist(), abs=1e-4)  # the pair's own centred logits
    assert lines["series"][1]["values"] == pytest.approx(pair["ideal"].numpy().tolist(), abs=1e-4)
    assert lines["marks"][0]["c"] == (17 + 22) % 23
    # step 1: every frequency's plane of W_E in one SVG component, x and y marked; step 2: each head's OV spectrum
    circ = component(at, "grok_circles")[0]
    assert [pl["k"] for pl in circ["planes"]] == ks and circ["marks"] == {"x": 17, "y": 22}
    assert np.array([pl["pts"] for pl in circ["planes"]]) == pytest.approx(circle_coords(model, ks).numpy(), abs=1e-4)
    heads = {d["title"]: d for d in component(at, "grok_bars")}
    ovn = attention.ov_freq_norms(model).numpy()  # [H, K]
    assert sorted(heads) == [f"head {h}" for h in range(ovn.shape[0])]
    for h in range(ovn.shape[0]):
        assert heads[f"head {h}"]["value"] == pytest.approx(ovn[h].tolist(), rel=1e-5) and not heads[f"head {h}"]["clickable"]
    at.number_input(key="w_x").set_value(3).run()
    no_exception(at)
    assert component(at, "grok_circles")[0]["marks"] == {"x": 3, "y": 22}  # the walk follows the pair
    assert metric(at, "This pair: cosine") == f"{circuit.pair_logits(acts.logits, fit, 3, 22)['cosine']:.3f}"
    # pruning: the slider's point is the precomputed curve's
    curve = want["pruning_curve"]
    n = curve["n_pruned"][2]
    at.slider(key="circuit_prune").set_value(n).run()
    no_exception(at)
    assert metric(at, "Test, pruned") == f"{curve['test_acc'][2]:.1%}"
    assert metric(at, "Train, pruned") == f"{curve['train_acc'][2]:.1%}"
    lines = next(d for d in component(at, "grok_votes") if d.get("xTitle", "").startswith("neurons pruned"))
    assert lines["xValues"] == curve["n_pruned"] and lines["marks"][0]["c"] == 2  # the curve, the slider's point marked
    assert lines["series"][1]["values"] == pytest.approx(curve["test_acc"])
    assert len(at.get("imgs")) or at.get("image")  # the attention maps are images
    # the replay timeline renders on demand
    at.toggle(key="circuit_timeline").set_value(True).run()
    no_exception(at)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_runs(name):
    at = open_page(name)
    no_exception(at)
    assert "Clock or pizza?" in [h.value for h in at.header]
    assert metric(at, "Clock or pizza") in ("clock", "pizza", "mixed", "none")
    if name == "mod113-no-wd":  # a memoriser: no clock, so no key-frequency labels and no pizza verdict
        assert metric(at, "Clock or pizza") == "none"
        assert any("No clock" in i.value for i in at.info)
