"""grok/neurons.py on hand-made neurons whose trigonometry is known exactly."""
import math

import pytest
import torch

from grok import measures, neurons

P = 23


def grid(p: int = P):
    x = torch.arange(p, dtype=torch.float64)
    return x[:, None], x[None, :]


def wave(k: int, v, p: int = P):
    w = 2 * math.pi * k / p
    return torch.cos(w * v), torch.sin(w * v)


def test_pure_cos_of_sum_is_cc_minus_ss():
    """act = cos(w (x + y)): alpha_cc = 1, alpha_ss = -1, nothing else; the fit is exact."""
    k, (x, y) = 5, grid()
    act = torch.cos(2 * math.pi * k * (x + y) / P)
    for px, py in [(0, 0), (3, 17), (22, 22)]:
        d = neurons.trig_terms(act, k, px, py)
        assert d.coef("cos", "cos") == pytest.approx(1, abs=1e-9)
        assert d.coef("sin", "sin") == pytest.approx(-1, abs=1e-9)
        for xw, yw in neurons.TERMS[2:]:
            assert d.coef(xw, yw) == pytest.approx(0, abs=1e-9)
        assert d.mean == pytest.approx(0, abs=1e-12)
        assert d.fitted == pytest.approx(d.actual, abs=1e-9)
        assert d.actual == pytest.approx(math.cos(2 * math.pi * k * (px + py) / P), abs=1e-12)
        assert d.cos_sum == pytest.approx(d.cos_x * d.cos_y - d.sin_x * d.sin_y, abs=1e-12)
        assert d.sin_sum == pytest.approx(d.sin_x * d.cos_y + d.cos_x * d.sin_y, abs=1e-12)
        assert (d.sum_cos, d.sum_sin, d.diff_cos, d.diff_sin) == pytest.approx((1, 0, 0, 0), abs=1e-9)
        assert d.frac == pytest.approx(1, abs=1e-12)


def test_known_mixture_recovers_every_coefficient():
    """A map built from all eight products of frequency 4 plus a constant and a frequency-9
    wave: each coefficient comes back; the other frequency is left out of the fit."""
    k, (x, y) = 4, grid()
    cx, sx = wave(k, x)
    cy, sy = wave(k, y)
    want = {("cos", "cos"): 1.5, ("sin", "sin"): -0.5, ("cos", "sin"): 0.75, ("sin", "cos"): -0.25,
            ("cos", "1"): 0.3, ("sin", "1"): -0.2, ("1", "cos"): 0.1, ("1", "sin"): 0.6}
    waves_x = {"cos": cx, "sin": sx, "1": torch.ones_like(cx)}
    waves_y = {"cos": cy, "sin": sy, "1": torch.ones_like(cy)}
    act = 2.0 + sum(a * waves_x[xw] * waves_y[yw] for (xw, yw), a in want.items())
    other = 0.8 * wave(9, x + y)[0]  # cos(w_9 (x + y)): orthogonal to every frequency-4 term
    d = neurons.trig_terms(act + other, k, 7, 11)
    # the page hands in the spectrum it draws anyway: the same decomposition, one transform fewer
    assert neurons.trig_terms(act + other, k, 7, 11, spectrum=neurons.centred_spectrum(act + other)) == d
    for (xw, yw), a in want.items():
        assert d.coef(xw, yw) == pytest.approx(a, abs=1e-9), (xw, yw)
    assert d.mean == pytest.approx(2.0, abs=1e-9)
    assert d.actual - d.fitted == pytest.approx(other[7, 11].item(), abs=1e-9)
    assert d.sum_cos == pytest.approx((1.5 + 0.5) / 2) and d.diff_cos == pytest.approx((1.5 - 0.5) / 2)
    assert d.sum_sin == pytest.approx((-0.25 + 0.75) / 2) and d.diff_sin == pytest.approx((-0.25 - 0.75) / 2)
    t = {(t.x_wave, t.y_wave): t for t in d.terms}
    assert t["cos", "sin"].value == pytest.approx(d.cos_x * d.sin_y)
    assert t["cos", "sin"].contribution == pytest.approx(0.75 * d.cos_x * d.sin_y)
    assert t["1", "sin"].name == "sin(wy)" and t["sin", "cos"].name == "sin(wx) cos(wy)"
    # fraction explained: energy of the frequency-4 terms over the total centred energy
    e4 = ((act - act.mean()) ** 2).sum().item()
    eo = (other**2).sum().item()
    assert d.frac == pytest.approx(e4 / (e4 + eo), rel=1e-9)


