"""The four phases of grokking, found in a run's metrics rows (train.py's metrics.jsonl).

Rule (deterministic, on the logged eval rows in step order):
1. memorisation  [0, t_mem): t_mem is the first step with train accuracy >= 99 %.
2. circuit formation  [t_mem, t_clean): the test loss, after peaking, is still within the
   first 10 % of its eventual fall in log space, log(peak) -> log(min over later steps).
3. clean-up  [t_clean, t_conv): t_clean is the first step after the peak where
   log(test loss) <= log(peak) - 0.1 * (log(peak) - log(min)); the test loss collapses.
4. converged  [t_conv, end]: t_conv is the first step after t_clean where test accuracy
   >= 99.9 % and log(test loss) <= log(min) + 0.1 * (log(peak) - log(min)).
5. late test-loss rise  [t_floor, end]: after convergence, if the test loss later climbs at
   least RISE_FACTOR (10) times above its post-convergence floor, the converged phase ends at
   that floor (the lowest test loss between t_conv and the top of the rise) and this phase
   runs to the end; its `note` gives the factor. The canonical run's test loss climbs ~400-fold
   after step 10,000 while accuracy stays 100 % (the README, "Numerics", explains why);
   calling that "converged" without saying so would mislead.
A run whose test accuracy never reaches 99 % did not grok: it gets memorisation and then
"no generalisation" up to its last step (no clean-up, no convergence).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

NAMES = ("memorisation", "circuit formation", "clean-up", "converged", "late test-loss rise")
RISE_FACTOR = 10.0  # a post-convergence rise of the test loss by this factor gets its own phase


@dataclass(frozen=True)
class Phase:
    name: str
    start: int
    end: int  # exclusive, except for the last phase (the run's last step)
    note: str = ""  # a one-line measurement (the late rise's factor), empty for the others


@dataclass(frozen=True)
class LateRise:
    floor_step: int
    floor_loss: float
    top_step: int
    top_loss: float
    last_loss: float

    @property
    def factor(self) -> float:
        return self.top_loss / self.floor_loss

    def note(self) -> str:
        return (f"test loss up {self.factor:,.0f}-fold after convergence, from {self.floor_loss:.1e} "
                f"(step {self.floor_step:,}) to {self.top_loss:.1e} (step {self.top_step:,}); "
                f"{self.last_loss:.1e} at the last step")


def late_rise(rows: list[dict], start: int = 0, factor: float = RISE_FACTOR) -> LateRise | None:
    """The largest climb of the test loss over its running minimum in rows[start:], if it is at
    least `factor`-fold: (floor, top) with the floor the last minimum before the top."""
    best = None
    i_min = start
    for i in range(start, len(rows)):
        if rows[i]["test_loss"] <= rows[i_min]["test_loss"]:  # the last step at the floor
            i_min = i
        ratio = rows[i]["test_loss"] / max(rows[i_min]["test_loss"], 1e-300)
        if ratio >= factor and (best is None or ratio > best[0]):
            best = (ratio, i_min, i)
    if best is None:
        return None
    _, lo, hi = best
    return LateRise(rows[lo]["step"], rows[lo]["test_loss"], rows[hi]["step"], rows[hi]["test_loss"], rows[-1]["test_loss"])


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
    phases.append(Phase("clean-up", t_clean, t_conv))
    rise = late_rise(rows, i_conv)
    if rise is None:
        return phases + [Phase("converged", t_conv, last)]
    if rise.floor_step > t_conv:
        phases.append(Phase("converged", t_conv, rise.floor_step))
    return phases + [Phase("late test-loss rise", rise.floor_step, last, rise.note())]


def grokked_step(rows: list[dict], threshold: float = 1.0) -> int | None:
    """First eval step whose test accuracy reaches `threshold` (100 % by default)."""
    i = _first(rows, 0, lambda r: r.get("test_acc", 0) >= threshold)
    return None if i is None else rows[i]["step"]
