"""Eager or torch.compile for the training step's forward + loss, chosen where it pays.

Why a choice and not always-compile: inductor (CPU, C++ via gcc) fuses the fast path's small
ops, but the compile costs tens of seconds and, on a machine whose cores are shared, its
OpenMP kernels can run slower than eager ATen (measured here: see the README's benchmark
section). So:
- `off`: eager (tests, short runs, the app's demo trainings);
- `on`: compile, whatever it costs;
- `auto` (the trainer's default): eager for runs shorter than AUTO_MIN_STEPS; otherwise compile,
  time a few steps of each in the same process, interleaved, and keep the faster one.
The choice and its reason are printed, and saved with the run's state so that `--resume`
continues in the same mode (compiled and eager agree to ~1e-7 per step, not bit for bit).

A compile is never paid twice: in one process `compile_fn` returns the same compiled object
for the same key, and across processes inductor's on-disk FX-graph cache (TORCHINDUCTOR_CACHE_DIR,
by default under /tmp) serves the kernels, leaving only the few seconds of tracing.
"""
from __future__ import annotations

import copy
import statistics
import time
from typing import Callable

import torch

MODES = ("auto", "on", "off")
AUTO_MIN_STEPS = 10_000  # below this a ~30 s compile cannot pay back a ~25 % faster step
_CACHE: dict[tuple, Callable] = {}


def available() -> tuple[bool, str]:
    """(inductor can compile here, why not)."""
    try:
        import torch._inductor  # noqa: F401
        from torch._inductor import cpp_builder  # noqa: F401
    except Exception as e:  # noqa: BLE001
        return False, f"inductor unavailable: {e}"
    import shutil
    if shutil.which("gcc") is None and shutil.which("g++") is None and shutil.which("c++") is None:
        return False, "no C++ compiler for inductor"
    return True, ""


def compile_fn(fn: Callable, key: tuple | None = None) -> Callable:
    """torch.compile(fn), once per key in this process (key None: no process-level reuse; a
    function closing over one run's data must not be shared with another run)."""
    if key is not None and key in _CACHE:
        return _CACHE[key]
    c = torch.compile(fn, dynamic=False)
    if key is not None:
        _CACHE[key] = c
    return c


def _ms(fn: Callable[[], object], repeats: int = 3) -> float:
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats * 1000


def pick(mode: str, steps_left: int, loss_of: Callable, model: torch.nn.Module, make_opt: Callable) -> tuple[Callable, bool, str]:
    """(loss function to train with, compiled?, why). `loss_of(model) -> loss` is the step's
    forward + loss. For `auto` on a long run the two are timed on a throwaway copy of the model
    (its own optimizer), so the run's own state is untouched by the trial."""
    if mode not in MODES:
        raise ValueError(f"compile mode must be one of {MODES}, got {mode!r}")
    if mode == "off":
        return loss_of, False, "eager (--compile off)"
    ok, why = available()
    if not ok:
        return loss_of, False, f"eager ({why})"
    if mode == "auto" and steps_left < AUTO_MIN_STEPS:
        return loss_of, False, f"eager ({steps_left:,} steps < {AUTO_MIN_STEPS:,}: a compile would not pay back)"
    comp = compile_fn(loss_of)
    trial = copy.deepcopy(model)
    opt = make_opt(trial)

    def step(f: Callable) -> Callable[[], None]:
        def run() -> None:
            loss = f(trial)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return run

    t0 = time.perf_counter()
    step(comp)()  # the compile, or inductor's cache
    t_compile = time.perf_counter() - t0
    if mode == "on":
        return comp, True, f"compiled (--compile on; compile {t_compile:.1f} s)"
    se, sc = step(loss_of), step(comp)
    se(), sc()
    te, tc = [], []
    for _ in range(3):  # interleaved, so a change in machine load hits both alike
        te.append(_ms(se))
        tc.append(_ms(sc))
    e, c = statistics.median(te), statistics.median(tc)
    if c < 0.95 * e:
        return comp, True, f"compiled ({c:.1f} ms/step vs eager {e:.1f}; compile {t_compile:.1f} s)"
    return loss_of, False, f"eager ({e:.1f} ms/step; compiled measured {c:.1f}, not faster; compile {t_compile:.1f} s)"
