"""The four phases of grokking, found in a run's metrics rows (train.py's metrics.jsonl).

Rule (deterministic, on the logged eval rows in step order):
1. memorisation  [0, t_mem): t_mem is the first step with train accuracy >= 99 %.
2. circuit formation  [t_mem, t_clean): the test loss, after peaking, is still within the
   first 10 % of its eventual fall in log space, log(peak) -> log(min over later steps).
3. clean-up  [t_clean, t_conv): t_clean is the first step after the peak where
   log(test loss) <= log(peak) - 0.1 * (log(peak) - log(min)); the test loss collapses.
4. converged  [t_conv, end]: t_conv is the first step after t_clean where test accuracy
   >= 99.9 % and log(test loss) <= log(min) + 0.1 * (log(peak) - log(min)).
A run whose test accuracy never reaches 99 % did not grok: it gets memorisation and then
"no generalisation" up to its last step (no clean-up, no convergence).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

NAMES = ("memorisation", "circuit formation", "clean-up", "converged")


@dataclass(frozen=True)
class Phase:
    name: str
    start: int
    end: int  # exclusive, except for the last phase (the run's last step)


def _first(rows, start: int, pred):
    for i in range(start, len(rows)):
        if pred(rows[i]):
            return i
    return None


def detect(rows: list[dict]) -> list[Phase]:
    """Phases from metrics rows (need step, train_acc, test_acc, test_loss)."""
    rows = [r for r in rows if all(k in r for k in ("step", "train_acc", "test_acc", "test_loss"))]
    if not rows:
        return []
    last = rows[-1]["step"]
    i_mem = _first(rows, 0, lambda r: r["train_acc"] >= 0.99)
    if i_mem is None:
        return [Phase("memorisation", rows[0]["step"], last)]
    t_mem = rows[i_mem]["step"]
    grokked = any(r["test_acc"] >= 0.99 for r in rows[i_mem:])
    if not grokked:
        return [Phase("memorisation", rows[0]["step"], t_mem), Phase("no generalisation", t_mem, last)]
    logs = [math.log(max(r["test_loss"], 1e-30)) for r in rows]
    i_peak = max(range(i_mem, len(rows)), key=lambda i: (logs[i], -i))
    lo = min(logs[i_peak:])
    span = logs[i_peak] - lo
    i_clean = _first(rows, i_peak, lambda r: math.log(max(r["test_loss"], 1e-30)) <= logs[i_peak] - 0.1 * span)
    i_clean = i_peak if i_clean is None else max(i_clean, i_mem)
    t_clean = rows[i_clean]["step"]
    i_conv = _first(rows, i_clean, lambda r: r["test_acc"] >= 0.999 and math.log(max(r["test_loss"], 1e-30)) <= lo + 0.1 * span)
    phases = [Phase("memorisation", rows[0]["step"], t_mem), Phase("circuit formation", t_mem, t_clean)]
    if i_conv is None:
        return phases + [Phase("clean-up", t_clean, last)]
    t_conv = rows[i_conv]["step"]
    return phases + [Phase("clean-up", t_clean, t_conv), Phase("converged", t_conv, last)]


def grokked_step(rows: list[dict], threshold: float = 1.0) -> int | None:
    """First eval step whose test accuracy reaches `threshold` (100 % by default)."""
    i = _first(rows, 0, lambda r: r.get("test_acc", 0) >= threshold)
    return None if i is None else rows[i]["step"]
