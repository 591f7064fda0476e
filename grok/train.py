"""Training loop and CLI: `python -m grok.train --out runs/NAME [options]`.

Top-down: build data and model from a TrainConfig, step AdamW on the full training batch
with the exact fast forward, evaluate every `eval_every` steps on the whole grid, and keep
the run folder consistent at every moment:
- metrics.jsonl and state.safetensors are rewritten atomically at each eval, so a SIGKILL
  loses at most the steps since the last eval, and `--resume` continues bit-identically
  (full-batch training uses no randomness after init; the RNG is saved all the same);
- snapshots/ gets weights on a schedule dense early and sparse late (the replay's source);
- model.safetensors is written at the end, or when the run is stopped (Ctrl-C, a stop flag).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import torch

from . import atomic, checkpoint as ckpt, grokfast as gf, measures, norms, orthograd, stablemax
from .config import ConfigError, ModelConfig, TrainConfig
from .data import Dataset, make_dataset
from .model import Transformer
from .fastbag import make_plan
from . import compiled, presets


def snapshot_schedule(steps: int, every: int = 0) -> set[int]:
    """Steps whose weights are kept for replay: every `every` steps, or by default dense early
    (every 10 steps to 200, 50 to 2,000, then 100) so memorisation is captured.
    Step 0 (init) and the last step are always in."""
    if every > 0:
        s = set(range(0, steps + 1, every))
    else:
        s = set()
        for lo, hi, dt in ((0, 200, 10), (200, 2000, 50), (2000, steps + 1, 100)):
            s.update(range(lo, min(hi, steps + 1), dt))
    return s | {0, steps}


@torch.no_grad()
def evaluate(model: Transformer, ds: Dataset) -> dict:
    """Loss and accuracy on train / test / all pairs and the progress measures, from one
    full-grid forward; plus the float32 softmax-collapse fraction of the training pairs and
    the per-matrix weight norms (grok/stablemax.py, grok/norms.py)."""
    from .leakfree import novel_accuracy  # accuracy on test pairs whose swap is untrained too

    acts = measures.grid_activations(model)
    novel = novel_accuracy(acts.logits, ds)["test_acc_novel"]
    return {
        **measures.loss_acc(acts.logits, ds),
        "test_acc_novel": None if novel != novel else novel,  # None (JSON null) when no test pair is leak-free
        "weight_norm": measures.weight_norm(model),
        "softmax_collapse": stablemax.collapse_fraction(acts.logits[ds.train_mask], ds.labels[ds.train_mask]),
        **norms.matrix_norms(model),
        **measures.progress_measures(model, ds, acts=acts),
    }


# ---------------------------------------------------------------- resume state
def save_state(folder: Path, model, opt, ema, step, wall, grokked_step, cfg, step_mode: str = "") -> None:
    t = {f"model.{k}": v for k, v in model.weights().items()}
    names = [k for k, _ in model.named_parameters()]
    for i, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            t[f"optim.{names[i]}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    if ema is not None:
        t.update({f"grokfast.{k}": v for k, v in ema.items()})
    t["rng.torch"] = torch.get_rng_state()
    meta = {"step": step, "wall_time": wall, "grokked_step": grokked_step, "config": cfg.to_dict()}
    if step_mode:  # "on" / "off": the compile mode the run steps in (grok/compiled.py)
        meta["step_mode"] = step_mode
    ckpt.save_tensors(folder / ckpt.STATE_FILE, t, meta)


def load_state(folder: Path, model, opt, cfg):
    path = folder / ckpt.STATE_FILE
    t, meta = ckpt.read_tensors(path)
    weights = {k[len("model."):]: v for k, v in t.items() if k.startswith("model.")}
    model.load_state_dict(ckpt.validate_weights(path, weights, cfg.model), strict=False)
    names = [k for k, _ in model.named_parameters()]
    sd = opt.state_dict()
    state = {}
    for i, n in enumerate(names):
        keys = {k.split(".")[-1] for k in t if k.startswith(f"optim.{n}.")}
        if keys:
            state[i] = {k: t[f"optim.{n}.{k}"] for k in keys}
    sd["state"] = state
    opt.load_state_dict(sd)
    ema = {k[len("grokfast."):]: v for k, v in t.items() if k.startswith("grokfast.")} or None
    if "rng.torch" in t:
        torch.set_rng_state(t["rng.torch"])
    g = json.loads(meta.get("grokked_step", "null"))
    return int(meta["step"]), float(meta.get("wall_time", 0.0)), g, ema


def _saved_step_mode(folder: Path) -> str | None:
    """The compile mode ("on" / "off") a run's saved state was stepped in, if it says."""
    try:
        _, meta = ckpt.read_tensors(folder / ckpt.STATE_FILE)
    except (ckpt.CheckpointError, OSError):
        return None
    m = str(meta.get("step_mode", "")).strip('"')  # stored as the bare string
    return m if m in ("on", "off") else None


