"""Sparse linear probes: exact on the clock's embedding, low on random weights, and the greedy
selection equal to brute force on small cases."""

import pytest
import torch

from grok import measures, probes
from grok.config import ModelConfig
from grok.model import Transformer

P, KEYS = 23, [3, 7]  # the conftest's clock23


def test_r2_known_values():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(50, 3, generator=g, dtype=torch.float64)
    T = torch.stack([2 * X[:, 0] - X[:, 2] + 1, torch.ones(50, dtype=torch.float64) * 3], 1)
    r = probes.r2(X, T)
    assert r[0].item() == pytest.approx(1.0, abs=1e-12)
    assert r[1].item() == 0.0  # a constant target has no variance to explain
    assert probes.r2(X[:, :0], T)[0].item() == pytest.approx(0.0, abs=1e-12)  # intercept only
    x = torch.arange(-3.0, 4.0, dtype=torch.float64)
    assert probes.r2(x[:, None], (x**2)[:, None])[0].item() == pytest.approx(0.0, abs=1e-12)  # orthogonal


def test_greedy_matches_brute_force():
    g = torch.Generator().manual_seed(1)
    m, N = 40, 9
    X = torch.randn(m, N, generator=g, dtype=torch.float64)
    T = X[:, [2, 5]] @ torch.tensor([[1.0, 0.3], [0.5, -1.0]], dtype=torch.float64) + 0.8 * torch.randn(m, 2, generator=g, dtype=torch.float64)
    first, second = probes.greedy_select(X, T, 2)
    best1 = max(range(N), key=lambda j: probes.r2(X[:, [j]], T).sum().item())
    assert first == best1
    best2 = max((j for j in range(N) if j != first), key=lambda j: probes.r2(X[:, [first, j]], T).sum().item())
    assert second == best2
    # and the full greedy path for n = 3 never does worse than 2
    assert probes.r2(X[:, probes.greedy_select(X, T, 3)], T).sum() >= probes.r2(X[:, [first, second]], T).sum() - 1e-12


def test_greedy_skips_constant_and_duplicate_columns():
    x = torch.linspace(-1, 1, 30, dtype=torch.float64)
    X = torch.stack([torch.ones_like(x), x, x, x**3], 1)  # const, x, duplicate of x, x^3
    chosen = probes.greedy_select(X, (x + x**3)[:, None], 3)
    assert chosen[0] in (1, 3) and 0 not in chosen and not {1, 2} <= set(chosen)
    assert probes.r2(X[:, chosen], (x + x**3)[:, None])[0].item() == pytest.approx(1.0)
    assert probes.greedy_select(X[:, :1], x[:, None], 2) == []  # nothing usable


def test_resid_probe_clock_reads_the_circle(clock23):
    model, _ = clock23
    r = probes.resid_probe(model, KEYS + [5], n=2)
    for k in KEYS:
        assert r[k]["cos"] > 0.999 and r[k]["sin"] > 0.999
        assert len(r[k]["dims"]) == 2 and len(set(r[k]["dims"])) == 2
    assert set(r[3]["dims"]) | set(r[7]["dims"]) == {0, 1, 2, 3}  # the clock's 4 PCs, one plane each
    assert set(r[7]["dims"]) == {0, 1}  # frequency 7 has the larger amplitude (1.25 vs 1)
    assert r[5]["cos"] < 1e-6 and r[5]["sin"] < 1e-6  # not in the embedding at all
    one = probes.resid_probe(model, KEYS, n=1)
    for k in KEYS:  # one direction of a circle: cos^2 + sin^2 of its angle
        assert one[k]["cos"] + one[k]["sin"] == pytest.approx(1.0, abs=1e-6)


def test_neuron_probe_clock(clock23):
    model, acts = clock23
    prev = {k: 0.0 for k in KEYS}
    for n in (1, 2, 4, 8):
        r = probes.neuron_probe(model, KEYS + [5], n=n, acts=acts)
        for k in KEYS:
            tot = r[k]["cos"] + r[k]["sin"]
            assert tot >= prev[k] - 1e-9  # more neurons never explain less
            prev[k] = tot
            assert len(r[k]["dims"]) == n
            # chosen neurons belong to frequency k (its p^2 neurons come in the j-th block)
            j = KEYS.index(k)
            assert all(j * P * P <= d < (j + 1) * P * P for d in r[k]["dims"])
        assert r[5]["cos"] < 0.05 and r[5]["sin"] < 0.05
    assert min(r[k][t] for k in KEYS for t in ("cos", "sin")) > 0.99  # n = 8
    assert probes.neuron_probe(model, KEYS, n=2) == probes.neuron_probe(model, KEYS, n=2, acts=acts)


