"""IPR (Doshi et al. 2023) on spectra with known values, on the clock's single-frequency
neurons, and the pruning curve against direct ablation."""
import math

import pytest
import torch

from grok import ipr, measures
from grok.data import make_dataset

try:
    from clock import clock_model
except ImportError:
    from tests.clock import clock_model

P, KEYS = 23, [3, 7]


def test_ipr_known_values():
    assert ipr.ipr(torch.tensor([0.0, 3.0, 0.0])).item() == pytest.approx(1.0)
    assert ipr.ipr(torch.ones(4)).item() == pytest.approx(0.25)  # spread over n bins: 1/n
    assert ipr.ipr(torch.tensor([1.0, 1.0, 0.0])).item() == pytest.approx(0.5)
    assert ipr.ipr(torch.zeros(5)).item() == 0.0
    x = torch.arange(P, dtype=torch.float64)
    w = 2 * math.pi / P
    assert ipr.rfft_ipr(torch.cos(3 * w * x + 0.4)).item() == pytest.approx(1.0, abs=1e-12)  # one bin
    # two frequencies with amplitudes 1 and 2: (1/5)^2 + (4/5)^2
    assert ipr.rfft_ipr(torch.cos(3 * w * x) + 2 * torch.sin(5 * w * x)).item() == pytest.approx(17 / 25, abs=1e-12)
    # the paper's calculate_ipr: np.power(a / sqrt(sum a^2), 2 r).sum()
    a = torch.tensor([0.3, 1.2, 0.7, 0.1], dtype=torch.float64)
    assert ipr.ipr(a).item() == pytest.approx(((a / a.norm()) ** 4).sum().item())


def test_clock_neurons_are_single_frequency():
    model = clock_model(P, KEYS)
    acts = measures.grid_activations(model)
    v = ipr.neuron_ipr(model, acts.pattern)
    used = P * P * len(KEYS)
    assert v[:used].min().item() == pytest.approx(1.0, abs=1e-5)  # U, V, W each one rfft bin
    assert v[used:].abs().max().item() == 0.0  # the unused neurons: zero weights, IPR 0
    U, V, W = ipr.neuron_weights(model, acts.pattern)
    n = 5  # neuron 5 of frequency 3: U(x) = cos(w x + phi), with head 0's mean attention ~1
    x = torch.arange(P, dtype=torch.float64)
    phi = 2 * math.pi * (n // P) / P
    assert torch.allclose(U[n], torch.cos(2 * math.pi * 3 / P * x + phi), atol=1e-4)


def test_pruning_curve_matches_direct_ablation():
    model = clock_model(P, KEYS)
    acts = measures.grid_activations(model)
    ds = make_dataset(P, 0.5, 0)
    g = torch.Generator().manual_seed(0)
    scores = torch.rand(model.cfg.d_mlp, generator=g)
    curve = ipr.pruning_curve(acts, measures.W_L(model), ds, scores, n_points=8)
    assert curve.n_pruned[0] == 0 and curve.n_pruned[-1] == model.cfg.d_mlp
    assert curve.train_acc[0] == 1.0 and curve.test_acc[0] == 1.0
    assert curve.order == sorted(range(model.cfg.d_mlp), key=lambda n: (scores[n].item(), n))
    i = 3
    n = curve.n_pruned[i]
    drop = torch.tensor(curve.order[:n])
    post = acts.post.clone()
    post[:, drop] = 0
    logits = acts.logits - (acts.post - post) @ measures.W_L(model)
    c = logits.argmax(-1) == ds.labels
    assert curve.test_acc[i] == pytest.approx(c[~ds.train_mask].float().mean().item(), abs=1e-6)
    assert curve.train_acc[i] == pytest.approx(c[ds.train_mask].float().mean().item(), abs=1e-6)
    # all neurons removed: the logits no longer depend on the MLP, the answer is gone
    assert curve.test_acc[-1] < 0.2


def test_summary():
    s = ipr.summary(torch.tensor([0.1, 0.2, 0.9, 1.0]))
    assert s["hist"][2] == 1 and s["hist"][-1] == 1 and sum(s["hist"]) == 4
    assert s["frac_above_0.5"] == 0.5 and s["median"] == pytest.approx(0.55)
