"""Numerics options (issue 13): StableMax, the perpendicular gradient, the loss precision,
Grokfast-MA, the softmax-collapse fraction and per-matrix norms: hand-computed values, then
each option trains p = 23, is recorded in config.json and resumes bit-identically."""
from __future__ import annotations

import json
import math
import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from grok import checkpoint as ckpt, grokfast, norms, orthograd, stablemax
from grok.config import ConfigError, TrainConfig
from grok.train import train


# ---------------------------------------------------------------- StableMax against hand values
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_s_is_linear_above_zero_and_reciprocal_below(dtype):
    x = torch.tensor([3.0, 0.0, -1.0, -3.0, 1e6, -1e6], dtype=dtype)
    want = torch.tensor([4.0, 1.0, 0.5, 0.25, 1e6 + 1, 1 / (1e6 + 1)], dtype=torch.float64)
    torch.testing.assert_close(stablemax.s(x).double(), want, rtol=1e-6 if dtype == torch.float32 else 1e-15, atol=0)


@pytest.mark.parametrize("precision", [32, 64])
def test_stablemax_loss_and_gradient_by_hand(precision):
    # s([2, 0, -1]) = [3, 1, 1/2], sum 9/2: probabilities [2/3, 2/9, 1/9]
    x = torch.tensor([[2.0, 0.0, -1.0]], requires_grad=True)
    loss = stablemax.cross_entropy(x, torch.tensor([0]), "stablemax", precision)
    assert loss.dtype == stablemax.PRECISIONS[precision]
    assert loss.item() == pytest.approx(math.log(1.5), rel=1e-6)
    loss.backward()
    # dL/dx_j = s'(x_j) / S - [j = c] s'(x_c) / s_c, s' = 1 above 0 and 1 / (1 - x)^2 below
    torch.testing.assert_close(x.grad, torch.tensor([[2 / 9 - 1 / 3, 2 / 9, (1 / 4) / 4.5]]), rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(stablemax.stablemax(x.detach().double()), torch.tensor([[2 / 3, 2 / 9, 1 / 9]], dtype=torch.float64))


@pytest.mark.parametrize("precision", [32, 64])
def test_stablemax_on_a_negative_correct_logit(precision):
    # s([-3, 1]) = [1/4, 2]: p_0 = 1/9, loss ln 9; dL/dx = [(1/16)/(9/4) - (1/16)/(1/4), 1/(9/4)]
    x = torch.tensor([[-3.0, 1.0]], dtype=torch.float64, requires_grad=True)
    loss = stablemax.cross_entropy(x, torch.tensor([0]), "stablemax", precision)
    assert loss.item() == pytest.approx(math.log(9), rel=1e-6)
    loss.backward()
    torch.testing.assert_close(x.grad, torch.tensor([[-2 / 9, 4 / 9]], dtype=torch.float64), rtol=1e-6, atol=1e-7)


def test_stablemax_keeps_a_loss_and_gradient_where_float32_softmax_collapses():
    # margin 30: float32 softmax rounds p_c to 1: the loss and the correct logit's gradient are
    # exactly 0 (only the others keep e^-30 ~ 9e-14 each, pushing them down ever more slowly);
    # StableMax gives p_c = 31/33, loss ln(33/31), and a gradient in float32 as in float64
    x32 = torch.tensor([[30.0, 0.0, 0.0]], requires_grad=True)
    soft = stablemax.cross_entropy(x32, torch.tensor([0]), "softmax", 32)
    soft.backward()
    assert soft.item() == 0.0 and x32.grad[0, 0].item() == 0.0
    torch.testing.assert_close(x32.grad[0, 1:], torch.full((2,), math.exp(-30)), rtol=1e-5, atol=0)
    for precision in (32, 64):
        x = torch.tensor([[30.0, 0.0, 0.0]], requires_grad=True)
        loss = stablemax.cross_entropy(x, torch.tensor([0]), "stablemax", precision)
        loss.backward()
        assert loss.item() == pytest.approx(math.log(33 / 31), rel=1e-6)
        torch.testing.assert_close(x.grad, torch.tensor([[1 / 33 - 1 / 31, 1 / 33, 1 / 33]]), rtol=1e-5, atol=1e-8)
    # float64 softmax keeps the tiny loss 2 e^-30 that float32 rounds away
    assert stablemax.cross_entropy(x32.detach(), torch.tensor([0]), "softmax", 64).item() == pytest.approx(2 * math.exp(-30), rel=1e-9)


def test_stablemax_with_huge_logits_is_finite_in_both_precisions():
    # s([1e6, 0, -1e6]) = [1e6 + 1, 1, 1/(1e6 + 1)]: loss = ln(1 + (1 + 1/(1e6+1)) / (1e6+1)) ~ 1e-6
    want = math.log1p((1 + 1 / (1e6 + 1)) / (1e6 + 1))
    for dtype, rel in ((torch.float32, 0.1), (torch.float64, 1e-9)):
        x = torch.tensor([[1e6, 0.0, -1e6]], dtype=dtype, requires_grad=True)
        loss = stablemax.cross_entropy(x, torch.tensor([0]), "stablemax", 64 if dtype == torch.float64 else 32)
        loss.backward()
        assert loss.item() == pytest.approx(want, rel=rel)
        assert torch.isfinite(x.grad).all() and x.grad[0, 1] > 0  # no nan from the unused branch


def test_softmax_loss_at_64_bits_is_the_models_loss_fn():
    from grok.model import loss_fn
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(50, 23, generator=g) * 10, torch.randint(0, 23, (50,), generator=g)
    assert torch.equal(stablemax.cross_entropy(x, y), loss_fn(x, y))


def _f64_xent(x, y):
    x = x.detach().double().requires_grad_()
    loss = -x.log_softmax(-1).gather(-1, y[:, None]).mean()
    loss.backward()
    return loss.item(), x.grad


@pytest.mark.parametrize("scale,margin", [(1.0, 0.0), (8.0, 0.0), (3.0, 12.0)])
def test_exact_xent_equals_a_float64_log_softmax_where_float64_resolves_it(scale, margin):
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 113, (300,), generator=g)
    x = torch.randn(300, 113, generator=g) * scale
    x[torch.arange(300), y] += margin  # margin 12: most pairs right, some not
    x[:20, 0] += 40.0  # and a few confidently wrong
    x.requires_grad_()
    loss = stablemax.softmax_xent(x, y)
    loss.backward()
    want, grad = _f64_xent(x, y)
    assert loss.dtype == torch.float64 and loss.item() == pytest.approx(want, rel=1e-6)
    torch.testing.assert_close(x.grad.double(), grad, rtol=1e-5, atol=1e-9)
    assert x.grad.sum(1).abs().max().item() < 1e-7  # each row of softmax - onehot sums to 0


