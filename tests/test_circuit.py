"""The ideal-clock fit and the per-pair walk on the hand-built clock (known answers), and the
bundle of new measures the CLI and the page read."""
import math

import pytest
import torch

from grok import circuit, measures
from grok.data import make_dataset

try:
    from pizza_model import pizza_model
except ImportError:  # tests/ imported as a package
    from tests.pizza_model import pizza_model

P, KEYS = 23, [3, 7]  # the conftest's clock23


def test_clock_fit_is_exact_on_the_clock(clock23):
    _, acts = clock23
    fit = circuit.clock_fit(acts.logits, KEYS)
    assert fit.a == pytest.approx([20.0, 20.0], rel=1e-5)  # the construction's scale
    assert fit.var_explained == pytest.approx(1.0, abs=1e-6)
    assert fit.cosine == pytest.approx(1.0, abs=1e-6)
    assert fit.pair_cosine.min().item() > 0.9999 and fit.pair_r2.min().item() > 0.9999
    assert fit.var_explained == pytest.approx(measures.logit_var_explained(acts.logits, KEYS), abs=1e-9)


def test_clock_fit_wrong_frequency_explains_nothing(clock23):
    _, acts = clock23
    fit = circuit.clock_fit(acts.logits, [5])
    assert abs(fit.a[0]) < 1e-4 and fit.var_explained < 1e-6


def test_clock_fit_recovers_chosen_amplitudes():
    p = 31
    L = circuit.ideal_logits(p, [2, 9], [3.0, -1.5]) + 7.0  # plus a constant: not a clock term
    fit = circuit.clock_fit(L.float(), [2, 9])
    assert fit.a == pytest.approx([3.0, -1.5], rel=1e-5)
    assert fit.var_explained == pytest.approx(1.0, abs=1e-6)
    half = circuit.clock_fit(L.float(), [2])  # energy a^2: 9 / (9 + 2.25)
    assert half.var_explained == pytest.approx(9 / 11.25, abs=1e-5)
    assert half.cosine == pytest.approx(math.sqrt(9 / 11.25), abs=1e-5)


def test_pizza_fits_the_clock_less_well():
    model = pizza_model(P, KEYS)
    fit = circuit.clock_fit(measures.grid_activations(model).logits, KEYS)
    assert 0.6 < fit.var_explained < 0.95  # |cos(w(x-y)/2)| modulates the amplitude


def test_cluster_terms_and_output(clock23):
    model, acts = clock23
    k, x, y = 3, 4, 11
    members = list(range(0, P * P))  # the first frequency's neurons
    rows = circuit.cluster_terms(acts.post, P, members, k, x, y)
    by = {r["term"]: r for r in rows}
    w = 2 * math.pi * k / P
    assert by["cos x cos y"]["value at (x, y)"] == pytest.approx(math.cos(w * x) * math.cos(w * y))
    assert by["sin x"]["value at (x, y)"] == pytest.approx(math.sin(w * x))
    # relu(cos a + cos b) summed over all phase pairs: the cluster's energy sits in the
    # single waves and the products of frequency k (the rest is in harmonics 2k, 3k, ...)
    assert 0.8 < sum(r["share of energy"] for r in rows) <= 1.0 + 1e-9
    out = circuit.cluster_output(acts.post, measures.W_L(model), members, k, x, y)
    assert out["share"] > 0.999  # the cluster writes only cos / sin(w c)
    d = (out["theta"] - out["w(x+y)"] + math.pi) % (2 * math.pi) - math.pi
    assert abs(d) < 1e-4  # its vote peaks at c = x + y


def test_pair_logits(clock23):
    _, acts = clock23
    fit = circuit.clock_fit(acts.logits, KEYS)
    d = circuit.pair_logits(acts.logits, fit, 5, 20)
    assert int(d["model"].argmax()) == 25 % P == int(d["ideal"].argmax()) == int(d["sum_cos"].argmax())
    assert d["cosine"] > 0.9999
    assert torch.allclose(d["ideal"], 20 * d["sum_cos"], atol=1e-3)


def test_measures_of_bundle(clock23):
    model, acts = clock23
    ds = make_dataset(P, 0.5, 0)
    r = circuit.measures_of(model, ds, acts)
    assert r["freqs"] == KEYS and r["clock_state"] == "clock"
    assert r["clock_or_pizza"]["verdict"] == "clock"
    assert r["clock_fit"]["var_explained"] == pytest.approx(1.0, abs=1e-6)
    assert r["test_acc_novel"] == 1.0 and r["n_test_novel"] > 0
    assert set(r["probes_by_dims"]) == {"resid", "attn", "neurons"}
    assert r["pruning_curve"]["n_pruned"][0] == 0 and r["pruning_curve"]["n_pruned"][-1] == model.cfg.d_mlp
    assert r["pruning_curve"]["test_acc"][0] == 1.0
    assert len(r["attention"]["mean_to_x"]) == model.cfg.n_heads
    assert r["attention"]["mean_to_x"][0] > 0.99 and r["attention"]["mean_to_y"][1] > 0.99  # head 0 reads x, head 1 y
