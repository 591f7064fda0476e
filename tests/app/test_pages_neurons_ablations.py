"""AppTest: the Trigonometric neurons and Frequency ablations pages on a small run made here
(p = 23, 200 steps, with its replay), selected through ?run= as grok.runs.discover names it."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from grok import measures, runs
from grok import replay as replay_mod
from grok.config import ModelConfig, TrainConfig
from grok.train import train

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nruns")
    cfg = TrainConfig(model=ModelConfig(p=23), frac_train=0.5, steps=200, eval_every=50).validate()
    train(cfg, root / "r23", progress=False)
    replay_mod.build(root / "r23", progress=False)
    return root


@pytest.fixture(scope="module")
def run_name(run_root) -> str:
    names = [n for n, path in runs.discover([run_root]).items() if path == run_root / "r23"]
    assert names == [f"{run_root.name}/r23"]
    return names[0]


@pytest.fixture(scope="module")
def final(run_root):
    """The run's final grid activations and key frequencies, to check the pages against."""
    model = runs.open_run(run_root / "r23").model_at(None)
    acts = measures.grid_activations(model)
    return acts, sorted(measures.key_frequencies(acts.logits)), measures.neuron_clusters(acts.post, 23)  # the pages show them in k order


@pytest.fixture
def page(run_root, run_name, monkeypatch):
    monkeypatch.setenv("GROK_RUNS_DIR", str(run_root))

    def open_page(path: str, **params) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params["run"] = run_name
        at.run()
        at.switch_page(path)
        for k, v in params.items():  # a pasted link: the parameters arrive with the page
            at.query_params[k] = v
        return at.run()

    return open_page


def charts_by_title(at: AppTest) -> dict[str, list]:
    """{title: [dataframes of its datasets]} for every Altair chart on the page."""
    out = {}
    for c in at.get("vega_lite_chart"):
        spec = json.loads(c.proto.spec)
        title = spec.get("title") or (spec.get("facet") and "facet") or ""
        out[str(title)] = [pa.ipc.open_stream(io.BytesIO(d.data.data)).read_all().to_pandas() for d in c.proto.datasets]
    return out


def neuron_map(at: AppTest):
    """(title, values over the grid in row order) of the neuron activation heatmap."""
    ch = charts_by_title(at)
    title = next(t for t in ch if t.startswith("Neuron ") and "after ReLU" in t)
    df = next(d for d in ch[title] if "value" in d and len(d) == 23 * 23)
    return title, df.sort_values(["row", "col"])["value"].to_numpy()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


# ---------------------------------------------------------------- Trigonometric neurons
def test_neurons_page_renders_its_charts(page, final):
    at = page("views/neurons.py")
    no_exception(at)
    ch = charts_by_title(at)
    for want in ("Embedding W_E: Fourier norm per frequency", "MLP neurons per frequency",
                 "W_L over the output c: Fourier norm per frequency", "Each neuron's row of W_L, per frequency"):
        assert want in ch, list(ch)
    assert any(t.startswith("2-D Fourier coefficients of neuron") for t in ch)
    acts, ks, cl = final
    # the default neuron is the best-explained one of the first key frequency, and it is in the URL
    members = sorted((i for i in range(cl.freq.numel()) if int(cl.freq[i]) == ks[0]), key=lambda i: (-cl.frac[i].item(), i))
    want = members[0] if members else int(cl.frac.argmax())
    assert at.query_params["neuron"] == [str(want)] or at.query_params["neuron"] == str(want)
    title, values = neuron_map(at)
    assert title.startswith(f"Neuron {want} ")
    assert values == pytest.approx(acts.post[:, want].numpy(), abs=1e-4)  # the chart shows the model's activation
    assert not at.warning
    assert len(at.latex) >= 2  # the identity with the model's numbers


def test_choosing_another_neuron_changes_the_heatmap(page, final):
    acts, _, _ = final
    at = page("views/neurons.py")
    _, before = neuron_map(at)
    current = int(at.number_input(key="w_neuron").value)
    other = next(i for i in range(acts.post.shape[1]) if i != current and (acts.post[:, i] - acts.post[:, current]).abs().max() > 1e-3)
    at.number_input(key="w_neuron").set_value(other).run()
    no_exception(at)
    title, after = neuron_map(at)
    assert title.startswith(f"Neuron {other} ")
    assert metric(at, "Neuron") == f"#{other}"
    assert after == pytest.approx(acts.post[:, other].numpy(), abs=1e-4)
    assert abs(after - before).max() > 1e-3


