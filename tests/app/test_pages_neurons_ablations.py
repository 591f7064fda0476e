"""AppTest: the Ask, Trigonometric neurons, Frequency ablations and Home pages (issue 10).

Runs shown: p = 23 (200 steps with its replay: conftest's replay_run_p23, shared with the Circuit tests) and p = 3 (the smallest odd prime: one
frequency), plus a run folder holding the hand-built clock model of tests/clock.py, selected
through ?run= as grok.runs.discover names them; and the shipped pretrained/mod113-no-wd
(a memoriser) and pretrained/mod113 at its first checkpoint (no clock yet), where the pages
must say so in words and label no key frequency."""
from __future__ import annotations

import base64
import io
import json
import math
import re
import shutil
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from grok import checkpoint as ckpt
from grok import measures, runs
from grok.config import ModelConfig, TrainConfig
from grok.train import train
from grok.verdict import of_logits as verdict_of_logits

from components.grid import unpack

try:
    from clock import clock_model
except ImportError:  # tests/ imported as a package
    from tests.clock import clock_model

ROOT = Path(__file__).resolve().parents[2]
PRETRAINED = ROOT / "pretrained"
CLOCK_FREQS = (3, 7)
MY_PAGES = ("views/home.py", "views/query.py", "views/neurons.py", "views/ablations.py")


@pytest.fixture(scope="module")
def run_root(tmp_path_factory, replay_run_p23) -> Path:
    root = tmp_path_factory.mktemp("nruns")
    shutil.copytree(replay_run_p23, root / "r23")
    cfg3 = TrainConfig(model=ModelConfig(p=3), frac_train=0.5, steps=40, eval_every=10).validate()
    train(cfg3, root / "r3", progress=False)
    # the hand-built clock: logits = 20 sum_k cos(w_k (x + y - c)) at k = 3, 7 (exact, p phases)
    out = root / "clock23"
    out.mkdir()
    m = clock_model(23, CLOCK_FREQS)
    ccfg = TrainConfig(model=m.cfg, frac_train=0.3, steps=100, eval_every=50)
    (out / ckpt.CONFIG_FILE).write_text(json.dumps(ccfg.to_dict()))
    ckpt.save_model(out / ckpt.MODEL_FILE, m, ccfg, step=100)
    (out / ckpt.METRICS_FILE).write_text("".join(json.dumps({"step": s, "train_acc": 1.0, "test_acc": 1.0, "train_loss": 1e-3,
                                                             "test_loss": 1e-3}) + "\n" for s in (0, 50, 100)))
    return root


def name_of(root: Path, folder: str) -> str:
    names = [n for n, path in runs.discover([root]).items() if path == root / folder]
    assert len(names) == 1, names
    return names[0]


@pytest.fixture(scope="module")
def final(run_root):
    """The p = 23 run's final grid activations, key frequencies and clusters, to check the pages against."""
    model = runs.open_run(run_root / "r23").model_at(None)
    acts = measures.grid_activations(model)
    return acts, sorted(measures.key_frequencies(acts.logits)), measures.neuron_clusters(acts.post, 23)


@pytest.fixture
def page(run_root, monkeypatch):
    monkeypatch.setenv("GROK_RUNS_DIR", str(run_root))

    def open_page(path: str, run: str = "r23", **params) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        at.query_params["run"] = run if run.startswith("mod113") else name_of(run_root, run)
        at.run()
        at.switch_page(path)
        for k, v in params.items():  # a pasted link: the parameters arrive with the page
            at.query_params[k] = v
        return at.run()

    return open_page


# ---------------------------------------------------------------- reading the page
def charts_by_title(at: AppTest) -> dict[str, list]:
    """{title: [dataframes of its datasets]} for every Altair chart on the page."""
    out = {}
    for c in at.get("vega_lite_chart"):
        spec = json.loads(c.proto.spec)
        t = spec.get("title") or (spec.get("facet") and "facet") or ""
        if not t and spec.get("layer"):
            t = next((l.get("title") for l in spec["layer"] if l.get("title")), "")
        out.setdefault(str(t), []).extend(pa.ipc.open_stream(io.BytesIO(d.data.data)).read_all().to_pandas() for d in c.proto.datasets)
    return out


def bar_charts(at: AppTest) -> dict[str, dict]:
    """{title: data} of every per-frequency SVG bar chart on the page (components/bars.py)."""
    return {d["title"]: d for d in (json.loads(e.proto.json)[0] for e in at.get("bidi_component") if e.proto.component_name == "grok_bars")}