def test_exact_xent_keeps_loss_and_correct_gradient_past_float64s_collapse():
    # margin 45 over 112 wrong classes: loss = ln(1 + 112 e^-45) ~ 112 e^-45 ~ 3.2e-18, below
    # float64's resolution near 1 (a float64 log-softmax gives 0, or a rounding error); the
    # correct class's gradient is -(1 - p_c) = -112 e^-45 / (1 + 112 e^-45), the others e^-45 / (...)
    x = torch.zeros(2, 113)
    x[0, 7] = 45.0
    x[1, 3] = 45.0  # second row: label 5 is wrong by 45 (loss 45 + ln(1 + 112 e^-45 ...))
    x.requires_grad_()
    y = torch.tensor([7, 5])
    rows = []
    for i in range(2):
        xi = x[i:i + 1].detach().clone().requires_grad_()
        li = stablemax.softmax_xent(xi, y[i:i + 1])
        li.backward()
        rows.append((li.item(), xi.grad[0]))
    tiny = 112 * math.exp(-45)
    assert rows[0][0] == pytest.approx(math.log1p(tiny), rel=1e-6) and rows[0][0] > 0
    assert rows[0][1][7].item() == pytest.approx(-tiny / (1 + tiny), rel=1e-5)
    assert rows[0][1][0].item() == pytest.approx(math.exp(-45) / (1 + tiny), rel=1e-5)
    assert rows[1][0] == pytest.approx(45 + math.log1p(111 * math.exp(-45) + math.exp(-45)), rel=1e-6)
    assert rows[1][1][5].item() == pytest.approx(math.exp(-45) - 1, abs=1e-7) and rows[1][1][3].item() == pytest.approx(1.0, abs=1e-6)
    assert -x.detach().double()[0:1].log_softmax(-1)[0, 7].item() < tiny / 2  # float64 itself loses it


