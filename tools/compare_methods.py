"""Steps to 100 % test accuracy and wall time per method, median of 3 seeds, at a small p.

    python -m tools.compare_methods run   [--p 31] [--frac-train 0.5] [--lr 3e-3] [--seeds 0 1 2] [--max-steps 4000] [--runs runs/compare]
    python -m tools.compare_methods table [--runs runs/compare]

Why a small p and a faster recipe: at p = 113 one run costs ~70 ms/step on a free core (far
more on this shared 2-core box), so 3 seeds x 6 methods do not fit. p = 31 keeps the widths
(d_model 128, d_mlp 512) but with the canonical 30 % split and lr 1e-3 it was still at 6 % test
accuracy after 1,500 steps, so the comparison uses a 50 % split and lr 3e-3 (the recipe family
that groks in ~1,000 steps at p = 59, ../shared/REFERENCE.md). Wall time on this shared box
says little (load 15+), so the CPU seconds of each run are reported too.
Each run is `python -m grok.train` with --stop-after-grokked 0 (it stops at the first eval with
100 % test accuracy) and eval every 50 steps, so steps to 100 % are resolved to 50 steps.

The "effective lr" column is measured, not assumed: the mean weight displacement per step
over steps 10..200 (from the dense early snapshots, every 10 steps), divided by the baseline's.
Adam divides out a uniform gain, so Grokfast's (1 + lambda) only shows where the gradient is
steady relative to its fluctuations (or where |g| << eps, where Adam acts like SGD).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from grok import atomic, checkpoint as ckpt

METHODS = {  # name -> (CLI flags, note)
    "baseline (AdamW, wd 1)": ([], "the canonical recipe"),
    "Grokfast-EMA (alpha 0.98, lambda 2)": (["--grokfast-alpha", "0.98", "--grokfast-lambda", "2"], "Lee et al. 2024 defaults"),
    "Grokfast-MA (window 100, lambda 5)": (["--grokfast-window", "100", "--grokfast-lambda", "5"], "Lee et al. 2024 MA defaults"),
    "StableMax, wd 1": (["--loss", "stablemax"], "Prieto et al. 2025 loss, with the canonical wd"),
    "StableMax, wd 0": (["--loss", "stablemax", "--wd", "0"], "Prieto et al.'s no-regularisation claim"),
    "perpendicular grad, wd 0": (["--orthograd", "--wd", "0"], "Prieto et al.'s ⊥AdamW without wd"),
}


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-").replace("--", "-")


def run_all(p: int, seeds: list[int], max_steps: int, runs: Path, only: list[str] | None = None, frac: float = 0.5, lr: float = 3e-3) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for name, (flags, _) in METHODS.items():
        if only and not any(o in slug(name) for o in only):
            continue
        for seed in seeds:
            out = runs / f"p{p}-{slug(name)}-s{seed}"
            if (out / ckpt.MODEL_FILE).exists():
                continue
            resume = ["--resume"] if (out / ckpt.CONFIG_FILE).exists() else []
            cmd = [sys.executable, "-m", "grok.train", "--out", str(out), "--p", str(p), "--seed", str(seed), "--steps", str(max_steps),
                   "--frac-train", str(frac), "--lr", str(lr),
                   "--eval-every", "50", "--stop-after-grokked", "0", "--quiet", *flags, *resume]
            t, c = time.time(), _child_cpu()
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            cpu = _child_cpu() - c
            if r.returncode == 0:
                atomic.write_json(out / "cpu.json", {"cpu_s": round(cpu, 1), "wall_s": round(time.time() - t, 1)})
            print(f"{out.name}: {r.stdout.strip().splitlines()[0] if r.stdout.strip() else r.stderr[-300:]} ({time.time() - t:.0f} s wall, {cpu:.0f} s CPU)", flush=True)


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def displacement(out: Path, lo: int = 10, hi: int = 200) -> float | None:
    """Mean |w_{t+10} - w_t| per step over snapshots lo..hi (all parameters together)."""
    try:
        cfg = ckpt.load_config(out)
        steps = [s for s in ckpt.snapshot_steps(out) if lo <= s <= hi]
        ws = [torch.cat([v.flatten() for v in ckpt.load_snapshot(out, s, cfg).weights().values()]).double() for s in steps]
    except (ckpt.CheckpointError, OSError):
        return None
    if len(ws) < 2:
        return None
    d = [(b - a).norm().item() / (s1 - s0) for a, b, s0, s1 in zip(ws, ws[1:], steps, steps[1:])]
    return sum(d) / len(d)


def summarise(runs: Path) -> list[dict]:
    out = []
    for name, (flags, note) in METHODS.items():
        rows = []
        for d in sorted(runs.glob(f"p*-{slug(name)}-s*")):
            if not (d / ckpt.MODEL_FILE).exists():
                continue
            met = ckpt.read_metrics(d)
            g = next((r for r in met if r["test_acc"] >= 1.0), None)
            g99 = next((r for r in met if r["test_acc"] >= 0.99), None)
            cpu = json.loads((d / "cpu.json").read_text())["cpu_s"] if (d / "cpu.json").exists() else None
            rows.append({"seed": d.name.rsplit("-s", 1)[1], "grok_step": g["step"] if g else None, "step99": g99["step"] if g99 else None, "wall": g["wall_time"] if g else None,
                         "cpu": cpu if g else None, "lr": ckpt.load_config(d).lr, "frac": ckpt.load_config(d).frac_train,
                         "last_step": met[-1]["step"], "last_wall": met[-1]["wall_time"], "last_test_acc": met[-1]["test_acc"],
                         "p": ckpt.load_config(d).model.p, "disp": displacement(d),
                         "collapse": max(r.get("softmax_collapse", 0.0) for r in met)})
        out.append({"method": name, "note": note, "flags": " ".join(flags), "runs": rows})
    return out


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.0f}"


def _median(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


def table(runs: Path) -> str:
    res = summarise(runs)
    base = _median([r["disp"] for r in res[0]["runs"]]) if res and res[0]["runs"] else None
    lines = ["| method | flags | seeds grokked | steps to 99 % test (median) | steps to 100 % test (median; per seed) | wall s to 100 % (median) | CPU s of the run (median) | effective lr vs baseline (steps 10-200) | max float32 collapse (train) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m in res:
        rs = m["runs"]
        if not rs:
            continue
        ok = [r for r in rs if r["grok_step"] is not None]
        per = ", ".join(f"{r['grok_step']:,}" if r["grok_step"] is not None else f"> {r['last_step']:,}" for r in rs)
        # median over all seeds, a seed that never grokked counting as +inf (a censored value)
        srt = sorted(rs, key=lambda r: math.inf if r["grok_step"] is None else r["grok_step"])
        mid = srt[(len(srt) - 1) // 2] if len(srt) % 2 else None
        med = mid["grok_step"] if mid else (_median([r["grok_step"] for r in ok]) if len(ok) == len(rs) else None)
        medw = mid["wall"] if mid else (_median([r["wall"] for r in ok]) if len(ok) == len(rs) else None)
        disp = _median([r["disp"] for r in rs])
        s99 = [r["step99"] for r in rs]
        m99 = _median(s99) if sum(x is not None for x in s99) * 2 > len(rs) else None
        lines.append(f"| {m['method']} | `{m['flags'] or '(defaults)'}` | {len(ok)}/{len(rs)} | {f'{m99:,.0f}' if m99 is not None else '-'} | "
                     f"{f'{med:,.0f}' if med is not None else 'no median (most seeds did not grok)'} ({per}) | "
                     f"{f'{medw:.0f}' if medw is not None else '-'} | {_fmt(_median([r['cpu'] for r in ok]) if med is not None else None)} | "
                     f"{f'{disp / base:.2f}x' if disp and base else '-'} | "
                     f"{max(r['collapse'] for r in rs):.2f} |")
    rs = [r for m in res for r in m["runs"]]
    desc = lambda k: ", ".join(map(str, sorted({r[k] for r in rs})))  # noqa: E731
    return (f"p = {desc('p')}, {desc('frac')} train, lr {desc('lr')}, full batch, eval every 50 steps, runs stop at the first eval "
            f"with 100 % test accuracy.\n\n" + "\n".join(lines))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.compare_methods", description=__doc__.split("\n\n")[0])
    ap.add_argument("cmd", choices=["run", "table"])
    ap.add_argument("--p", type=int, default=31)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--max-steps", type=int, default=4000)
    ap.add_argument("--frac-train", type=float, default=0.5)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--runs", type=Path, default=Path("runs/compare"))
    ap.add_argument("--only", nargs="*", help="run only methods whose slug contains one of these")
    a = ap.parse_args(argv)
    if a.cmd == "run":
        run_all(a.p, a.seeds, a.max_steps, a.runs, a.only, a.frac_train, a.lr)
    print(table(a.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