def component_data(at: AppTest, name: str) -> list[dict]:
    """The data of every drawing of one st.components.v2 component on the page."""
    return [json.loads(e.proto.json)[0] for e in at.get("bidi_component") if e.proto.component_name == name]


def freq_keys(at: AppTest) -> dict:
    """The data of the Ablations page's frequency keys (components/freqs.py)."""
    return next(json.loads(e.proto.json)[0] for e in at.get("bidi_component") if e.proto.component_name == "grok_freq_keys")


def clocks(at: AppTest) -> list[dict]:
    """The clocks the Ask page draws (components/clocks.py): [{k, m, points}], none without a clock."""
    return [c for e in at.get("bidi_component") if e.proto.component_name == "grok_clocks" for c in json.loads(e.proto.json)[0]["clocks"]]


def set_freqs(at: AppTest, freqs: list[int]) -> AppTest:
    """Choose the ablation set as the keys' callback does (AppTest cannot click inside a component)."""
    at.session_state["w_freqs"] = list(freqs)
    return at.run()


def grids(at: AppTest) -> dict[str, dict]:
    """{component key: data} of every grid component (components/grid.py) on the page."""
    out = {}
    for e in at.get("bidi_component"):
        if e.proto.component_name == "grok_grid":
            d = json.loads(e.proto.json)[0]
            out[d["alt"]] = d
    return out


def decode_png(url: str) -> np.ndarray:
    """The [h, w, 3] pixels of a data URL written by components.grid.png_data_url (filter 0 rows)."""
    raw = base64.b64decode(url.split(",", 1)[1])
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(raw):
        n = int.from_bytes(raw[pos:pos + 4], "big")
        tag, body = raw[pos + 4:pos + 8], raw[pos + 8:pos + 8 + n]
        if tag == b"IHDR":
            w, h = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
        elif tag == b"IDAT":
            idat += body
        pos += 12 + n
    rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + 3 * w)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(h, w, 3)


def outlined_cells(d: dict) -> set[tuple[int, int]]:
    """The cells the grid outlines: its overlay box (d["hl"]). The image itself is one pixel per
    cell (the browser scales it up sharp), so it stays the same when only the pair moves."""
    img = decode_png(d["src"])
    assert img.shape[:2] == (d["rows"], d["cols"]), (img.shape, d["rows"], d["cols"])
    return {tuple(d["hl"])} if d["hl"] is not None else set()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def top_predictions(at: AppTest) -> pd.DataFrame:
    """The Ask page's "Top predictions" table (HTML inside its markdown) as a DataFrame of its cells (strings)."""
    md = next(m.value for m in at.markdown if m.value.startswith("**Top predictions**"))
    head = re.findall(r"<th\b[^>]*>(.*?)</th>", md)
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", md.split("</thead>")[1])]
    assert rows and all(len(r) == len(head) for r in rows), md
    return pd.DataFrame(rows, columns=head)


def neuron_shown(at: AppTest) -> int:
    """The neuron the Neurons page shows: its input's value (a number, or a cluster's list) and
    the headings of its activation map and spectrum, which must agree."""
    n = int(at.session_state["w_neuron"])
    heads = [m.value for m in at.markdown if m.value.startswith(("**Neuron ", "**2-D Fourier coefficients of neuron "))]
    assert heads and all(h.startswith((f"**Neuron {n} ", f"**2-D Fourier coefficients of neuron {n}**")) for h in heads), heads
    return n


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def page_text(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "subheader", "title") for e in getattr(at, kind)]
    parts += [m.label + " " + str(m.value) + " " + str(m.proto.delta) for m in at.metric]
    return "\n".join(map(str, parts))


# ---------------------------------------------------------------- small and odd runs
@pytest.mark.parametrize("run", ["r3", "r23"])
@pytest.mark.parametrize("path", MY_PAGES)
def test_every_page_renders_for_small_runs(page, run, path):
    at = page(path, run=run, x="1", y="2")
    no_exception(at)
    p = 3 if run == "r3" else 23
    for d in grids(at).values():  # every grid image: p x p cells (or one row per neuron), the highlight one cell
        if d["hl"] is not None:
            assert (d["rows"], d["cols"]) == (p, p)
            assert outlined_cells(d) == {tuple(d["hl"])}, d["alt"]
            assert tuple(d["hl"]) == (1, 2)
            assert len(unpack(d)) == p * p