def test_unknown_loss_is_rejected():
    with pytest.raises(ValueError):
        stablemax.cross_entropy(torch.zeros(1, 3), torch.tensor([0]), "sparsemax")


# ---------------------------------------------------------------- the collapse fraction
def test_collapse_fraction_uniform_collapsed_and_mixed():
    labels = torch.tensor([0, 1, 2, 0])
    assert stablemax.collapse_fraction(torch.zeros(4, 113), labels) == 0.0
    collapsed = torch.zeros(4, 113)
    collapsed[torch.arange(4), labels] = 30.0  # margin 30 > ln 2^24 + ln 112
    assert stablemax.collapse_fraction(collapsed, labels) == 1.0
    mixed = collapsed.clone()
    mixed[:2] = 0.0
    mixed[0, 0] = 10.0  # p_c = e^10 / (e^10 + 112): large but below 1 in float32
    assert stablemax.collapse_fraction(mixed, labels) == 0.5
    assert stablemax.collapse_fraction(torch.zeros(0, 5), torch.zeros(0, dtype=torch.long)) == 0.0


# ---------------------------------------------------------------- the perpendicular gradient
def test_perpendicular_by_hand():
    w, g = torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0])
    torch.testing.assert_close(orthograd.perpendicular(w, g), torch.tensor([0.0, math.sqrt(2)]))


def test_perpendicular_gradient_is_orthogonal_to_the_weights_and_keeps_the_norm():
    gen = torch.Generator().manual_seed(3)
    w, g = torch.randn(4, 32, 8, generator=gen), torch.randn(4, 32, 8, generator=gen) + 0.5 * torch.randn(1, generator=gen)
    g = g + 0.7 * w  # a real component along w
    gp = orthograd.perpendicular(w, g)
    assert gp.shape == g.shape and gp.dtype == g.dtype
    cos_before = torch.dot(w.flatten(), g.flatten()) / (w.norm() * g.norm())
    cos_after = torch.dot(w.flatten().double(), gp.flatten().double()) / (w.norm() * gp.norm())
    assert cos_before > 0.3 and abs(cos_after) < 1e-6
    assert gp.norm().item() == pytest.approx(g.norm().item(), rel=1e-6)


def test_orthogonalize_acts_per_tensor_in_place():
    lin = torch.nn.Linear(5, 3)
    lin(torch.randn(7, 5)).square().sum().backward()
    before = {n: p.grad.clone() for n, p in lin.named_parameters()}
    orthograd.orthogonalize_(lin.parameters())
    for n, p in lin.named_parameters():
        assert abs(torch.dot(p.detach().flatten(), p.grad.flatten()).item()) < 1e-5 * p.norm().item() * p.grad.norm().item()
        assert p.grad.norm().item() == pytest.approx(before[n].norm().item(), rel=1e-5)


# ---------------------------------------------------------------- Grokfast filters
def _param_with_grad(v):
    prm = torch.nn.Parameter(torch.zeros(2))
    prm.grad = torch.tensor(v)
    return {"w": prm}