def test_random_weights_read_poorly():
    m = Transformer(ModelConfig(), seed=0)  # p = 113: the residual probe needs no forward pass
    r = probes.resid_probe(m, [1, 14, 41], n=2)
    assert max(v[t] for v in r.values() for t in ("cos", "sin")) < 0.3
    small = Transformer(ModelConfig(p=31, d_model=64, n_heads=2, d_head=16, d_mlp=128), seed=0)
    nr = probes.neuron_probe(small, [1, 5, 9], n=2)
    assert max(v[t] for v in nr.values() for t in ("cos", "sin")) < 0.4


def test_probes_structure(clock23):
    model, acts = clock23
    out = probes.probes(model, KEYS, n=3, acts=acts)
    assert set(out) == {"resid", "neurons"}
    for part in out.values():
        assert set(part) == set(KEYS)
        for v in part.values():
            assert set(v) == {"cos", "sin", "dims"} and len(v["dims"]) == 3
            assert all(isinstance(d, int) for d in v["dims"])
            assert all(isinstance(v[t], float) and -1e-9 <= v[t] <= 1 + 1e-9 for t in ("cos", "sin"))
    assert all(d < 4 for v in out["resid"].values() for d in v["dims"])  # rank 4: zero-variance PCs dropped


# ---------------------------------------------------------------- all sites, several budgets
def test_greedy_gram_equals_greedy_select():
    g = torch.Generator().manual_seed(4)
    X = torch.randn(200, 30, generator=g, dtype=torch.float64)
    T = X[:, [4, 11]] @ torch.tensor([[1.0, 0.2], [-0.5, 1.0]], dtype=torch.float64) + 0.5 * torch.randn(200, 2, generator=g, dtype=torch.float64)
    Xc, Tc = X - X.mean(0), T - T.mean(0)
    chosen, r2s = probes.greedy_gram(Xc.T @ Xc, Xc.T @ T, (Tc**2).sum(0), 5)
    assert chosen == probes.greedy_select(X, T, 5)
    for n in range(1, 6):
        assert r2s[n - 1] == pytest.approx(probes.r2(X[:, chosen[:n]], T).tolist(), abs=1e-10)


def test_probe_table_clock(clock23):
    model, acts = clock23
    t = probes.probe_table(model, KEYS + [5], (1, 2, 4, 8), acts)
    assert set(t) == {"resid", "attn", "neurons"}
    for site in t:
        for k in KEYS:
            assert t[site][k]["n"] == [1, 2, 4, 8]
            assert min(t[site][k]["cos"][-1], t[site][k]["sin"][-1]) > 0.99  # 8 directions read the wave
            tot = [c + s for c, s in zip(t[site][k]["cos"], t[site][k]["sin"])]
            assert all(b >= a - 1e-9 for a, b in zip(tot, tot[1:]))  # more directions never explain less
        assert max(t[site][5]["cos"] + t[site][5]["sin"]) < 0.05  # frequency 5 is nowhere
    for k in KEYS:  # the embedding carries each circle in 2 directions; the attention output
        # carries x's and y's circles with equal variance (a degenerate 4-d eigenspace): 4
        assert min(t["resid"][k]["cos"][1], t["resid"][k]["sin"][1]) > 0.999
        assert min(t["attn"][k]["cos"][2], t["attn"][k]["sin"][2]) > 0.999
    # the n = 2 residual probe is the old resid_probe's
    old = probes.resid_probe(model, KEYS, n=2)
    for k in KEYS:
        assert t["resid"][k]["cos"][1] == pytest.approx(old[k]["cos"], abs=1e-9)


def test_first_found():
    assert probes.first_found([0, 10, 20, 30], [0.1, 0.95, 0.5, 0.99]) == 10  # the first crossing
    assert probes.first_found([0, 10, 20], [0.1, 0.95, 0.97]) == 10
    assert probes.first_found([0, 10], [0.1, 0.2]) is None
