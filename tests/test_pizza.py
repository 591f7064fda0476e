"""Clock or pizza: the two measures of Zhong et al. on the hand-built clock and pizza models
and on constructed logits, and the verdict."""
import math

import pytest
import torch

from grok import measures, pizza

try:
    from clock import clock_model
    from pizza_model import pizza_model
except ImportError:
    from tests.clock import clock_model
    from tests.pizza_model import pizza_model

P, KEYS = 23, [3, 7]


def test_logits_from_embed_is_the_forward():
    model = clock_model(P, KEYS)
    tok = torch.tensor([[1, 2, P], [20, 5, P], [7, 7, P]])
    assert torch.allclose(pizza.logits_from_embed(model, model.embed.W_E[tok]), model(tok)[:, -1], atol=1e-5)


def test_hand_built_pizza_and_clock():
    pz, ck = pizza_model(P, KEYS), clock_model(P, KEYS)
    lp, lc = measures.grid_activations(pz).logits, measures.grid_activations(ck).logits
    assert (lp.argmax(-1) == (torch.arange(P * P) // P + torch.arange(P * P) % P) % P).all()  # the pizza is right
    gp, gc = pizza.gradient_symmetricity(pz), pizza.gradient_symmetricity(ck)
    dp, dc = pizza.distance_irrelevance(lp), pizza.distance_irrelevance(lc)
    assert gp == pytest.approx(1.0, abs=1e-5)  # e(x) + e(y): identical gradients
    assert gc < 0.5  # x and y in separate dims, multiplied by the MLP
    assert dp < 0.05 and dc > 0.9
    assert pizza.verdict(gp, dp).state == "pizza"
    assert pizza.verdict(gc, dc).state == "clock"


def test_distance_irrelevance_on_constructed_logits():
    p = 31
    i = torch.arange(p * p)
    a, b = i // p, i % p
    correct = (a + b) % p
    d = (a - b) % p
    for f, lo, hi in ((lambda: torch.cos(2 * math.pi * 3 * d / p).double(), 0.0, 1e-6),  # depends on a - b only
                      (lambda: torch.cos(2 * math.pi * 3 * correct / p).double(), 1 - 1e-6, 1.0 + 1e-6)):  # on a + b only
        L = torch.zeros(p * p, p, dtype=torch.float64)
        L[i, correct] = f()
        assert lo <= pizza.distance_irrelevance(L) <= hi
    L = torch.zeros(p * p, p)
    L[i, correct] = 5.0
    assert math.isnan(pizza.distance_irrelevance(L))  # constant correct logit: undefined


def test_verdict_rule():
    assert pizza.verdict(0.994, 0.172).state == "pizza"  # the paper's verified pizza
    assert pizza.verdict(0.496, 0.860).state == "clock"  # median of its standard-attention runs
    assert pizza.verdict(0.992, 0.650).state == "mixed"
    assert pizza.verdict(0.3, 0.9, has_algorithm=False).state == "none"
    assert "no Fourier algorithm" in pizza.verdict(0.3, 0.9, has_algorithm=False).text
    assert pizza.verdict(0.5, float("nan")).state == "clock"