def test_a_cluster_lists_its_neurons_best_first(page, final):
    _, _, cl = final
    at = page("views/neurons.py")
    options = at.selectbox(key="w_cluster").options
    if len(options) < 2:
        pytest.skip("no key frequency has neurons in this tiny run")
    k = int(at.selectbox(key="w_cluster").options[1].split()[2])  # "k = 9 (12 clustered of 15)"
    at.selectbox(key="w_cluster").set_value(k).run()
    no_exception(at)
    listed = [int(o.split(":")[0][1:]) for o in at.selectbox(key="w_neuron").options]  # "#12: 80% explained"
    assert listed and all(int(cl.freq[i]) == k for i in listed)
    fr = [cl.frac[i].item() for i in listed]
    assert fr == sorted(fr, reverse=True)
    assert at.selectbox(key="w_neuron").value == listed[0]
    assert metric(at, "Neuron") == f"#{listed[0]}"


def test_bad_neuron_in_the_link_warns(page):
    at = page("views/neurons.py", neuron="99999")
    no_exception(at)
    assert any("neuron=99999" in w.value for w in at.warning), [w.value for w in at.warning]
    assert neuron_map(at)[0].startswith("Neuron ")


def test_neuron_and_pair_from_the_link(page, final):
    acts, _, _ = final
    at = page("views/neurons.py", neuron="3", x="4", y="19")
    no_exception(at)
    assert metric(at, "Neuron") == "#3"
    assert metric(at, "Activation at (4, 19)") == f"{acts.post[4 * 23 + 19, 3].item():.3g}"


# ---------------------------------------------------------------- Frequency ablations
def test_ablations_page_renders_with_key_frequencies_preselected(page, final):
    _, ks, _ = final
    at = page("views/ablations.py")
    no_exception(at)
    assert sorted(at.multiselect(key="w_freqs").value) == sorted(ks)
    ch = charts_by_title(at)
    assert any(t.startswith("Which sums break") for t in ch), list(ch)
    assert "Excluded loss per frequency: remove one k from the logits" in ch
    for label in ("train accuracy", "test accuracy", "all accuracy", "restricted loss (all pairs)", "excluded loss (train pairs)"):
        metric(at, label)


def test_removing_the_key_frequencies_changes_the_accuracy(page, final):
    acts, ks, _ = final
    at = page("views/ablations.py", site="logits", mode="remove")
    at.multiselect(key="w_freqs").set_value([]).run()  # removing nothing: accuracy as trained
    no_exception(at)
    base = metric(at, "train accuracy")
    assert at.metric[0].delta.startswith("+0.0") or at.metric[0].delta.startswith("-0.0")
    at.multiselect(key="w_freqs").set_value(list(ks)).run()
    no_exception(at)
    assert metric(at, "train accuracy") != base
    assert at.query_params["freqs"] in (",".join(map(str, sorted(ks))), [",".join(map(str, sorted(ks)))])
    # the broken-pairs grid agrees with the ablation: some pair is now 'broken'
    grid = next(d for t, ds in charts_by_title(at).items() if t.startswith("Which sums break") for d in ds)
    assert (grid["outcome"] == "broken").any()


@pytest.mark.parametrize("site", ["embedding", "neurons", "logits"])
@pytest.mark.parametrize("mode", ["remove", "keep"])
def test_every_site_and_mode_renders(page, site, mode):
    at = page("views/ablations.py", site=site, mode=mode)
    no_exception(at)
    assert at.radio(key="w_site").value == site and at.radio(key="w_mode").value == mode
    assert "at the" in at.subheader[0].value


def test_bad_freqs_in_the_link_warn_and_fall_back(page, final):
    _, ks, _ = final
    at = page("views/ablations.py", freqs="banana")
    no_exception(at)
    assert any("freqs=banana" in w.value for w in at.warning), [w.value for w in at.warning]
    assert sorted(at.multiselect(key="w_freqs").value) == sorted(ks)
    at = page("views/ablations.py", freqs="3,99", site="nowhere")
    no_exception(at)
    texts = " ".join(w.value for w in at.warning)
    assert "freqs=3,99" in texts and "site=nowhere" in texts


def test_freqs_from_the_link(page):
    at = page("views/ablations.py", freqs="1,2", mode="keep")
    no_exception(at)
    assert at.multiselect(key="w_freqs").value == [1, 2]
    assert "keep only k = 1, 2" in at.subheader[0].value