# ---------------------------------------------------------------- the loop
def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but torch sees no CUDA device")
    return torch.device(name)


@contextlib.contextmanager
def flushed_denormals(dev: torch.device):
    """Flush float32 denormals to zero while training on a CPU (this thread's FTZ/DAZ flags).

    Why: once a run has memorised, Adam's second moments of its tiny gradients fall below
    1.2e-38, and every operation on such denormal numbers takes a slow microcode path: measured
    here, steps late in a run got ~8x slower (0.42 s vs 0.053 s at step 14,800 of the canonical
    run). Flushed, those numbers are 0, which changes no update (Adam adds eps = 1e-8 to their
    square root) and keeps the run deterministic, so resume stays bit-identical."""
    on = dev.type == "cpu" and torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if on:
            torch.set_flush_denormal(False)


def train(
    cfg: TrainConfig,
    out: str | Path,
    device: str = "cpu",
    resume: bool = False,
    progress: bool = True,
    on_eval: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_seconds: float | None = None,
    compile: str = "auto",
) -> dict:
    """Train (or resume) the run in `out`; returns the last metrics row.

    on_eval(row) is called after each eval (live charts); should_stop() is polled every step
    (a stop button, a closed tab); max_seconds caps wall time. Either stop writes a valid
    partial run: state, metrics and model.safetensors at the current step.
    compile: "auto" | "on" | "off" for the step's forward + loss (grok/compiled.py); a resumed
    run keeps the mode it was started in, so its steps stay bit-identical.
    On a CPU, float32 denormals are flushed to zero while it runs (see flushed_denormals).
    """
    dev = pick_device(device)
    with flushed_denormals(dev):
        return _train(cfg, out, dev, resume, progress, on_eval, should_stop, max_seconds, compile)


