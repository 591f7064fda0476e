"""Clock or pizza (Zhong et al. 2023, "The clock and the pizza", `fjzzq2002/pizza`): two
measures that tell the two known algorithms for modular addition apart, computed as that
repository's eval-main notebook computes them.

- Gradient symmetricity: for random triples (a, b, c), the cosine similarity between the
  gradients of logit c with respect to the input embeddings of a (position 0) and of b
  (position 1), averaged over the triples (the repo: 100 triples). A pizza adds the two
  embeddings symmetrically (the gradients coincide: ~1); a clock multiplies them (lower).
  The repo samples its 100 triples by shuffling all p^3 with Python's random.Random(42);
  we draw 100 with a seeded torch generator (same estimator, different sample).
- Distance irrelevance: arrange the correct-class logits as L[(a+b) mod p][(a-b) mod p]
  and take mean over columns (a - b) of the std over rows (a + b), divided by the std of all
  entries (numpy's population std). A clock's correct logit hardly depends on a - b (~1);
  a pizza's scales with |cos(w (a - b) / 2)| (low).

Published context (REFERENCE.md: medians over the repository's 4,852 one-layer runs by
attention rate alpha): alpha 0-0.1 (pizza-leaning) 0.992 / 0.650; alpha 0.9-1.0 (standard
attention, clocks) 0.496 / 0.860; its verified pizza 0.994 / 0.172.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .model import Transformer

N_TRIPLES = 100
SEED = 42
PIZZA_SYMMETRY = 0.95  # gradient symmetricity at or above: pizza-like input path
CLOCK_SYMMETRY = 0.8  # below: clock-like
PIZZA_DISTANCE = 0.5  # distance irrelevance below: the answer depends on a - b (pizza)
CLOCK_DISTANCE = 0.7  # at or above: it does not (clock)


def logits_from_embed(model: Transformer, emb: torch.Tensor) -> torch.Tensor:
    """emb [B, 3, d] (token embeddings, before W_pos) -> last-position logits [B, p]; the full
    forward of `Transformer.run_with_cache` with the embedding as the input (differentiable)."""
    a, m = model.attn, model.mlp
    resid = emb + model.pos_embed.W_pos[None]
    q = torch.einsum("bpd,hde->bphe", resid, a.W_Q) + a.b_Q
    k = torch.einsum("bpd,hde->bphe", resid, a.W_K) + a.b_K
    v = torch.einsum("bpd,hde->bphe", resid, a.W_V) + a.b_V
    scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(model.cfg.d_head)
    scores = torch.where(a.mask, scores, a.IGNORE)
    z = torch.einsum("bhqk,bkhe->bqhe", scores.softmax(-1), v)
    mid = resid + torch.einsum("bqhe,hed->bqd", z, a.W_O) + a.b_O
    post = F.relu(mid @ m.W_in + m.b_in)
    out = mid + post @ m.W_out + m.b_out
    return (out @ model.unembed.W_U + model.unembed.b_U)[:, -1]


def gradient_symmetricity(model: Transformer, n: int = N_TRIPLES, seed: int = SEED) -> float:
    """Mean over n seeded random (a, b, c) of cos(d logit_c / d emb(a), d logit_c / d emb(b))."""
    p = model.cfg.p
    g = torch.Generator().manual_seed(seed)
    abc = torch.randint(0, p, (n, 3), generator=g)
    W_E = model.embed.W_E.detach()
    tok = torch.stack([abc[:, 0], abc[:, 1], torch.full((n,), p)], 1).to(W_E.device)
    emb = W_E[tok].clone().requires_grad_(True)  # [n, 3, d]
    with torch.enable_grad():
        logits = logits_from_embed(model, emb)  # [n, p]
        # each triple's logit depends only on its own embedding: one backward gives all gradients
        logits.gather(1, abc[:, 2:3].to(W_E.device)).sum().backward(inputs=[emb])
    g0, g1 = emb.grad[:, 0].double(), emb.grad[:, 1].double()
    cos = (g0 * g1).sum(-1) / (g0.norm(dim=-1) * g1.norm(dim=-1)).clamp_min(1e-300)
    return cos.mean().item()


def distance_irrelevance(logits: torch.Tensor) -> float:
    """From grid logits [p*p, p]: mean over (a - b) of std over (a + b) of the correct logit,
    over its overall std. NaN when the correct logit is constant (nothing to compare)."""
    p = logits.shape[1]
    i = torch.arange(p * p, device=logits.device)
    a, b = i // p, i % p
    correct = logits.double()[i, (a + b) % p]
    L = torch.zeros(p, p, dtype=torch.float64, device=logits.device)
    L[(a + b) % p, (a - b) % p] = correct
    tot = L.std(unbiased=False)
    if tot <= 1e-9 * max(L.abs().max().item(), 1e-300):
        return float("nan")
    return (L.std(0, unbiased=False).mean() / tot).item()


def dd_nan(dd: float) -> bool:
    return dd is None or (isinstance(dd, float) and math.isnan(dd))


@dataclass(frozen=True)
class PizzaVerdict:
    state: str  # "clock" | "pizza" | "mixed" | "none"
    gradient_symmetricity: float
    distance_irrelevance: float

    @property
    def text(self) -> str:
        gs, dd = self.gradient_symmetricity, self.distance_irrelevance
        nums = f"gradient symmetricity {gs:.3f}, distance irrelevance " + ("undefined (the correct logit is constant)" if math.isnan(dd) else f"{dd:.3f}")
        if self.state == "none":
            return (f"Neither clock nor pizza: this checkpoint has no Fourier algorithm to classify ({nums}; "
                    "the numbers describe a memorising model and are not compared with the paper's).")
        if self.state == "clock":
            return (f"Clock: {nums}. The gradients for a and b differ (the model multiplies their waves) and the "
                    "correct logit hardly depends on a − b, as in the paper's standard-attention models (medians 0.496 / 0.860).")
        if self.state == "pizza":
            return (f"Pizza: {nums}. The model treats a and b symmetrically (it adds their embeddings) and the "
                    "correct logit depends on a − b, as in the paper's pizza (0.994 / 0.172).")
        sym = ("clock-like (the gradients for a and b differ: the waves are multiplied)" if gs < CLOCK_SYMMETRY else
               "pizza-like (a and b enter almost symmetrically)" if gs >= PIZZA_SYMMETRY else "in between")
        dist = ("undefined" if dd_nan(dd) else "clock-like (the correct logit ignores a − b)" if dd >= CLOCK_DISTANCE else
                "pizza-like (the correct logit varies with a − b)" if dd < PIZZA_DISTANCE else "in between")
        return (f"Between clock and pizza: {nums}. The symmetricity is {sym}; the distance irrelevance is {dist}. "
                "The paper's clocks have symmetricity around 0.5 and distance irrelevance near 0.86, its pizza 0.994 / 0.172.")


def verdict(gs: float, dd: float, has_algorithm: bool = True) -> PizzaVerdict:
    """The rule: "none" without a Fourier algorithm (grok.verdict says no clock or pizza is
    forming); "pizza" when gs >= 0.95 and dd < 0.5 (or undefined); "clock" when gs < 0.8 and
    dd >= 0.7 (or undefined); otherwise "mixed"."""
    if not has_algorithm:
        return PizzaVerdict("none", gs, dd)
    dd_nan = math.isnan(dd)
    if gs >= PIZZA_SYMMETRY and (dd_nan or dd < PIZZA_DISTANCE):
        return PizzaVerdict("pizza", gs, dd)
    if gs < CLOCK_SYMMETRY and (dd_nan or dd >= CLOCK_DISTANCE):
        return PizzaVerdict("clock", gs, dd)
    return PizzaVerdict("mixed", gs, dd)