def test_grokfast_ma_waits_for_a_full_window_then_adds_lambda_times_the_mean():
    state = None
    seen = []
    for g in ([1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 2.0]):
        named = _param_with_grad(g)
        state = grokfast.ma_(named, state, window=3, lamb=2.0)
        seen.append(named["w"].grad.tolist())
    # steps 1, 2: window not full, gradient unchanged; step 3: g + 2 * mean(1, 2, 3);
    # step 4: the oldest (1) dropped: g + 2 * mean(2, 3, 4) and 2 * mean(0, 0, 2)
    assert seen[:3] == [[1.0, 0.0], [2.0, 0.0], [3.0 + 4.0, 0.0]]
    assert seen[3] == pytest.approx([4.0 + 6.0, 2.0 + 4.0 / 3.0], rel=1e-6)  # float32
    assert int(state[grokfast.MA_FILLED]) == 3 and int(state[grokfast.MA_POS]) == 1


def test_grokfast_ema_by_hand():
    named = _param_with_grad([1.0, 0.0])
    state = grokfast.ema_(named, None, alpha=0.5, lamb=2.0)
    assert named["w"].grad.tolist() == [3.0, 0.0]  # h = g at the first step
    named = _param_with_grad([3.0, 0.0])
    grokfast.ema_(named, state, alpha=0.5, lamb=2.0)
    assert named["w"].grad.tolist() == [3.0 + 2 * 2.0, 0.0]  # h = 0.5 * 1 + 0.5 * 3


# ---------------------------------------------------------------- config
def test_new_fields_default_to_the_old_recipe_and_old_configs_load():
    old = json.loads((Path(__file__).resolve().parents[1] / "pretrained" / "mod113" / "config.json").read_text())
    assert "loss" not in old
    cfg = TrainConfig.from_dict(old)
    assert (cfg.loss, cfg.softmax_precision, cfg.orthograd, cfg.grokfast_window, cfg.adam_eps) == ("softmax", 64, False, 0, 1e-8)


@pytest.mark.parametrize("kw", [dict(loss="sparsemax"), dict(softmax_precision=16), dict(orthograd=1),
                                dict(grokfast_window=-1), dict(grokfast_window=5, grokfast_alpha=0.9, grokfast_lambda=1.0),
                                dict(adam_eps=0.0)])
def test_bad_numerics_settings_are_rejected(kw, make_config):
    with pytest.raises(ConfigError):
        make_config(**kw)


# ---------------------------------------------------------------- each option trains and resumes
OPTIONS = {
    "stablemax": dict(loss="stablemax", wd=0.0),
    "orthograd": dict(orthograd=True, wd=0.0),
    "softmax32": dict(softmax_precision=32),
    "grokfast_ma": dict(grokfast_window=4, grokfast_lambda=2.0),
    "adam_eps": dict(adam_eps=1e-4),
}


def _weights(folder: Path, name: str = ckpt.MODEL_FILE) -> dict[str, torch.Tensor]:
    return load_file(str(folder / name))


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, make_config) -> Path:
    out = tmp_path_factory.mktemp("num") / "base"
    train(make_config(steps=20), out, progress=False)
    return out


@pytest.mark.parametrize("name", list(OPTIONS))
def test_option_trains_is_recorded_and_resumes_bit_identically(name, baseline, tmp_path, make_config):
    cfg = make_config(steps=20, **OPTIONS[name])
    ref, out = tmp_path / "ref", tmp_path / "stopped"
    row = train(cfg, ref, progress=False)
    assert row["step"] == 20 and math.isfinite(row["train_loss"])
    saved = json.loads((ref / ckpt.CONFIG_FILE).read_text())
    for k, v in OPTIONS[name].items():
        assert saved[k] == v
    assert TrainConfig.from_dict(saved) == cfg
    # the option changes training (vs the same seed with the default recipe)
    assert not torch.equal(_weights(ref)["embed.W_E"], _weights(baseline)["embed.W_E"])
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] >= 7  # between evals: the resume restarts from the step-7 state

    assert train(cfg, out, progress=False, should_stop=stop)["step"] == 7
    assert train(cfg, out, progress=False, resume=True)["step"] == 20
    a, b = _weights(out), _weights(ref)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_grokfast_ma_window_is_in_the_resume_state(tmp_path, make_config):
    out = tmp_path / "ma"
    train(make_config(steps=6, grokfast_window=4, grokfast_lambda=2.0), out, progress=False)
    st = _weights(out, ckpt.STATE_FILE)
    assert st["grokfast.embed.W_E"].shape == (4, 24, 128)  # [window, d_vocab, d_model]
    assert int(st["grokfast." + grokfast.MA_FILLED]) == 4 and int(st["grokfast." + grokfast.MA_POS]) == 6 % 4


