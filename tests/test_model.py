"""The model: TransformerLens names and semantics, and the fast path equal to the full one."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from grok import checkpoint as ckpt
from grok.config import ModelConfig
from grok.data import grid_tokens, make_dataset
from grok.model import Transformer, loss_fn


def _model(p: int, biases: bool, with_random_biases) -> Transformer:
    m = Transformer(ModelConfig(p=p), seed=3)
    return with_random_biases(m) if biases else m


# ---------------------------------------------------------------- (a) fast path == full path
@pytest.mark.parametrize("p", [23, 113])
@pytest.mark.parametrize("biases", [False, True], ids=["zero-bias", "random-bias"])
def test_fast_forward_equals_full_forward_on_whole_grid(p, biases, with_random_biases):
    model = _model(p, biases, with_random_biases)
    tok = grid_tokens(p)  # [p*p, 3]
    with torch.no_grad():
        full, cache = model.run_with_cache(tok)
        logits, pre, pattern = model.fast_forward(tok[:, 0], tok[:, 1])
    assert logits.shape == (p * p, p) and pre.shape == (p * p, 512) and pattern.shape == (p * p, 4, 3)
    assert (logits - full[:, -1]).abs().max().item() <= 1e-5
    assert (pre - cache["blocks.0.mlp.hook_pre"][:, -1]).abs().max().item() <= 1e-5
    assert (pattern - cache["blocks.0.attn.hook_pattern"][:, :, -1, :]).abs().max().item() <= 1e-6
    # the comparison is not vacuous: logits vary over the grid and the attention is not uniform
    assert full[:, -1].std().item() > 0.1
    assert (pattern - 1 / 3).abs().max().item() > 1e-3
    if biases:  # the biases really move the logits (so a path that dropped one would fail above)
        plain = Transformer(ModelConfig(p=p), seed=3)
        with torch.no_grad():
            assert (plain.fast_logits(tok[:, 0], tok[:, 1]) - logits).abs().max().item() > 0.1


def test_full_forward_is_causal(with_random_biases):
    """Position 0's logits must not depend on later tokens (the TransformerLens causal mask)."""
    model = _model(23, True, with_random_biases)
    a = torch.tensor([[3, 4, 23], [3, 17, 23]])
    with torch.no_grad():
        logits, cache = model.run_with_cache(a)
    assert torch.equal(logits[0, 0], logits[1, 0])
    assert not torch.allclose(logits[0, 2], logits[1, 2])
    pat = cache["blocks.0.attn.hook_pattern"]  # [B, H, 3, 3]
    assert torch.all(pat[:, :, 0, 1:] == 0) and torch.all(pat[:, :, 1, 2] == 0)
    assert torch.allclose(pat.sum(-1), torch.ones(()))