def test_relu_neuron_matches_cluster_fraction():
    """relu(cos(w x) + cos(w y)), a ReLU neuron of the clock: the fraction equals the one the
    clustering uses, the 3x3 fit is close but not exact (ReLU harmonics). The map is even in x
    and in y, so it has cos.cos but no sin.sin: cos(a) cos(b) = (cos(a + b) + cos(a - b)) / 2,
    so this neuron carries cos(w (x + y)) and cos(w (x - y)) equally (not a clock neuron alone)."""
    k, (x, y) = 3, grid()
    act = (wave(k, x)[0] + wave(k, y)[0]).clamp_min(0)
    d = neurons.trig_terms(act, k, 2, 5)
    fr = measures.neuron_freq_fractions(act.reshape(-1, 1).float(), P)  # [K, 1]
    assert d.frac == pytest.approx(fr[k - 1, 0].item(), abs=1e-5)
    assert 0.85 < d.frac < 1
    assert d.coef("cos", "cos") > 0.1
    for xw, yw in neurons.TERMS[1:]:
        if "sin" in (xw, yw):
            assert d.coef(xw, yw) == pytest.approx(0, abs=1e-9), (xw, yw)
    assert d.coef("cos", "1") == pytest.approx(d.coef("1", "cos")) and d.coef("cos", "1") > 0.1
    assert d.sum_cos == pytest.approx(d.coef("cos", "cos") / 2) and d.diff_cos == pytest.approx(d.sum_cos)
    assert abs(d.fitted - d.actual) < 0.25 * (act.max() - act.min()).item()


def test_bad_frequency_is_refused():
    with pytest.raises(ValueError):
        neurons.trig_terms(torch.zeros(P, P), 12, 0, 0)  # (23 - 1) / 2 = 11 frequencies


def test_spectrum_rows():
    assert neurons.spectrum_rows(P, [5, 2, 5]) == [0, 3, 4, 9, 10]


def test_ranked_members_and_cluster_order():
    freq = torch.tensor([3, 5, 3, 7, 5, 3])
    frac = torch.tensor([0.90, 0.95, 0.99, 0.50, 0.86, 0.99])
    clustered = frac >= 0.85
    assert neurons.ranked_members(freq, frac, 3) == [2, 5, 0]  # tie 0.99: lower index first
    assert neurons.ranked_members(freq, frac, 4) == []
    # key frequencies 5 then 3; neuron 3 (frequency 7) is unclustered and goes last
    assert neurons.cluster_order(freq, frac, clustered, [5, 3]) == [1, 4, 2, 5, 0, 3]
    # frequency 3 not key: its cluster follows the key one
    assert neurons.cluster_order(freq, frac, clustered, [5]) == [1, 4, 2, 5, 0, 3]
    assert neurons.cluster_order(freq, frac, clustered, [3, 5]) == [2, 5, 0, 1, 4, 3]


def test_wl_freq_norms_one_frequency_per_neuron():
    """Clock-like neurons each write cos(w_k c + phase) to the logits (frequency k_i for
    neuron i): each W_L row has energy at its own frequency only; a silent neuron has none."""
    c = torch.arange(P, dtype=torch.float64)
    ks = [3, 7, 7, 10]
    rows = [(1 + i) * torch.cos(2 * math.pi * k * c / P + 0.7 * i) for i, k in enumerate(ks)] + [torch.zeros(P, dtype=torch.float64)]
    N = neurons.wl_freq_norms(torch.stack(rows))  # [5, K]
    assert N.shape == (5, (P - 1) // 2)
    for i, k in enumerate(ks):
        assert N[i].argmax().item() + 1 == k
        assert (N[i] ** 2)[k - 1] / (N[i] ** 2).sum() > 1 - 1e-6
    assert N[4].abs().max() < 1e-6


def test_wl_freq_norms_single_wave():
    c = torch.arange(P, dtype=torch.float64)
    WL = torch.stack([3 * torch.cos(2 * math.pi * 4 * c / P + 0.3), torch.ones(P, dtype=torch.float64)])  # [2, p]
    N = neurons.wl_freq_norms(WL)
    assert N[0, 3].item() == pytest.approx(3 * math.sqrt(P / 2), rel=1e-5)  # |a cos| = a sqrt(p/2)
    assert N[0].sum().item() == pytest.approx(N[0, 3].item(), rel=1e-5)
    assert N[1].abs().max().item() < 1e-5  # a constant has no frequency
