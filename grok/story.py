"""The story of one run, told from its own metrics: memorise -> wait -> clean-up -> grokked.

Home tells grokking as a path through the selected run. Every sentence is computed from the
run's metrics rows (train.py's metrics.jsonl) and its phases (grok.phases.detect), so a run
that never generalises says so, and a faster run (Grokfast) gets its own numbers. Each stage
names a step and a page where the reader can see it ("the clock half-built at step 3,300").

Torch-free on purpose (json + grok.phases only): Home imports it, and Home's first paint must
not wait for torch.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import phases as phases_mod

ASK, NEURONS, ABLATIONS, REPLAY = "views/query.py", "views/neurons.py", "views/ablations.py", "views/replay.py"


@dataclass(frozen=True)
class Stage:
    name: str  # "memorise", "wait", "clean-up", "grokked", "no generalisation", "still memorising"
    title: str
    text: str  # one or two sentences, with this run's numbers
    step: int  # the step the button opens (the caller snaps it to a checkpoint with weights)
    page: str  # the view that shows it (a views/*.py path)
    button: str  # the button's label, a template: .format(step=the checkpoint it opens)
    start: int
    end: int


def read_metrics(path) -> list[dict]:
    """Rows of a run folder's metrics.jsonl (or of the file itself); bad lines are skipped."""
    p = Path(path)
    p = p / "metrics.jsonl" if p.is_dir() else p
    rows = []
    try:
        for line in p.read_text().splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if isinstance(r, dict) and "step" in r:
                rows.append(r)
    except OSError:
        return []
    return rows


def _at(rows: list[dict], step: int) -> dict:
    """The row nearest to `step`."""
    return min(rows, key=lambda r: (abs(r["step"] - step), r["step"]))


def _pct(v: float) -> str:
    return f"{v:.1%}".replace("%", " %")


def _keys(row: dict) -> str:
    ks = row.get("key_frequencies") or []
    return ", ".join(map(str, sorted(ks[:5])))


def stages(rows: list[dict], p: int) -> list[Stage]:
    """The stages of this run's story, in order (empty without evaluated rows)."""
    rows = [r for r in rows if all(k in r for k in ("step", "train_acc", "test_acc", "train_loss", "test_loss"))]
    if not rows:
        return []
    ph = {x.name: x for x in phases_mod.detect(rows)}
    first, last = rows[0], rows[-1]
    chance = 1 / p
    out: list[Stage] = []
    mem = ph.get("memorisation")
    if "no generalisation" not in ph and "circuit formation" not in ph:  # never reached 99 % train accuracy
        best = max(r["train_acc"] for r in rows)
        return [Stage("still memorising", "Still memorising",
                      f"Up to step {last['step']:,} the model has not even learnt its training pairs: train accuracy is at most "
                      f"{_pct(best)} (train loss {last['train_loss']:.3g}). Train longer, or look at how far it got.",
                      last["step"], ASK, "Ask the model at step {step:,}", first["step"], last["step"])]
    t_mem = mem.end
    r_mem = _at(rows, t_mem)
    out.append(Stage(
        "memorise", "1 · Memorise",
        f"Train loss falls from {first['train_loss']:.3g} to {r_mem['train_loss']:.3g} in {t_mem:,} steps and train accuracy reaches "
        f"{_pct(r_mem['train_acc'])}, while test accuracy is {_pct(r_mem['test_acc'])} (chance is 1/{p} = {_pct(chance)}): "
        "the model has memorised its training pairs.",
        t_mem, ASK, "Ask the memorising model at step {step:,}", mem.start, t_mem))
    if "no generalisation" in ph:
        ng = ph["no generalisation"]
        best = max(r["test_acc"] for r in rows if r["step"] >= t_mem)
        out.append(Stage(
            "no generalisation", "2 · … and nothing more",
            f"From step {t_mem:,} to {last['step']:,} test accuracy never rises above {_pct(best)} (it ends at "
            f"{_pct(last['test_acc'])}): this run memorises and never builds a clock. Nothing here pushes it from the memorised "
            "table towards the cheaper wave solution; with weight decay, the same model groks.",
            last["step"], NEURONS, "See a memoriser's neurons at step {step:,}", ng.start, ng.end))
        return out
    cf = ph["circuit formation"]
    mid = (cf.start + cf.end) // 2
    r_mid, r_cf = _at(rows, mid), _at(rows, cf.end)
    out.append(Stage(
        "wait", "2 · Wait, while the clock forms",
        f"For {cf.end - cf.start:,} steps (to step {cf.end:,}) test accuracy stays low ({_pct(r_mid['test_acc'])} at step "
        f"{r_mid['step']:,}) while the clock forms underneath: the restricted loss, the loss of the key-frequency part of the logits "
        f"alone, falls from {r_mem.get('restricted_loss', float('nan')):.3g} to {r_cf.get('restricted_loss', float('nan')):.3g}.",
        mid, NEURONS, "See the clock half-built at step {step:,}", cf.start, cf.end))
    cu = ph.get("clean-up")
    if cu is not None:
        r_cu0, r_cu1 = _at(rows, cu.start), _at(rows, cu.end)
        out.append(Stage(
            "clean-up", "3 · Clean-up",
            f"From step {cu.start:,} to {cu.end:,} weight decay removes the memorised part: test loss falls from "
            f"{r_cu0['test_loss']:.3g} to {r_cu1['test_loss']:.3g} and test accuracy rises from {_pct(r_cu0['test_acc'])} to "
            f"{_pct(r_cu1['test_acc'])}.",
            cu.start, REPLAY, "Replay the clean-up from step {step:,}", cu.start, cu.end))
    cv = ph.get("converged")
    if cv is not None:
        r_cv = _at(rows, cv.start)
        ks = _keys(last)
        late = ph.get("late test-loss rise")
        tail = ""
        if late is not None:
            tail = (f" Later the test loss drifts up again ({late.note or 'from step %s' % f'{late.start:,}'}) while test accuracy "
                    f"never drops below {_pct(min(r['test_acc'] for r in rows if r['step'] >= late.start))}.")
        out.append(Stage(
            "grokked", "4 · Grokked",
            (f"Test accuracy first reached 100 % at step {g:,}; from step {cv.start:,}, the clean-up done, the model is right on "
             if (g := phases_mod.grokked_step(rows)) is not None and g < cv.start else f"From step {cv.start:,} the model is right on ")
            + f"{_pct(r_cv['test_acc'])} of sums it never saw"
            + (f", adding numbers as rotations at a few key frequencies (k = {ks} at the end)." if ks else ".") + tail,
            last["step"], ABLATIONS, "Cut its key frequencies at step {step:,}", cv.start, last["step"] + 1))
    return out


def where(stage_list: list[Stage], step: int) -> Stage | None:
    """The stage the step falls in (the last one from its end on)."""
    for s in stage_list:
        if s.start <= step < s.end:
            return s
    return stage_list[-1] if stage_list else None