# ---------------------------------------------------------------- (b) independent numpy forward
def _numpy_forward(w: dict[str, np.ndarray], tokens: np.ndarray) -> np.ndarray:
    """TransformerLens semantics written out from scratch in float64: tokens [B, 3] -> logits [B, 3, p]."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    pre = "blocks.0."
    x = w["embed.W_E"][tokens] + w["pos_embed.W_pos"][None]  # [B, 3, d]
    B, n, _ = x.shape
    H, _, dh = w[pre + "attn.W_Q"].shape
    out = np.zeros_like(x)
    causal = np.tril(np.ones((n, n), dtype=bool))
    for h in range(H):
        q = x @ w[pre + "attn.W_Q"][h] + w[pre + "attn.b_Q"][h]  # [B, 3, dh]
        k = x @ w[pre + "attn.W_K"][h] + w[pre + "attn.b_K"][h]
        v = x @ w[pre + "attn.W_V"][h] + w[pre + "attn.b_V"][h]
        s = q @ k.transpose(0, 2, 1) / math.sqrt(dh)  # [B, 3, 3] query x key
        s = np.where(causal, s, -np.inf)
        s = np.exp(s - s.max(-1, keepdims=True))
        a = s / s.sum(-1, keepdims=True)
        out += (a @ v) @ w[pre + "attn.W_O"][h]
    resid = x + out + w[pre + "attn.b_O"]
    hidden = np.maximum(resid @ w[pre + "mlp.W_in"] + w[pre + "mlp.b_in"], 0.0)
    resid = resid + hidden @ w[pre + "mlp.W_out"] + w[pre + "mlp.b_out"]
    return resid @ w["unembed.W_U"] + w["unembed.b_U"]


def test_numpy_reimplementation_agrees_with_trained_weights(tiny_run):
    w = load_file(str(tiny_run / ckpt.MODEL_FILE))  # plain safetensors, no grok code involved
    p = w["unembed.W_U"].shape[1]
    tokens = np.stack([np.repeat(np.arange(p), p), np.tile(np.arange(p), p), np.full(p * p, p)], 1)
    want = _numpy_forward(w, tokens)  # [p*p, 3, p]
    model = ckpt.load(tiny_run).model
    tok = torch.from_numpy(tokens)
    with torch.no_grad():
        fast = model.fast_logits(tok[:, 0], tok[:, 1]).double().numpy()
        full = model(tok).double().numpy()
    assert np.abs(fast - want[:, -1]).max() <= 1e-4
    assert np.abs(full - want).max() <= 1e-4
    # a trained model, not a blank one: it fits part of its training set
    ds = make_dataset(p, 0.3, 0)
    acc = (want[:, -1].argmax(-1) == ds.labels.numpy())[ds.train_mask.numpy()].mean()
    assert acc > 0.2


def test_numpy_reimplementation_with_random_biases(with_random_biases, tmp_path):
    model = _model(23, True, with_random_biases)
    from grok.config import TrainConfig

    ckpt.save_model(tmp_path / "m.safetensors", model, TrainConfig(model=model.cfg))
    w = load_file(str(tmp_path / "m.safetensors"))
    tokens = grid_tokens(23).numpy()
    with torch.no_grad():
        ours = model.fast_logits(torch.from_numpy(tokens[:, 0]), torch.from_numpy(tokens[:, 1])).double().numpy()
    assert np.abs(ours - _numpy_forward(w, tokens)[:, -1]).max() <= 1e-4


# ---------------------------------------------------------------- (c) TransformerLens names
def test_state_dict_has_exactly_the_transformerlens_names_and_shapes():
    p, d, H, dh, m = 23, 128, 4, 32, 512
    want = {
        "embed.W_E": (p + 1, d),
        "pos_embed.W_pos": (3, d),
        "blocks.0.attn.W_Q": (H, d, dh),
        "blocks.0.attn.W_K": (H, d, dh),
        "blocks.0.attn.W_V": (H, d, dh),
        "blocks.0.attn.W_O": (H, dh, d),
        "blocks.0.attn.b_Q": (H, dh),
        "blocks.0.attn.b_K": (H, dh),
        "blocks.0.attn.b_V": (H, dh),
        "blocks.0.attn.b_O": (d,),
        "blocks.0.attn.mask": (3, 3),
        "blocks.0.attn.IGNORE": (),
        "blocks.0.mlp.W_in": (d, m),
        "blocks.0.mlp.b_in": (m,),
        "blocks.0.mlp.W_out": (m, d),
        "blocks.0.mlp.b_out": (d,),
        "unembed.W_U": (d, p),
        "unembed.b_U": (p,),
    }
    model = Transformer(ModelConfig(p=p))
    sd = model.state_dict()
    assert {k: tuple(v.shape) for k, v in sd.items()} == want
    assert set(model.weights()) == set(want) - {"blocks.0.attn.mask", "blocks.0.attn.IGNORE"}
    assert sd["blocks.0.attn.mask"].dtype == torch.bool
    assert torch.equal(sd["blocks.0.attn.mask"], torch.tril(torch.ones(3, 3, dtype=torch.bool)))
    assert sd["blocks.0.attn.IGNORE"].item() == -math.inf
    # the reference init: biases zero, matrices randn / sqrt(d_model) (W_U randn / sqrt(p + 1))
    for k, v in model.weights().items():
        if ".b_" in k:
            assert torch.all(v == 0), k
    assert abs(model.embed.W_E.std().item() - 1 / math.sqrt(d)) < 0.01
    assert abs(model.unembed.W_U.std().item() - 1 / math.sqrt(p + 1)) < 0.02


def test_saved_model_file_carries_the_same_names(tiny_run):
    w = load_file(str(tiny_run / ckpt.MODEL_FILE))
    assert set(w) == set(Transformer(ModelConfig(p=23), seed=None).state_dict())


# ---------------------------------------------------------------- (d) gradients
def test_fast_path_gradients_equal_full_path_gradients(with_random_biases):
    p = 23
    ds = make_dataset(p, 0.3, 0)
    tm = ds.train_mask
    fast_m = _model(p, True, with_random_biases)
    full_m = _model(p, True, with_random_biases)
    loss_fn(fast_m.fast_logits(ds.tokens[tm, 0], ds.tokens[tm, 1]), ds.labels[tm]).backward()
    loss_fn(full_m(ds.tokens[tm])[:, -1], ds.labels[tm]).backward()
    full_grads = dict(full_m.named_parameters())
    overall = max(g.grad.abs().max().item() for g in full_grads.values())
    for name, prm in fast_m.named_parameters():
        g_fast, g_full = prm.grad, full_grads[name].grad
        assert g_fast is not None and g_full is not None, name
        if name == "blocks.0.attn.b_K":
            # q . b_K adds the same amount to every score of a query row, and softmax ignores
            # that shift: the true gradient is 0 and both paths must give rounding noise only.
            assert g_fast.abs().max().item() <= 1e-6 * overall
            assert g_full.abs().max().item() <= 1e-6 * overall
            continue
        scale = g_full.abs().max().item()
        assert scale > 1e-4 * overall, f"{name} gets almost no gradient: the check would be empty"
        assert (g_fast - g_full).abs().max().item() <= 1e-5 * scale, name