def test_ask_on_p3_shows_one_cell_and_logits(page):
    at = page("views/query.py", run="r3", x="2", y="2")
    no_exception(at)
    assert metric(at, "2 + 2 mod 3") == "1"
    table = top_predictions(at)
    assert list(table.columns) == ["answer", "correct", "probability", "log-probability", "logit"]
    assert len(table) == 3 and sorted(table["answer"].astype(int)) == [0, 1, 2]
    assert list(table.loc[table["correct"] == "✓", "answer"]) == ["1"]  # exactly the true answer, 2 + 2 mod 3, is ticked
    lp = table["log-probability"].astype(float)
    assert (lp <= 0).all() and lp.is_monotonic_decreasing
    d = grids(at)["the model's answers to all 3x3 pairs"]
    assert outlined_cells(d) == {(2, 2)}


def test_votes_chart_draws_the_sum_the_caption_names(page, final):
    acts, ks, _ = final
    at = page("views/query.py", x="4", y="9")
    no_exception(at)
    votes = next(json.loads(e.proto.json)[0] for e in at.get("bidi_component") if e.proto.component_name == "grok_votes")
    total, parts = np.array(votes["total"]), np.array([s["values"] for s in votes["series"]])  # [p], [K, p]
    assert [int(s["name"]) for s in votes["series"]] == list(ks) and parts.shape == (len(ks), len(total))
    assert total == pytest.approx(parts.sum(axis=0), abs=1e-3)  # the thick line is the frequencies' sum
    assert votes["marks"][0] == {"c": (4 + 9) % len(total), "label": f"true answer {(4 + 9) % len(total)}", "colour": "#000000"}
    peak = int(total.argmax())
    assert any(f"peaks at c = {peak}" in c.value for c in at.caption)


# ---------------------------------------------------------------- the clock verdict on the pages
def test_memoriser_gets_no_clock_and_no_key_frequency(page):
    if not (PRETRAINED / "mod113-no-wd" / "config.json").exists():
        pytest.skip("pretrained/mod113-no-wd is not shipped here")
    for path in ("views/query.py", "views/neurons.py", "views/ablations.py"):
        at = page(path, run="mod113-no-wd")
        no_exception(at)
        assert any(i.value.startswith("No clock:") for i in at.info), path  # the words that say why
        text = page_text(at)
        assert "key frequency" not in text.replace("not a key frequency", "").replace("labelled a key frequency", ""), path
        for c in at.get("vega_lite_chart"):
            spec = c.proto.spec
            assert '"key frequency"' not in spec, path  # no key bars
        assert not clocks(at), path  # no clocks
    at = page("views/query.py", run="mod113-no-wd")
    assert any("No clock is drawn" in c.value for c in at.caption)
    at = page("views/ablations.py", run="mod113-no-wd")
    d = freq_keys(at)
    assert d["keys"] == [] and d["presetLabel"] == "strongest"  # nothing marked key, the preset named for what it is
    at = page("views/neurons.py", run="mod113-no-wd")
    assert "key frequency" not in str(next(m for m in at.metric if m.label == "Its frequency").proto.delta)


def test_early_checkpoint_has_no_clock_yet(page):
    if not (PRETRAINED / "mod113" / "config.json").exists():
        pytest.skip("pretrained/mod113 is not shipped here")
    first = runs.open_run(PRETRAINED / "mod113").weight_steps()[0]
    at = page("views/query.py", run="mod113", step=str(first))
    no_exception(at)
    assert any(i.value.startswith(("No clock", "No clock yet")) for i in at.info)
    assert not clocks(at)
    at = page("views/neurons.py", run="mod113", step=str(first))
    no_exception(at)
    assert "key frequencies of this checkpoint" not in page_text(at)
    assert not any('"key frequency"' in c.proto.spec for c in at.get("vega_lite_chart"))


