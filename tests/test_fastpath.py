"""The training step's speed levers keep the maths: the hand-written bag backward, the index
plan, fused AdamW and torch.compile give the full path's logits and gradients."""
from __future__ import annotations

import pytest
import torch

from grok import compiled
from grok.config import ModelConfig
from grok.data import grid_tokens, make_dataset
from grok.fastbag import bag, make_plan
from grok.model import Transformer, loss_fn


def _reference_bag(table, w, x, y, p, H):
    """The same sum with plain indexing, differentiated by autograd (float64)."""
    t = table.view(2 * p, H, -1)  # token-major number rows: [2p, H, D]
    return (w[:, :, 0, None] * t[x] + w[:, :, 1, None] * t[p + y]).sum(1)  # [B, D]


def test_bag_forward_and_both_gradients_equal_autograd_of_the_plain_sum():
    p, H, D = 7, 4, 11
    g = torch.Generator().manual_seed(0)
    tok = grid_tokens(p)
    tok = tok[tok[:, 0] < 5]  # x = 5, 6 never occur: their rows are read by no sample
    x, y = tok[:, 0], tok[:, 1]
    table = torch.randn(2 * p * H, D, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.rand(x.shape[0], H, 2, generator=g, dtype=torch.float64).requires_grad_()
    up = torch.randn(x.shape[0], D, generator=g, dtype=torch.float64)
    out = bag(table, w, make_plan(x, y, p, H))
    ref = _reference_bag(table, w, x, y, p, H)
    assert (out - ref).abs().max().item() < 1e-12 and ref.abs().max().item() > 0.5
    gt, gw = torch.autograd.grad((out * up).sum(), (table, w))
    rt, rw = torch.autograd.grad((ref * up).sum(), (table, w))
    assert (gt - rt).abs().max().item() < 1e-12 and (gw - rw).abs().max().item() < 1e-12
    assert rt.abs().sum(1).eq(0).any() and rt.abs().max().item() > 0.1  # unread rows get exactly 0


def test_fast_gradients_equal_the_full_paths(with_random_biases):
    p = 23
    ds = make_dataset(p, 0.3, 0)
    tok, lab = ds.tokens[ds.train_mask], ds.labels[ds.train_mask]
    m_full = with_random_biases(Transformer(ModelConfig(p=p), seed=1))
    m_fast = Transformer(ModelConfig(p=p), seed=None)
    m_fast.load_state_dict(m_full.state_dict())
    loss_fn(m_full(tok)[:, -1], lab).backward()
    plan = make_plan(tok[:, 0], tok[:, 1], p, 4)
    loss_fn(m_fast.fast_logits(tok[:, 0], tok[:, 1], plan), lab).backward()
    for (n, a), b in zip(m_full.named_parameters(), m_fast.parameters()):
        scale = a.grad.abs().max().item()
        assert scale > 0, n
        assert (a.grad - b.grad).abs().max().item() <= 1e-4 * scale + 1e-7, n


def test_a_plan_for_another_batch_is_not_used():
    p = 23
    m = Transformer(ModelConfig(p=p), seed=0)
    tok = grid_tokens(p)
    wrong = make_plan(tok[:10, 0], tok[:10, 1], p, 4)
    with torch.no_grad():
        a = m.fast_logits(tok[:, 0], tok[:, 1], wrong)
        b = m(tok)[:, -1]
    assert (a - b).abs().max().item() <= 1e-5


@pytest.mark.skipif(not compiled.available()[0], reason="inductor cannot compile here")
def test_compiled_and_eager_give_the_same_logits_and_loss():
    p = 23
    m = Transformer(ModelConfig(p=p), seed=2)
    tok = grid_tokens(p)
    x, y = tok[:, 0], tok[:, 1]
    plan = make_plan(x, y, p, 4)
    labels = (x + y) % p
    fwd = compiled.compile_fn(lambda mm: mm.fast_logits(x, y, plan))
    with torch.no_grad():
        eager = m.fast_logits(x, y, plan)
        comp = fwd(m)
        full = m(tok)[:, -1]
    assert (comp - eager).abs().max().item() <= 1e-5 and (comp - full).abs().max().item() <= 1e-5
    assert eager.std().item() > 0.1
    cl = compiled.compile_fn(lambda mm: loss_fn(mm.fast_logits(x, y, plan), labels))(m)
    assert abs(cl.item() - loss_fn(eager, labels).item()) <= 1e-6


def test_pick_chooses_eager_for_short_runs_and_off(tmp_path):
    m = Transformer(ModelConfig(p=5), seed=0)

    def f(mm):
        return mm.fast_logits(torch.tensor([1]), torch.tensor([2])).sum()

    def make_opt(mm):
        return torch.optim.AdamW(mm.parameters())

    fn, on, why = compiled.pick("off", 10**6, f, m, make_opt)
    assert fn is f and not on and "--compile off" in why
    fn, on, why = compiled.pick("auto", 500, f, m, make_opt)
    assert fn is f and not on and "500 steps" in why and "would not pay" in why
    with pytest.raises(ValueError):
        compiled.pick("sometimes", 10, f, m, make_opt)


_RESUME_SCRIPT = """
import sys, torch
from grok.config import TrainConfig, ModelConfig
from grok.train import train
from grok import checkpoint as ckpt
root = sys.argv[1]
cfg = TrainConfig(model=ModelConfig(p=23), steps=40, eval_every=10)
whole = train(cfg, root + "/whole", progress=False, compile="on")
n = {"n": 0}
def stop_at_20():
    n["n"] += 1
    return n["n"] >= 20
part = train(cfg, root + "/part", progress=False, compile="on", should_stop=stop_at_20)
assert part["step"] == 20 and not part["completed"], part
# "off" is asked for, but the saved state says the run steps compiled: that wins
res = train(cfg, root + "/part", progress=False, resume=True, compile="off")
assert res["step"] == 40 == whole["step"]
a = ckpt.read_tensors(root + "/whole/state.safetensors")
b = ckpt.read_tensors(root + "/part/state.safetensors")
assert a[1]["step_mode"] == b[1]["step_mode"] == "on", (a[1], b[1])
bad = [k for k in a[0] if k.startswith(("model.", "optim.")) and not torch.equal(a[0][k], b[0][k])]
print("differ:", bad)
"""


@pytest.mark.skipif(not compiled.available()[0], reason="inductor cannot compile here")
def test_compiled_training_resumes_bit_identically_and_keeps_its_mode(tmp_path):
    """A run started with --compile on is resumed compiled (the mode is in its state), and a
    stop + resume changes no bit. In a fresh process, as the trainer runs (other tests' compiles
    in this process must not share its dynamo cache)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    r = subprocess.run([sys.executable, "-c", _RESUME_SCRIPT, str(tmp_path)], cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "differ: []" in r.stdout, r.stdout
