"""Why does the canonical run's test loss climb ~400-fold after step 10,000? (issue 13)

    python -m tools.late_rise measure [--run pretrained/mod113] [--out docs/late_rise]
    python -m tools.late_rise tail --from-step 14800 --steps 2000 --variant control [--variant eps1e-6 ...]

`measure` reads the shipped run only (metrics.jsonl and the float16 weight frames of its
replay) and writes measure.json + a markdown table: per frame the float32 softmax-collapse
fraction of the training pairs and their logit margins, per-matrix norms, the test loss of
the full logits vs. the logits projected onto the key (x + y)-waves or onto all (x + y)-waves
(which parts carry the growing test loss), and each tensor's gradient RMS next to AdamW's eps.

`tail` restarts training from one of those float16 frames with the run's own recipe, changing
one thing per variant (float32 loss, a larger Adam eps, a lower lr). The replay stores no AdamW
moments, so each tail first takes WARM steps at lr 0 (the moments fill with real gradient
statistics; with lr 0 AdamW changes no weight, its decay term is lr * wd * w = 0), then trains.
Rows go to OUT/tail-VARIANT.jsonl; run at most two tails at a time, under nice.
Tails flush float32 denormals to zero (torch.set_flush_denormal): late in the canonical run
the float64 loss hands float32 gradients below 1.2e-38 (wrong-class probabilities e^-90) to
the backward pass, which makes a CPU step ~8x slower; such values move no weight under AdamW
(eps 1e-8), so the tails' dynamics are the run's.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from grok import atomic, checkpoint as ckpt, fourier, measures, norms, replay, stablemax
from grok.data import make_dataset

WARM = 200
VARIANTS = {  # name -> changes to the run's recipe
    "control": {},
    "float32": {"softmax_precision": 32},
    "eps1e-6": {"adam_eps": 1e-6},
    "lr1e-4": {"lr": 1e-4},
}


def _load(run: Path, step: int):
    cfg = ckpt.load_config(run)
    return cfg, replay.load_weights(run / ckpt.REPLAY_FILE, step, cfg)


@torch.no_grad()
def logit_parts(logits: torch.Tensor, ds, ks) -> dict:
    """Test loss of the full logits, of the key (x+y)-waves only, of all (x+y)-waves (each plus
    the per-class mean), and the energy of the off-wave remainder on train / test pairs."""
    p = logits.shape[1]
    L = logits.double()
    mean = L.mean(0, keepdim=True)
    all_k = range(1, fourier.n_freqs(p) + 1)
    waves = measures.project_key(L, all_k)
    key = measures.project_key(L, ks)
    off = L - mean - waves  # [p*p, p] the part that is no function of x + y
    m = ds.train_mask
    nll = lambda z: measures.nll(z, ds.labels)  # noqa: E731
    e = measures.logit_freq_energy(logits).double()
    non_key = [k for k in all_k if k not in ks]
    top = sorted(non_key, key=lambda k: -e[k - 1].item())[:3]
    return {
        "test_loss": nll(L)[~m].mean().item(),
        "test_loss_key_waves": nll(key + mean)[~m].mean().item(),
        "test_loss_all_waves": nll(waves + mean)[~m].mean().item(),
        "test_loss_key_plus_off_wave": nll(key + mean + off)[~m].mean().item(),
        "off_wave_rms_train": off[m].pow(2).mean().sqrt().item(),
        "off_wave_rms_test": off[~m].pow(2).mean().sqrt().item(),
        "non_key_wave_energy": e[[k - 1 for k in non_key]].sum().item(),
        "key_wave_energy": e[[k - 1 for k in ks]].sum().item(),
        "top_non_key": {int(k): round(e[k - 1].item(), 3) for k in top},
        **worst_test_pairs(L, mean, waves, key, ds),
    }


@torch.no_grad()
def worst_test_pairs(L, mean, waves, key, ds, n: int = 10) -> dict:
    """The test loss is a mean of ~e^-margin over 8,939 pairs, so a few pairs with a small
    margin dominate it: the n worst pairs' share of the test loss, the smallest test margin,
    and how much of those pairs' margin deficit the off-wave part (L - mean - waves) carries."""
    m = ~ds.train_mask
    lab = ds.labels[m]
    per = measures.nll(L, ds.labels)[m]  # [n_test]
    idx = per.argsort(descending=True)[:n]

    def margin(z):
        z = z[m]
        c = z.gather(1, lab[:, None]).squeeze(1)
        return c - z.scatter(1, lab[:, None], float("-inf")).max(1).values

    full, all_w = margin(L), margin(waves + mean)
    p = L.shape[1]
    worst = [(int(i) // p, int(i) % p) for i in ds.test_idx[idx.cpu()]] if hasattr(ds, "test_idx") else []
    return {
        "test_margin_min": full.min().item(), "test_pairs_margin_below_5": int((full < 5).sum()),
        "worst10_share_of_test_loss": (per[idx].sum() / per.sum()).item(),
        "worst10_margin_full": full[idx].mean().item(), "worst10_margin_all_waves": all_w[idx].mean().item(),
        "worst_pairs": worst[:5],
    }


def grad_rms(model, ds, cfg) -> dict:
    m = ds.train_mask
    model.zero_grad(set_to_none=True)
    stablemax.cross_entropy(model.fast_logits(ds.tokens[m, 0], ds.tokens[m, 1]), ds.labels[m], cfg.loss, cfg.softmax_precision).backward()
    out = {n.rsplit(".", 1)[-1]: p.grad.double().pow(2).mean().sqrt().item() for n, p in model.named_parameters() if n.rsplit(".", 1)[-1] in norms.MATRICES}
    model.zero_grad(set_to_none=True)
    return out


@torch.no_grad()
def margins(logits: torch.Tensor, labels: torch.Tensor) -> dict:
    """Correct-class logit lead over the runner-up, on the given rows."""
    c = logits.gather(1, labels[:, None]).squeeze(1)
    other = logits.scatter(1, labels[:, None], float("-inf")).max(1).values
    d = (c - other).double()
    return {"margin_median": d.median().item(), "margin_min": d.min().item()}


def measure(run: Path, out: Path) -> dict:
    torch.set_flush_denormal(True)  # speed only (see tail)
    cfg = ckpt.load_config(run)
    ds = make_dataset(cfg.model.p, cfg.frac_train, cfg.seed)
    rows = {r["step"]: r for r in ckpt.read_metrics(run)}
    rp = replay.load(run / ckpt.REPLAY_FILE)
    m = ds.train_mask
    frames = []
    for step in rp.weight_steps:
        model = replay.load_weights(run / ckpt.REPLAY_FILE, step, cfg)
        acts = measures.grid_activations(model)
        ks = rows.get(step, {}).get("key_frequencies") or measures.key_frequencies(acts.logits)
        f = {"step": step, "metrics_test_loss": rows.get(step, {}).get("test_loss"),
             "softmax_collapse": stablemax.collapse_fraction(acts.logits[m], ds.labels[m]),
             "train_loss_fp16_weights": measures.nll(acts.logits, ds.labels)[m].mean().item(),
             "train_loss_float32_softmax": stablemax.cross_entropy(acts.logits[m], ds.labels[m], "softmax", 32).item(),
             **margins(acts.logits[m], ds.labels[m]), **norms.matrix_norms(model), "key_frequencies": ks,
             **logit_parts(acts.logits, ds, ks)}
        if step >= 8000:
            f["grad_rms"] = grad_rms(model, ds, cfg)
        frames.append(f)
        print(f"step {step:>6}: test {f['test_loss']:.2e} key-waves {f['test_loss_key_waves']:.2e} all-waves {f['test_loss_all_waves']:.2e} "
              f"key+off {f['test_loss_key_plus_off_wave']:.2e} collapse {f['softmax_collapse']:.3f} |W_U| {f['norm_W_U']:.2f}", flush=True)
    res = {"run": str(run), "adam_eps": cfg.adam_eps, "frames": frames}
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_json(out / "measure.json", res)
    return res


def table(res: dict) -> str:
    """Markdown table of the frames from step 8,000 on."""
    cols = ["step", "test loss", "logits on all (x+y)-waves: test loss", "key waves only: test loss", "min test margin",
            "worst 10 of 8,939 test pairs: share of test loss", "float32 softmax collapse (train pairs)", "median train margin",
            "norm W_U", "norm W_out", "norm W_in", "grad RMS W_U (AdamW eps 1e-8)"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for f in res["frames"]:
        if f["step"] < 8000:
            continue
        g = f.get("grad_rms", {})
        lines.append(f"| {f['step']:,} | {f['test_loss']:.1e} | {f['test_loss_all_waves']:.1e} | {f['test_loss_key_waves']:.1e} | "
                     f"{f['test_margin_min']:.2f} | {f['worst10_share_of_test_loss']:.0%} | {f['softmax_collapse']:.2f} | {f['margin_median']:.1f} | "
                     f"{f['norm_W_U']:.2f} | {f['norm_W_out']:.2f} | {f['norm_W_in']:.2f} | {g.get('W_U', float('nan')):.1e} |")
    return "\n".join(lines)


# ---------------------------------------------------------------- tails
def tail(run: Path, from_step: int, steps: int, variant: str, out: Path, eval_every: int = 100) -> list[dict]:
    torch.set_flush_denormal(True)
    cfg, model = _load(run, from_step)
    cfg = replace(cfg, **VARIANTS[variant]).validate()
    ds = make_dataset(cfg.model.p, cfg.frac_train, cfg.seed)
    m = ds.train_mask
    x, y, lab = ds.tokens[m, 0], ds.tokens[m, 1], ds.labels[m]
    opt = torch.optim.AdamW(model.parameters(), lr=0.0, weight_decay=cfg.wd, betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps)
    rows: list[dict] = []
    path = out / f"tail-{variant}.jsonl"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def record(i: int) -> None:
        with torch.no_grad():
            acts = measures.grid_activations(model)
        r = {"step": from_step + i, "tail_step": i, "variant": variant, "wall_time": round(time.perf_counter() - t0, 1),
             **measures.loss_acc(acts.logits, ds), "softmax_collapse": stablemax.collapse_fraction(acts.logits[m], lab),
             **norms.matrix_norms(model)}
        rows.append(r)
        atomic.write_jsonl(path, rows)
        print(f"{variant} +{i}: train {r['train_loss']:.2e} test {r['test_loss']:.2e} collapse {r['softmax_collapse']:.2f} ({r['wall_time']}s)", flush=True)

    for i in range(-WARM, steps):
        if i == 0:
            record(0)
        lr = 0.0 if i < 0 else cfg.lr
        for g in opt.param_groups:
            g["lr"] = lr
        loss = stablemax.cross_entropy(model.fast_logits(x, y), lab, cfg.loss, cfg.softmax_precision)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 0 and (i + 1) % eval_every == 0:
            record(i + 1)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.late_rise", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a1 = sub.add_parser("measure")
    a1.add_argument("--run", type=Path, default=Path("pretrained/mod113"))
    a1.add_argument("--out", type=Path, default=Path("docs/late_rise"))
    a2 = sub.add_parser("tail")
    a2.add_argument("--run", type=Path, default=Path("pretrained/mod113"))
    a2.add_argument("--out", type=Path, default=Path("docs/late_rise"))
    a2.add_argument("--from-step", type=int, default=14800)
    a2.add_argument("--steps", type=int, default=2000)
    a2.add_argument("--variant", choices=list(VARIANTS), action="append", required=True)
    a3 = sub.add_parser("table")
    a3.add_argument("--out", type=Path, default=Path("docs/late_rise"))
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    if a.cmd == "measure":
        print(table(measure(a.run, a.out)))
    elif a.cmd == "tail":
        for v in a.variant:
            tail(a.run, a.from_step, a.steps, v, a.out)
    else:
        print(table(json.loads((a.out / "measure.json").read_text())))
        print()
        print(tail_table(a.out))
    return 0


def tail_table(out: Path) -> str:
    lines = ["| tail variant (from the float16 frame, 200 lr-0 warm-up steps) | test loss at +0 | min | at the end (+N) | end / start | train loss at the end | float32 collapse at the end | wall s |",
             "|---|---|---|---|---|---|---|---|"]
    for v in VARIANTS:
        p = out / f"tail-{v}.jsonl"
        if not p.exists():
            continue
        rows = [json.loads(l) for l in p.read_text().splitlines() if l.strip()]
        a, b = rows[0], rows[-1]
        lines.append(f"| {v} | {a['test_loss']:.2e} | {min(r['test_loss'] for r in rows):.2e} | {b['test_loss']:.2e} (+{b['tail_step']}) | "
                     f"{b['test_loss'] / a['test_loss']:.1f}x | {b['train_loss']:.2e} | {b['softmax_collapse']:.2f} | {b['wall_time']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