def test_metrics_rows_carry_collapse_and_matrix_norms(baseline):
    rows = ckpt.read_metrics(baseline)
    for r in rows:
        assert 0.0 <= r["softmax_collapse"] <= 1.0
        assert {norms.KEY_PREFIX + m for m in norms.MATRICES} <= r.keys()
    from grok.config import ModelConfig
    from grok.model import Transformer
    m = Transformer(ModelConfig(p=23), seed=0)  # step 0 is the init
    assert rows[0]["norm_W_U"] == pytest.approx(m.unembed.W_U.double().norm().item())


# ---------------------------------------------------------------- all options through the CLI, SIGKILL, resume
KILL_STEPS = 120
KILL_ARGS = ["--p", "23", "--steps", str(KILL_STEPS), "--eval-every", "15", "--quiet", "--wd", "0",
             "--loss", "stablemax", "--softmax-precision", "32", "--orthograd",
             "--grokfast-window", "5", "--grokfast-lambda", "2", "--adam-eps", "1e-7"]


def test_cli_options_survive_sigkill_bit_identically(tmp_path, start_cli):
    ref, out = tmp_path / "ref", tmp_path / "killed"
    proc = start_cli("grok.train", "--out", str(ref), *KILL_ARGS)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    cfg = json.loads((ref / ckpt.CONFIG_FILE).read_text())
    assert (cfg["loss"], cfg["softmax_precision"], cfg["orthograd"], cfg["grokfast_window"], cfg["grokfast_lambda"], cfg["adam_eps"], cfg["wd"]) == \
        ("stablemax", 32, True, 5, 2.0, 1e-7, 0.0)
    proc = start_cli("grok.train", "--out", str(out), *KILL_ARGS)
    deadline = time.monotonic() + 300
    while True:
        rows = []
        try:
            rows = ckpt.read_metrics(out)
        except (ckpt.CheckpointError, OSError):
            pass
        if rows and rows[-1]["step"] >= 45 and (out / ckpt.STATE_FILE).exists():
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            break
        assert proc.poll() is None, "the run finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert not (out / ckpt.MODEL_FILE).exists()
    proc = start_cli("grok.train", "--out", str(out), "--resume", *KILL_ARGS)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    a, b = _weights(out), _weights(ref)
    assert all(torch.equal(a[k], b[k]) for k in b)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_time"} for r in rows]  # noqa: E731
    assert strip(ckpt.read_metrics(out)) == strip(ckpt.read_metrics(ref))


# ---------------------------------------------------------------- the shipped contrast runs
@pytest.mark.parametrize("name, flag, lo, hi", [("mod113-orthograd-wd0", "orthograd", 0.99, 1.0),
                                                ("mod113-stablemax-wd0", "stablemax", 0.0, 0.05)])
def test_shipped_contrast_runs_have_the_accuracy_their_cards_claim(name, flag, lo, hi):
    from grok import measures
    from grok.data import make_dataset
    from grok.runs import PRETRAINED

    d = PRETRAINED / name
    loaded = ckpt.load(d)
    cfg = loaded.config
    assert cfg.wd == 0.0 and (cfg.orthograd if flag == "orthograd" else cfg.loss == "stablemax")
    assert json.loads((d / ckpt.CONFIG_FILE).read_text()) == cfg.to_dict()
    ds = make_dataset(cfg.model.p, cfg.frac_train, cfg.seed)
    acc = measures.loss_acc(measures.grid_activations(loaded.model).logits, ds)
    assert acc["train_acc"] == 1.0 and lo <= acc["test_acc"] <= hi
    assert "partial run" in (d / "README.md").read_text()
