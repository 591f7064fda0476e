"""The attention view's numbers are the full forward's hook_pattern / hook_attn_out, and its
Fourier summaries have known answers on the hand-built clock."""
import pytest
import torch

from grok import attention
from grok.config import ModelConfig
from grok.data import grid_tokens
from grok.model import Transformer

try:
    from clock import clock_model
except ImportError:
    from tests.clock import clock_model

P = 23


@pytest.mark.parametrize("which", ["random", "clock"])
def test_pattern_and_output_equal_the_full_forward(which):
    model = (Transformer(ModelConfig(p=P, d_model=32, n_heads=4, d_head=8, d_mlp=64), seed=3) if which == "random"
             else clock_model(P, [3, 7]))
    with torch.no_grad():
        for prm in (model.attn.b_Q, model.attn.b_K, model.attn.b_V, model.attn.b_O):
            prm.normal_(0, 0.3)  # biases too: the fast path must fold them in
        _, cache = model.run_with_cache(grid_tokens(P))
    pat = attention.grid_pattern(model)  # [p, p, H, 3]
    ref = cache["blocks.0.attn.hook_pattern"][:, :, 2, :]  # [p*p, H, 3] from "="
    assert torch.allclose(pat.reshape(P * P, -1, 3), ref, atol=1e-6)
    out = attention.attn_out_grid(model)
    assert torch.allclose(out, cache["blocks.0.hook_attn_out"][:, 2], atol=1e-4)


def test_clock_heads_and_ov_norms():
    model = clock_model(P, [3, 7])
    pat = attention.grid_pattern(model)
    assert pat[..., 0, 0].min() > 0.999 and pat[..., 1, 1].min() > 0.999  # head 0 -> x, head 1 -> y
    norms = attention.ov_freq_norms(model)  # [H, K]
    assert norms.shape == (2, (P - 1) // 2)
    for h in range(2):
        top = set((norms[h].argsort(descending=True)[:2] + 1).tolist())
        assert top == {3, 7}
        others = norms[h][[k - 1 for k in range(1, 12) if k not in (3, 7)]]
        assert others.max() < 1e-4 * norms[h].max()


def test_pattern_freq_share():
    p = 31
    x = torch.arange(p, dtype=torch.float64)
    w = 2 * torch.pi * 4 / p
    A = 0.5 + 0.1 * torch.cos(w * x)[:, None] * torch.sin(w * x)[None, :] + 0.05 * torch.cos(w * x)[:, None]
    assert attention.pattern_freq_share(A, [4]) == pytest.approx(1.0, abs=1e-9)
    assert attention.pattern_freq_share(A, [5]) == pytest.approx(0.0, abs=1e-9)
    assert attention.pattern_freq_share(torch.full((p, p), 0.3), [4]) == 0.0