def test_clock_model_shows_its_frequencies_and_a_clock(page):
    at = page("views/query.py", run="clock23", x="5", y="11")
    no_exception(at)
    assert not at.info  # a clock: no "no clock" notice
    drawn = clocks(at)
    assert sorted(c["k"] for c in drawn) == list(CLOCK_FREQS)
    for c in drawn:  # x, y, their angles added and the answer, all inside the clock's axes
        assert [q["point"] for q in c["points"]] == ["x", "y", "angles of x and y added", "model's answer"]
        assert [q["value"] for q in c["points"]] == ["5", "11", "", str((5 + 11) % 23)]
        assert all(max(abs(q["cos"]), abs(q["sin"])) < c["m"] for q in c["points"])
        added = c["points"][2]
        assert math.hypot(added["cos"], added["sin"]) == pytest.approx(1.0)  # the ring marker sits on the unit circle
    assert metric(at, "Model says") == str((5 + 11) % 23)
    cap = next(c.value for c in at.caption if "Its angle matches the added angles" in c.value)
    assert "k = 3, 7" in cap  # the model's own answer lands where x's and y's angles add, at both frequencies
    at = page("views/neurons.py", run="clock23")
    no_exception(at)
    assert "key frequencies of this checkpoint: **3, 7**" in page_text(at)
    for d in bar_charts(at).values():  # both spectra: blue bars exactly at the clock's frequencies
        assert [k for k, kind in zip(d["k"], d["kind"]) if kind == "key frequency"] == list(CLOCK_FREQS)
    assert [pl["k"] for pl in component_data(at, "grok_circles")[0]["planes"]] == list(CLOCK_FREQS)
    at = page("views/ablations.py", run="clock23")
    no_exception(at)
    assert freq_keys(at)["selected"] == freq_keys(at)["keys"] == list(CLOCK_FREQS)
    assert metric(at, "test accuracy").startswith("0.") or float(metric(at, "test accuracy").rstrip("%")) < 20  # removing both breaks it


# ---------------------------------------------------------------- Home's story
def test_home_tells_the_story_of_the_selected_run(page):
    at = page("views/home.py", run="r23")
    no_exception(at)
    assert any(b.label.startswith("Ask the memorising model at step") or b.label.startswith("Ask the model at step") for b in at.button)
    if (PRETRAINED / "mod113-no-wd" / "config.json").exists():
        at = page("views/home.py", run="mod113-no-wd")
        no_exception(at)
        text = page_text(at)
        assert "never builds a clock" in text and "3 · Clean-up" not in text
    if (PRETRAINED / "mod113" / "config.json").exists():
        at = page("views/home.py", run="mod113")
        no_exception(at)
        labels = [b.label for b in at.button]
        assert any(l.startswith("See the clock half-built at step") for l in labels), labels
        at.button(key="story_wait").click().run()
        no_exception(at)
        assert at.title[0].value == "Trigonometric neurons"
        want = int(next(l for l in labels if l.startswith("See the clock")).rsplit(" ", 1)[1].replace(",", ""))
        assert at.session_state["step"] == want


# ---------------------------------------------------------------- Trigonometric neurons
def test_neurons_page_shows_the_models_activation(page, final, run_root):
    at = page("views/neurons.py")
    no_exception(at)
    assert "MLP neurons per frequency" in charts_by_title(at)
    acts, ks, cl = final
    bars = bar_charts(at)  # the two spectra are SVG bar charts, their values the model's own
    model = runs.open_run(run_root / "r23").model_at(None)
    e, w = bars["Embedding W_E: Fourier norm per frequency"], bars["W_L over the output c: norm per frequency"]
    assert e["k"] == w["k"] == list(range(1, 12))
    assert e["clickable"] and not w["clickable"]  # a click on the embedding's bars toggles the ablation set
    v = verdict_of_logits(acts.logits)  # blue "key frequency" bars only where grok.verdict sees a clock
    for d in (e, w):
        assert [k for k, kind in zip(d["k"], d["kind"]) if kind == "key frequency"] == sorted(v.key_freqs)
        assert [k for k, kind in zip(d["k"], d["kind"]) if kind != "other"] == sorted(v.freqs if v.state != "none" else ())
    assert e["value"] == pytest.approx(measures.embed_freq_norms(model).tolist(), rel=1e-5)
    assert w["value"] == pytest.approx(measures.unembed_freq_norms(model).tolist(), rel=1e-5)
    circles = component_data(at, "grok_circles")  # the numbers on each key frequency's circle, coloured by value
    assert len(circles) == 1 and [pl["k"] for pl in circles[0]["planes"]] == ks and circles[0]["byValue"]
    assert all(len(pl["pts"]) == 23 for pl in circles[0]["planes"])
    n = neuron_shown(at)
    d = next(v for k, v in grids(at).items() if k.startswith("activation of neuron"))
    assert d["alt"] == f"activation of neuron {n} over all pairs"
    assert np.array(unpack(d), dtype=float) == pytest.approx(acts.post[:, n].numpy(), rel=5e-3, abs=1e-4)  # the tooltip keeps 3 significant figures