def _train(cfg: TrainConfig, out: str | Path, dev: torch.device, resume: bool, progress: bool, on_eval, should_stop,
           max_seconds: float | None, compile: str) -> dict:
    out = Path(out)
    if resume:  # the run's own recipe wins; only the step budget may be changed
        cfg = replace(ckpt.load_config(out), steps=cfg.steps)
    elif (out / ckpt.STATE_FILE).exists() or (out / ckpt.CONFIG_FILE).exists():
        raise ConfigError(f"{out} already holds a run: pass --resume to continue it, or choose another --out")
    cfg.validate()
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_json(out / ckpt.CONFIG_FILE, cfg.to_dict())

    ds = make_dataset(cfg.model.p, cfg.frac_train, cfg.seed).to(dev)
    xtr, ytr, ltr = ds.tokens[ds.train_mask, 0], ds.tokens[ds.train_mask, 1], ds.labels[ds.train_mask]
    model = Transformer(cfg.model, seed=cfg.seed).to(dev)
    def make_opt(m: Transformer) -> torch.optim.Optimizer:  # fused: one kernel for all tensors
        return torch.optim.AdamW(m.parameters(), lr=cfg.lr, weight_decay=cfg.wd, betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps, fused=dev.type in ("cpu", "cuda"))

    opt = make_opt(model)
    ema: dict[str, torch.Tensor] | None = None
    start, wall, grokked = 0, 0.0, None
    metrics: list[dict] = []
    if resume and (out / ckpt.STATE_FILE).exists():
        start, wall, grokked, ema = load_state(out, model, opt, cfg)
        metrics = [r for r in ckpt.read_metrics(out) if r["step"] <= start]
    snaps = snapshot_schedule(cfg.steps, cfg.snapshot_every)
    names = [k for k, _ in model.named_parameters()]
    plan = make_plan(xtr, ytr, cfg.model.p, cfg.model.n_heads)  # the batch's index bookkeeping, once

    def step_loss(m: Transformer) -> torch.Tensor:
        return stablemax.cross_entropy(m.fast_logits(xtr, ytr, plan), ltr, cfg.loss, cfg.softmax_precision)

    if resume and start > 0:  # keep the mode the run was started in
        compile = _saved_step_mode(out) or compile
    step_loss, compiled_on, why = compiled.pick(compile, cfg.steps - start, step_loss, model, make_opt)
    step_mode = "on" if compiled_on else "off"
    if progress:
        print(f"step: {why}", file=sys.stderr)

    def record(step: int) -> dict:
        row = {"step": step, "wall_time": round(wall, 3), "lr": opt.param_groups[0]["lr"], **evaluate(model, ds)}
        metrics.append(row)
        atomic.write_jsonl(out / ckpt.METRICS_FILE, metrics)
        save_state(out, model, opt, ema, step, wall, grokked, cfg, step_mode)
        if on_eval is not None:
            on_eval(row)
        return row

    if start == 0:
        row = record(0)
        ckpt.save_snapshot(out, 0, model)
    else:
        row = metrics[-1] if metrics else record(start)

    interrupted = {"flag": False}
    old_handler = None
    if progress:  # the CLI: Ctrl-C / SIGTERM finish the step and save, instead of dying mid-write
        def _handler(signum, frame):
            interrupted["flag"] = True
        old_handler = signal.signal(signal.SIGINT, _handler)
        signal.signal(signal.SIGTERM, _handler)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=cfg.steps, initial=start, desc=out.name, unit="step", dynamic_ncols=True)
    step = start
    t0 = time.perf_counter()
    wall0 = wall
    stopped = False
    try:
        while step < cfg.steps:
            if cfg.warmup:
                for g in opt.param_groups:
                    g["lr"] = cfg.lr * min(1.0, (step + 1) / cfg.warmup)
            loss = step_loss(model)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.orthograd:  # the perpendicular gradient, per tensor (before any filter)
                orthograd.orthogonalize_(model.parameters())
            if cfg.grokfast:  # Grokfast-EMA: amplify the slow component of the gradient
                ema = gf.ema_(dict(model.named_parameters()), ema, cfg.grokfast_alpha, cfg.grokfast_lambda)
            elif cfg.grokfast_ma:  # Grokfast-MA: the mean of the last grokfast_window gradients
                ema = gf.ma_(dict(model.named_parameters()), ema, cfg.grokfast_window, cfg.grokfast_lambda)
            opt.step()
            step += 1
            wall = wall0 + time.perf_counter() - t0
            if step in snaps:
                ckpt.save_snapshot(out, step, model)
            stop_now = interrupted["flag"] or (should_stop is not None and should_stop()) or (max_seconds is not None and wall - wall0 > max_seconds)
            if step % cfg.eval_every == 0 or step == cfg.steps or stop_now:
                row = record(step)
                if grokked is None and row["test_acc"] >= 1.0:
                    grokked = step
                if bar is not None:
                    bar.set_postfix(train=f"{row['train_loss']:.2e}", test=f"{row['test_loss']:.2e}", acc=f"{row['test_acc']:.3f}", refresh=False)
            if bar is not None:
                bar.update(1)
            if grokked is not None and cfg.stop_after_grokked >= 0 and step >= grokked + cfg.stop_after_grokked:
                if row["step"] != step:
                    row = record(step)
                break
            if stop_now:
                stopped = True
                break
    finally:
        if bar is not None:
            bar.close()
        if old_handler is not None:
            signal.signal(signal.SIGINT, old_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if step not in snaps:
        ckpt.save_snapshot(out, step, model)
    save_state(out, model, opt, ema, step, wall, grokked, cfg, step_mode)
    done = not stopped and (step >= cfg.steps or grokked is not None)
    ckpt.save_model(out / ckpt.MODEL_FILE, model, cfg, step, {"completed": done, "grokked_step": grokked, "wall_time": round(wall, 3)})
    return {**row, "grokked_step": grokked, "completed": done}


# ---------------------------------------------------------------- CLI
def parse_args(argv=None) -> argparse.Namespace:
    d = TrainConfig()
    ap = argparse.ArgumentParser(prog="python -m grok.train", description="Train a one-layer transformer on (x + y) mod p and write a run folder.")
    ap.add_argument("--out", required=True, help="run folder to create (or to continue with --resume)")
    ap.add_argument("--p", type=int, default=d.model.p, help="modulus, odd >= 3 (default 113)")
    ap.add_argument("--frac-train", type=float, default=d.frac_train, help="fraction of pairs used for training (default 0.3)")
    ap.add_argument("--seed", type=int, default=d.seed, help="seed for init and split (default 0)")
    ap.add_argument("--steps", type=int, default=d.steps, help="full-batch steps (default 40000)")
    ap.add_argument("--lr", type=float, default=d.lr, help="AdamW learning rate (default 1e-3)")
    ap.add_argument("--wd", type=float, default=d.wd, help="AdamW weight decay (default 1.0; 0 = the no-grokking contrast)")
    ap.add_argument("--warmup", type=int, default=d.warmup, help="linear LR warm-up steps (default 10)")
    ap.add_argument("--eval-every", type=int, default=d.eval_every, help="steps between evaluations / metrics rows (default 100)")
    ap.add_argument("--snapshot-every", type=int, default=d.snapshot_every, help="steps between weight snapshots; 0 = dense-early schedule (default)")
    ap.add_argument("--grokfast-alpha", type=float, default=d.grokfast_alpha, help="Grokfast-EMA decay, e.g. 0.98 (default 0 = off)")
    ap.add_argument("--grokfast-lambda", type=float, default=d.grokfast_lambda, help="Grokfast-EMA amplification, e.g. 2.0 (default 0 = off)")
    ap.add_argument("--grokfast-window", type=int, default=d.grokfast_window, metavar="N", help="Grokfast-MA: add --grokfast-lambda x the mean of the last N gradients (default 0 = off; the paper uses 100 with lambda 5)")
    ap.add_argument("--loss", choices=["softmax", "stablemax"], default=d.loss, help="cross-entropy over softmax (default) or StableMax (Prieto et al. 2025)")
    ap.add_argument("--softmax-precision", type=int, choices=[32, 64], default=d.softmax_precision, help="precision of the loss: 64 (default: at least float64's, exact in float32) or 32, a plain float32 log-softmax where the softmax collapses")
    ap.add_argument("--orthograd", action="store_true", help="perpendicular gradient: remove each tensor's gradient component along its weights, keep the norm")
    ap.add_argument("--adam-eps", type=float, default=d.adam_eps, help="AdamW epsilon (default 1e-8)")
    ap.add_argument("--stop-after-grokked", type=int, default=d.stop_after_grokked, metavar="N", help="stop N steps after test accuracy first reaches 100%% (default: never)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"], help="where to train (default cpu)")
    ap.add_argument("--resume", action="store_true", help="continue the run in --out from its last saved state")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    ap.add_argument("--preset", choices=presets.names(), default=None,
                    help="a named recipe (grok/presets.py): " + "; ".join(f"{n}: {pr.summary}" for n, pr in presets.PRESETS.items()).replace("%", "%%")
                    + ". Options given beside it override it")
    ap.add_argument("--compile", choices=list(compiled.MODES), default="auto",
                    help=f"torch.compile the step: auto (default: only for runs of {compiled.AUTO_MIN_STEPS:,}+ steps, and only if it "
                         "measures faster), on, off; the choice is printed")
    a = ap.parse_args(argv)
    for act in ap._actions:  # parse again without defaults: the options actually given win over a preset
        act.default = argparse.SUPPRESS
    a.given = set(vars(ap.parse_args(argv)))
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    try:
        cfg = TrainConfig(
            model=ModelConfig(p=a.p), frac_train=a.frac_train, seed=a.seed, steps=a.steps, lr=a.lr, wd=a.wd,
            warmup=a.warmup, eval_every=a.eval_every, snapshot_every=a.snapshot_every,
            grokfast_alpha=a.grokfast_alpha, grokfast_lambda=a.grokfast_lambda, stop_after_grokked=a.stop_after_grokked,
            grokfast_window=a.grokfast_window, loss=a.loss, softmax_precision=a.softmax_precision, orthograd=a.orthograd,
            adam_eps=a.adam_eps,
        ).validate()
        if a.preset and not a.resume:
            cfg = presets.apply(a.preset, cfg, keep=a.given)
        if a.resume and not (Path(a.out) / ckpt.CONFIG_FILE).exists():
            raise ConfigError(f"--resume: {a.out} holds no run to continue")
        if a.resume:
            cfg = ckpt.load_config(a.out) if a.steps == TrainConfig().steps else replace(ckpt.load_config(a.out), steps=a.steps)
        row = train(cfg, a.out, device=a.device, resume=a.resume, progress=not a.quiet, compile=a.compile)
    except (ConfigError, ckpt.CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    g = row.get("grokked_step")
    print(f"step {row['step']}: train loss {row['train_loss']:.3e}, test loss {row['test_loss']:.3e}, "
          f"test acc {row['test_acc']:.4f}, wall {row['wall_time']:.1f}s" + (f", grokked at step {g}" if g is not None else ""))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
