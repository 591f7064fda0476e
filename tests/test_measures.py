"""Progress measures on the hand-built clock model, whose answers are known, and on known vectors."""
import math

import pytest
import torch

from grok import fourier, measures
from grok.config import ModelConfig
from grok.data import grid_tokens, make_dataset
from grok.model import Transformer

try:
    from clock import clock_model, neuron_freqs
except ImportError:  # tests/ imported as a package
    from tests.clock import clock_model, neuron_freqs

CASES = [(23, (3, 7)), (31, (4, 9, 13))]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"p{c[0]}-k{'-'.join(map(str, c[1]))}")
def clock(request):
    p, ks = request.param
    model = clock_model(p, ks)
    ds = make_dataset(p, 0.3, 0)
    acts = measures.grid_activations(model)
    return p, list(ks), model, ds, acts


@pytest.fixture(scope="module")
def random_model():
    model = Transformer(ModelConfig(p=23, d_model=32, n_heads=2, d_head=16, d_mlp=64), seed=0)
    return model, make_dataset(23), measures.grid_activations(model)


def test_grid_activations_match_full_forward(clock):
    p, ks, model, ds, acts = clock
    logits, cache = model.run_with_cache(grid_tokens(p))
    assert torch.allclose(acts.logits, logits[:, -1], atol=1e-4)
    assert torch.allclose(acts.post, cache["blocks.0.mlp.hook_post"][:, -1], atol=1e-5)
    assert torch.allclose(acts.pattern, cache["blocks.0.attn.hook_pattern"][:, :, -1], atol=1e-6)


def test_clock_construction(clock):
    """The helper itself: logits are exactly 20 * sum_k cos(w_k (x + y - c))."""
    p, ks, model, ds, acts = clock
    x = torch.arange(p, dtype=torch.float64)
    s = (x[:, None] + x[None, :]).reshape(-1, 1)
    expect = sum(20 * torch.cos(2 * math.pi * k * (s - x[None]) / p) for k in ks)
    assert torch.allclose(acts.logits.double(), expect, atol=2e-4)


def test_clock_is_perfect(clock):
    p, ks, model, ds, acts = clock
    la = measures.loss_acc(acts.logits, ds)
    assert la["all_acc"] == 1.0 and la["train_acc"] == 1.0 and la["test_acc"] == 1.0
    assert la["all_loss"] < 0.02
    n_train = ds.train_mask.sum().item()
    assert math.isclose(la["all_loss"], (la["train_loss"] * n_train + la["test_loss"] * (p * p - n_train)) / p**2, rel_tol=1e-9)


def test_loss_acc_uses_the_masks():
    p = 5
    ds = make_dataset(p, 0.4, 0)
    logits = torch.zeros(p * p, p)
    logits[ds.train_mask, ds.labels[ds.train_mask]] = 10.0  # right on train, uniform on test
    la = measures.loss_acc(logits, ds)
    assert la["train_acc"] == 1.0
    assert la["train_loss"] < 1e-3
    assert math.isclose(la["test_loss"], math.log(p), rel_tol=1e-9)


def test_key_frequencies_exact(clock):
    p, ks, model, ds, acts = clock
    assert sorted(measures.key_frequencies(acts.logits)) == sorted(ks)
    e = measures.logit_freq_energy(acts.logits)
    others = [i for i in range(e.numel()) if i + 1 not in ks]
    assert e[others].max() < 1e-8 * e.max()


def test_neuron_clusters(clock):
    p, ks, model, ds, acts = clock
    cl = measures.neuron_clusters(acts.post, p)
    built = torch.tensor(neuron_freqs(p, ks))
    used = built > 0
    assert (cl.freq[used] == built[used]).all()
    assert cl.frac[used].min() >= 0.85
    assert cl.clustered[used].all()
    assert (cl.frac[~used] == 0).all() and not cl.clustered[~used].any()  # dead neurons: fraction 0
    assert cl.counts() == {k: p * p for k in ks}  # n_phases ** 2 = p ** 2 neurons per frequency