def test_choosing_another_neuron_changes_the_map(page, final):
    acts, _, _ = final
    at = page("views/neurons.py")
    current = int(at.number_input(key="w_neuron").value)
    other = next(i for i in range(acts.post.shape[1]) if i != current and (acts.post[:, i] - acts.post[:, current]).abs().max() > 1e-3)
    at.number_input(key="w_neuron").set_value(other).run()
    no_exception(at)
    assert neuron_shown(at) == other
    d = next(v for k, v in grids(at).items() if k.startswith("activation of neuron"))
    assert np.array(unpack(d), dtype=float) == pytest.approx(acts.post[:, other].numpy(), rel=5e-3, abs=1e-4)  # the tooltip keeps 3 significant figures


def test_bad_neuron_in_the_link_warns(page):
    at = page("views/neurons.py", neuron="99999")
    no_exception(at)
    assert any("neuron=99999" in w.value for w in at.warning), [w.value for w in at.warning]


def test_neuron_and_pair_from_the_link(page, final):
    acts, _, _ = final
    at = page("views/neurons.py", neuron="3", x="4", y="19")
    no_exception(at)
    assert neuron_shown(at) == 3
    assert metric(at, "Activation at (4, 19)") == f"{acts.post[4 * 23 + 19, 3].item():.3g}"


# ---------------------------------------------------------------- Frequency ablations
def test_removing_frequencies_changes_the_accuracy_and_the_grid(page, final):
    at = page("views/ablations.py", site="logits", mode="remove")
    preset = freq_keys(at)["selected"]
    set_freqs(at, [])  # removing nothing: accuracy as trained
    no_exception(at)
    base = metric(at, "train accuracy")
    set_freqs(at, preset)
    no_exception(at)
    assert at.query_params["freqs"] in (",".join(map(str, preset)), [",".join(map(str, preset))])
    d = grids(at)["ablation outcome of every pair"]
    codes = np.array(unpack(d))
    assert d["names"][1] == "broken"
    broken = int((codes == 1).sum())
    assert any(f"{broken:,} sums break" in c.value for c in at.caption)
    if metric(at, "train accuracy") != base:
        assert broken > 0


@pytest.mark.parametrize("site", ["embedding", "neurons", "logits"])
@pytest.mark.parametrize("mode", ["remove", "keep"])
def test_every_site_and_mode_renders(page, site, mode):
    at = page("views/ablations.py", site=site, mode=mode)
    no_exception(at)
    assert at.radio(key="w_site").value == site and at.radio(key="w_mode").value == mode
    assert "at the" in at.subheader[0].value


def test_bad_freqs_in_the_link_warn_and_fall_back(page):
    at = page("views/ablations.py", freqs="banana")
    no_exception(at)
    assert any("freqs=banana" in w.value for w in at.warning), [w.value for w in at.warning]
    at = page("views/ablations.py", freqs="3,99", site="nowhere")
    no_exception(at)
    texts = " ".join(w.value for w in at.warning)
    assert "freqs=3,99" in texts and "site=nowhere" in texts


def test_freqs_from_the_link(page):
    at = page("views/ablations.py", freqs="1,2", mode="keep")
    no_exception(at)
    assert freq_keys(at)["selected"] == [1, 2]
    assert "keep only k = 1, 2" in at.subheader[0].value
    bars = next(json.loads(e.proto.json)[0] for e in at.get("bidi_component") if e.proto.component_name == "grok_bars")
    assert bars["selected"] == [1, 2]  # the chosen set is outlined on the clickable spectrum
    assert bars["k"] == list(range(1, 12)) and len(bars["value"]) == 11 and bars["floor"] <= min(v for v in bars["value"] if v > 0)


def test_ask_about_the_selected_pair_opens_ask_on_it(page):
    at = page("views/ablations.py", x="4", y="19")
    no_exception(at)
    assert outlined_cells(grids(at)["ablation outcome of every pair"]) == {(4, 19)}
    at.button(key="ablations_ask").click().run()
    no_exception(at)
    assert at.title[0].value == "Ask the model"
    assert metric(at, "4 + 19 mod 23") == "0"
