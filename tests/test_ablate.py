"""Frequency ablations on the hand-built clock (known answers) and, for the exact semantics of each
site, on a small random model checked against an independent computation."""
import copy
import math

import pytest
import torch

from grok import ablate, fourier, measures
from grok.config import ModelConfig
from grok.data import grid_tokens, make_dataset
from grok.model import Transformer

try:
    from clock import clock_model
except ImportError:  # tests/ imported as a package
    from tests.clock import clock_model

P, KEYS = 23, [3, 7]
NON_KEY = [k for k in range(1, (P - 1) // 2 + 1) if k not in KEYS]


@pytest.fixture(scope="module")
def clock():
    model = clock_model(P, KEYS)
    ds = make_dataset(P, 0.3, 0)
    return model, ds, measures.grid_activations(model)


@pytest.fixture(scope="module")
def rand():
    model = Transformer(ModelConfig(p=P, d_model=32, n_heads=2, d_head=16, d_mlp=64), seed=3)
    with torch.no_grad():  # non-zero biases so the "rest of the logit path" is exercised
        g = torch.Generator().manual_seed(1)
        for name, prm in model.named_parameters():
            if ".b_" in name:
                prm.copy_(0.1 * torch.randn(prm.shape, generator=g))
    ds = make_dataset(P, 0.3, 0)
    return model, ds, measures.grid_activations(model)


@pytest.mark.parametrize("site", ablate.SITES)
@pytest.mark.parametrize("which", ["clock", "rand"])
def test_empty_set_is_identity(site, which, request):
    model, ds, acts = request.getfixturevalue(which)
    ab = ablate.ablate(model, ds, site, [], "remove", acts=acts)
    assert torch.allclose(ab.logits, acts.logits, atol=1e-5, rtol=0)
    full = model.run_with_cache(grid_tokens(P))[0][:, -1]
    assert torch.allclose(ab.logits, full, atol=1e-4 if which == "clock" else 1e-5, rtol=0)
    assert ab.metrics_after == pytest.approx(ab.metrics_before)
    assert not ab.broken.any()
    assert ab.metrics_before == measures.loss_acc(acts.logits, ds)


@pytest.mark.parametrize("which", ["clock", "rand"])
def test_direct_path_plus_neurons_is_the_model(which, request):
    model, ds, acts = request.getfixturevalue(which)
    direct = ablate.direct_logits(model, acts.pattern)
    assert torch.allclose(direct + acts.post @ measures.W_L(model), acts.logits, atol=1e-4, rtol=0)
    _, cache = model.run_with_cache(grid_tokens(P))
    u, m = model.unembed, model.mlp
    expect = cache["blocks.0.hook_resid_mid"][:, -1] @ u.W_U + m.b_out @ u.W_U + u.b_U
    assert torch.allclose(direct, expect, atol=1e-5, rtol=0)


@pytest.mark.parametrize("site", ablate.SITES)
def test_removing_a_key_frequency_hurts(clock, site):
    model, ds, acts = clock
    before = measures.loss_acc(acts.logits, ds)["all_loss"]
    for k in KEYS:
        ab = ablate.ablate(model, ds, site, [k], acts=acts)
        assert ab.metrics_after["all_loss"] > before + 0.5
    ab = ablate.ablate(model, ds, site, KEYS, acts=acts)
    assert ab.metrics_after["all_loss"] > 0.95 * math.log(P)  # nothing left: chance level
    assert ab.metrics_after["all_acc"] < 0.2 and ab.metrics_before["all_acc"] == 1.0
    assert ab.broken.sum().item() == ab.correct_before.sum().item() - ab.correct.sum().item()
    assert torch.equal(ab.broken, ab.correct_before & ~ab.correct)


@pytest.mark.parametrize("site", ablate.SITES)
def test_removing_non_key_frequencies_changes_nothing(clock, site):
    model, ds, acts = clock
    for fs in ([NON_KEY[0]], [NON_KEY[3]], NON_KEY):
        ab = ablate.ablate(model, ds, site, fs, acts=acts)
        assert torch.allclose(ab.logits, acts.logits, atol=1e-4, rtol=0), fs
        assert ab.correct.all() and not ab.broken.any()


@pytest.mark.parametrize("site", ablate.SITES)
def test_keep_only_the_key_set(clock, site):
    model, ds, acts = clock
    ab = ablate.ablate(model, ds, site, KEYS, "keep", acts=acts)
    assert ab.metrics_after["all_acc"] == 1.0
    assert torch.allclose(ab.logits, acts.logits, atol=1e-4, rtol=0)
    one = ablate.ablate(model, ds, site, KEYS[:1], "keep", acts=acts)  # half the clock still answers
    assert one.metrics_after["all_acc"] == 1.0 and one.metrics_after["all_loss"] > ab.metrics_after["all_loss"] + 0.5
    none = ablate.ablate(model, ds, site, NON_KEY, "keep", acts=acts)
    assert none.metrics_after["all_loss"] > 0.95 * math.log(P)


@pytest.mark.parametrize("site", ablate.SITES)
def test_model_unchanged(rand, site):
    model, ds, acts = rand
    before = copy.deepcopy(model.state_dict())
    for mode in ablate.MODES:
        ablate.ablate(model, ds, site, [2, 5], mode)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_acts_argument_is_only_a_shortcut(rand):
    model, ds, acts = rand
    for site in ablate.SITES:
        a = ablate.ablate(model, ds, site, [4], "remove", acts=acts)
        b = ablate.ablate(model, ds, site, [4], "remove")
        assert torch.allclose(a.logits, b.logits, atol=1e-6)


def test_embedding_site_semantics(rand):
    """Independent route: zero the cos / sin rows of F @ W_E[:p] and run a rebuilt model."""
    model, ds, acts = rand
    F = fourier.basis(P, torch.float64)
    for mode, fs in (("remove", [2, 5]), ("keep", [2, 5])):
        C = F @ model.embed.W_E[:P].detach().double()
        rows = [r for k in fs for r in (2 * k - 1, 2 * k)]
        if mode == "remove":
            C[rows] = 0
        else:
            mask = torch.ones(P, dtype=torch.bool)
            mask[[0] + rows] = False
            C[mask] = 0
        m2 = copy.deepcopy(model)
        with torch.no_grad():
            m2.embed.W_E[:P] = (F.T @ C).float()
        expect = m2.run_with_cache(grid_tokens(P))[0][:, -1]
        ab = ablate.ablate(model, ds, "embedding", fs, mode, acts=acts)
        assert torch.allclose(ab.logits, expect, atol=1e-5), mode


def test_neuron_site_semantics(rand):
    """Independent route: 2-D transform of the post-ReLU activations, zero the documented
    coefficients, transform back, then through W_L and the direct path."""
    model, ds, acts = rand
    F = fourier.basis(P, torch.float64)
    S = fourier.transform_2d(acts.post.double().reshape(P, P, -1))  # [a, b, N]
    fs = [2, 5]
    rows = [r for k in fs for r in (2 * k - 1, 2 * k)]
    direct = ablate.direct_logits(model, acts.pattern).double()
    WL = measures.W_L(model).double()
    for mode in ablate.MODES:
        T = S.clone()
        if mode == "remove":  # every coefficient whose x index or y index is a removed row
            T[rows] = 0
            T[:, rows] = 0
        else:  # only (a, b) with both a and b in {const} + rows survive
            keep = torch.zeros(P, dtype=torch.bool)
            keep[[0] + rows] = True
            T[~keep] = 0
            T[:, ~keep] = 0
        post2 = torch.einsum("ax,abn,by->xyn", F, T, F).reshape(P * P, -1)
        expect = direct + post2 @ WL
        ab = ablate.ablate(model, ds, "neurons", fs, mode, acts=acts)
        assert torch.allclose(ab.logits.double(), expect, atol=1e-5), mode
    # keep(S) is remove(complement of S)
    comp = [k for k in range(1, (P - 1) // 2 + 1) if k not in fs]
    a = ablate.ablate(model, ds, "neurons", fs, "keep", acts=acts)
    b = ablate.ablate(model, ds, "neurons", comp, "remove", acts=acts)
    assert torch.allclose(a.logits, b.logits, atol=1e-5)


def test_logit_site_is_the_progress_measures(rand):
    model, ds, acts = rand
    a = ablate.ablate(model, ds, "logits", [3, 4], "remove", acts=acts)
    assert torch.allclose(a.logits.double(), measures.excluded_logits(acts.logits, [3, 4]), atol=1e-5)
    assert a.metrics_after["train_loss"] == pytest.approx(measures.excluded_loss(acts.logits, ds, [3, 4]))
    k = ablate.ablate(model, ds, "logits", [3, 4], "keep", acts=acts)
    assert k.metrics_after["all_loss"] == pytest.approx(measures.restricted_loss(acts.logits, ds, [3, 4]))


def test_fields_and_shapes(rand):
    model, ds, acts = rand
    ab = ablate.ablate(model, ds, "neurons", [5, 2, 5], "remove", acts=acts)
    assert ab.freqs == [2, 5] and ab.site == "neurons" and ab.mode == "remove"
    assert ab.logits.shape == (P * P, P) and ab.logits.dtype == torch.float32
    for t in (ab.correct, ab.correct_before, ab.broken, ab.fixed):
        assert t.shape == (P, P) and t.dtype == torch.bool
    assert set(ab.metrics_after) == {"train_loss", "test_loss", "all_loss", "train_acc", "test_acc", "all_acc"}
    x, y = 4, 9  # grid order: pair i = (x, y) = (i // p, i % p)
    assert ab.correct[x, y].item() == (ab.logits[x * P + y].argmax().item() == (x + y) % P)


@pytest.mark.parametrize("bad", [dict(site="attention"), dict(mode="only"), dict(freqs=[0]), dict(freqs=[12]), dict(freqs=[2.5])])
def test_bad_arguments(rand, bad):
    model, ds, acts = rand
    kw = dict(site="logits", freqs=[1], mode="remove") | bad
    with pytest.raises(ValueError):
        ablate.ablate(model, ds, kw["site"], kw["freqs"], kw["mode"], acts=acts)
    with pytest.raises(ValueError):
        ablate.ablate(model, make_dataset(P + 2), "logits", [1], acts=acts)


def test_freqs_text_is_the_links_sorted_form():
    """The one way a frequency set is written into ?freqs= (Ablations, the Neurons page's bars):
    sorted, comma separated, and read back by check_freqs to the same set."""
    assert ablate.freqs_text([21, 1, 8]) == "1,8,21"
    assert ablate.freqs_text([]) == ""
    assert ablate.check_freqs(113, [int(t) for t in ablate.freqs_text({35, 14, 41}).split(",")]) == [14, 35, 41]