def test_neuron_freq_fractions_known_neuron():
    """A neuron that is exactly cos(w x) cos(w y) + 0.5 cos(2w x): 2/3 in block k, 1/3 in block 2k."""
    p, k = 23, 4
    x = torch.arange(p, dtype=torch.float64)
    w = 2 * math.pi * k / p
    A = torch.cos(w * x)[:, None] * torch.cos(w * x)[None, :] + 0.5 * torch.cos(2 * w * x)[:, None]
    # energies in the orthonormal basis: coefficient p/2 for cos_k(x) cos_k(y), 0.5 sqrt(p/2) sqrt(p) for cos_2k(x) const(y)
    e1 = (p / 2) ** 2
    e2 = 0.25 * (p / 2) * p
    assert e1 / (e1 + e2) == pytest.approx(2 / 3)
    fr = measures.neuron_freq_fractions(A.reshape(p * p, 1) + 3.0, p)[:, 0]  # the offset is centred away
    assert abs(fr[k - 1].item() - e1 / (e1 + e2)) < 1e-5
    assert abs(fr[2 * k - 1].item() - e2 / (e1 + e2)) < 1e-5


def test_restricted_and_excluded_loss(clock):
    p, ks, model, ds, acts = clock
    full = measures.loss_acc(acts.logits, ds)["all_loss"]
    r = measures.restricted_loss(acts.logits, ds, ks)
    assert abs(r - full) < 1e-3 * full  # the clock is all key frequencies
    ex = measures.excluded_loss(acts.logits, ds, ks)
    assert ex == pytest.approx(math.log(p), abs=1e-3)  # nothing left: uniform logits, chance level
    # restricting to one frequency only, or excluding a non-key one, barely helps / hurts
    assert measures.restricted_loss(acts.logits, ds, ks[:1]) > 10 * r
    non_key = next(k for k in range(1, p // 2 + 1) if k not in ks)
    assert abs(measures.excluded_loss(acts.logits, ds, [non_key]) - measures.loss_acc(acts.logits, ds)["train_loss"]) < 1e-6


def test_excluded_loss_per_freq(clock):
    p, ks, model, ds, acts = clock
    per = measures.excluded_loss_per_freq(acts.logits, ds, ks)
    assert list(per) == ks
    train = measures.loss_acc(acts.logits, ds)["train_loss"]
    for k, v in per.items():
        assert v == pytest.approx(measures.excluded_loss(acts.logits, ds, [k]))
        assert v > train + 1e-3  # removing any one key frequency costs something
    assert max(per.values()) < measures.excluded_loss(acts.logits, ds, ks)  # but less than removing all


def test_excluded_loss_is_train_only_and_restricted_uses_all_pairs():
    p = 7
    ds = make_dataset(p, 0.5, 1)
    g = torch.Generator().manual_seed(0)
    L = torch.randn(p * p, p, generator=g)
    ex = measures.excluded_logits(L, [1, 2])
    nll = measures.nll(ex, ds.labels)
    assert measures.excluded_loss(L, ds, [1, 2]) == pytest.approx(nll[ds.train_mask].mean().item())
    rl = measures.restricted_logits(L, [1, 2])
    assert measures.restricted_loss(L, ds, [1, 2]) == pytest.approx(measures.nll(rl, ds.labels).mean().item())
    # the restricted logits keep the per-class mean over the grid; the excluded ones keep it too
    assert torch.allclose(rl.mean(0), L.double().mean(0), atol=1e-12)
    # restricted + excluded = original + mean
    assert torch.allclose(rl + ex, L.double() + L.double().mean(0, keepdim=True), atol=1e-10)
    # all frequencies restricted: only functions of x + y (plus the mean) survive
    full = measures.restricted_logits(L, range(1, 4)).reshape(p, p, p)
    assert torch.allclose(full[1, 2], full[2, 1], atol=1e-10) and torch.allclose(full[0, 3], full[3, 0], atol=1e-10)


def test_gini_known_values():
    assert measures.gini(torch.ones(10)).item() == pytest.approx(0.0, abs=1e-12)
    for N in (2, 5, 56):
        c = torch.zeros(N)
        c[N // 2] = 3.0
        assert measures.gini(c).item() == pytest.approx(1 - 1 / N)
    # [1, 2, 3, 4] by hand: 1 - 2 * (1*3.5 + 2*2.5 + 3*1.5 + 4*0.5) / (10 * 4) = 1 - 2 * 15 / 40 = 0.25
    assert measures.gini(torch.tensor([3.0, 1.0, 4.0, 2.0])).item() == pytest.approx(0.25)
    assert measures.gini(torch.tensor([0.0, 0.0, 0.0])).item() == 0.0  # all-zero: defined as 0
    assert measures.gini(5 * torch.tensor([3.0, 1.0, 4.0, 2.0])).item() == pytest.approx(0.25)  # scale-free


def test_embed_and_unembed_freq_norms(clock):
    p, ks, model, ds, acts = clock
    e = measures.embed_freq_norms(model)
    assert e.shape == ((p - 1) // 2,)
    idx = [k - 1 for k in ks]
    mask = torch.ones_like(e, dtype=torch.bool)
    mask[idx] = False
    assert (e[idx] > 1).all() and e[mask].max() < 1e-4
    # a_j (cos, sin) over Z_p has norm a_j sqrt(p)
    for j, k in enumerate(ks):
        assert e[k - 1].item() == pytest.approx((1 + 0.25 * j) * math.sqrt(p), rel=1e-5)
    u = measures.unembed_freq_norms(model)
    assert (u[idx] > 1).all() and u[mask].max() < 1e-4 * u.max()
    assert measures.gini(u) > 1 - 1.5 * len(ks) / u.numel()
    WL = measures.W_L(model)
    assert WL.shape == (model.cfg.d_mlp, p)
    assert torch.allclose(WL, model.mlp.W_out @ model.unembed.W_U)


def test_gini_clock_vs_random(clock, random_model):
    p, ks, model, ds, acts = clock
    g_clock = measures.gini(measures.embed_freq_norms(model)).item()
    g_rand = measures.gini(measures.embed_freq_norms(random_model[0])).item()
    assert g_clock > 0.8 and g_rand < 0.4


def test_logit_var_explained(clock, random_model):
    p, ks, model, ds, acts = clock
    assert measures.logit_var_explained(acts.logits, ks) > 0.9999
    assert measures.logit_var_explained(acts.logits, ks[:1]) < 0.8  # one of several equal terms
    g = torch.Generator().manual_seed(0)
    assert measures.logit_var_explained(torch.randn(p * p, p, generator=g), ks) < 0.01
    assert measures.logit_var_explained(random_model[2].logits, [1, 2, 3]) < 0.05


def test_logit_var_explained_counts_only_the_clock_terms():
    """cos(w(x+y)) cos(w' c) with w' != w is a function of x + y but not a clock term."""
    p, k = 23, 3
    x = torch.arange(p, dtype=torch.float64)
    s = (x[:, None] + x[None, :]).reshape(-1, 1)
    c = x[None]
    w = 2 * math.pi * k / p
    L = torch.cos(w * (s - c)) + 0.5 * torch.cos(2 * w * (s - c))  # energies 1 : 0.25
    assert measures.logit_var_explained(L, [k]) == pytest.approx(0.8, abs=1e-9)
    assert measures.logit_var_explained(L, [k, 2 * k]) == pytest.approx(1.0, abs=1e-9)
    assert measures.logit_var_explained(torch.cos(w * s) * torch.cos(2 * w * c), [k]) < 1e-12


def test_weight_norm(clock):
    p, ks, model, ds, acts = clock
    expect = sum((w.double() ** 2).sum().item() for w in model.parameters())
    assert measures.weight_norm(model) == pytest.approx(expect)
    assert measures.weight_norm(model) > 0


def test_progress_measures(clock):
    p, ks, model, ds, acts = clock
    pm = measures.progress_measures(model, ds)
    assert set(pm) == {"key_frequencies", "restricted_loss", "excluded_loss", "gini_embed", "gini_unembed",
                       "clustered_fraction", "logit_var_explained"}
    assert sorted(pm["key_frequencies"]) == sorted(ks)
    n_used = len(ks) * p * p
    assert pm["clustered_fraction"] == pytest.approx(n_used / model.cfg.d_mlp)
    assert pm["excluded_loss"] > 0.95 * math.log(p) and pm["restricted_loss"] < 0.05
    pm2 = measures.progress_measures(model, ds, ks=[1])  # the replay passes fixed frequencies
    assert pm2["key_frequencies"] == [1] and pm2["logit_var_explained"] < 0.01


def test_key_frequencies_keep_a_minor_frequency_beside_a_dominant_one():
    """Energy shares 0.89 / 0.07 / 0.027 / 0.013 (as in the shipped Grokfast run) are all key;
    a 0.5 % share is not."""
    import math

    from grok.measures import key_frequencies

    p = 31
    D = fourier.sum_directions(p, [1, 5, 9, 12, 14], torch.float64)  # [p*p, 10]
    shares = {1: 0.89, 5: 0.07, 9: 0.027, 12: 0.013, 14: 0.005}
    c = torch.arange(p, dtype=torch.float64)
    cols = []
    for j, (k, s) in enumerate(shares.items()):  # logits = sum_k a_k * cos-direction(x+y) * cos(w_k c)
        cols.append(math.sqrt(s) * D[:, 2 * j, None] * torch.cos(2 * math.pi * k * c / p)[None] * 50)
    logits = sum(cols).float()
    assert key_frequencies(logits) == [1, 5, 9, 12]
