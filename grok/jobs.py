"""Live training for the app: `grok.train.train` in a background thread, with caps and a registry.

Why a thread and not a subprocess: the job's rows (metrics so far) and progress are read by the
page many times a second, and a thread shares them for free; torch releases the GIL in its
kernels, so the Streamlit server stays responsive. Why a module-level registry: on a hosted
demo one CPU-bound training at a time is all the machine can take, whichever session asks.

Stopping: `stop()` sets a flag that `train()` polls once per step (its `should_stop`), so the
run folder is always left valid: train() writes metrics, state and model.safetensors with
`completed=false` at the step it stopped. The same poll also stops the job when
- `max_seconds` of wall time have passed (train's own cap), or
- nobody has called `beat()` for `heartbeat_timeout` seconds. The Train page's live fragment
  (and the app's sidebar status) calls `beat()` every second or two while the browser tab is
  open; when the tab is closed the beats stop and the job ends itself, so an abandoned session
  never keeps the CPU busy. Browsers throttle timers in hidden tabs (Chrome: down to one per
  minute after five minutes hidden), hence the generous default.

No streamlit here: the page owns the pixels, this module owns the thread.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Mapping

from . import checkpoint as ckpt
from .config import TrainConfig

RUNNING, DONE, STOPPED, FAILED, PENDING = "running", "done", "stopped", "failed", "pending"
_now = time.monotonic  # the heartbeat clock; a module attribute so tests can move time forward
BUSY_MESSAGE = "another training is running on this server, try again in a few minutes"


class BusyError(RuntimeError):
    """The server already runs as many trainings as it allows."""

    def __init__(self, message: str = BUSY_MESSAGE):
        super().__init__(message)


# ---------------------------------------------------------------- limits from the environment
@dataclass(frozen=True)
class Limits:
    demo: bool
    max_steps: int
    max_seconds: float
    max_p: int
    keep_runs: int  # demo mode: user runs kept on disk (the newest)
    max_concurrent: int  # trainings at once on the whole server
    heartbeat_seconds: float  # a job whose page sent no heartbeat for this long stops


def limits(env: Mapping[str, str] | None = None) -> Limits:
    """Caps for live training. Locally generous; with GROK_DEMO=1 (a shared hosted demo) small
    enough that one visitor cannot hold the CPU for long. Explicit GROK_* variables win."""
    env = os.environ if env is None else env
    demo = env.get("GROK_DEMO", "") not in ("", "0", "false", "False")

    def num(name: str, default: float, cast=int):
        raw = env.get(name)
        if raw is None or raw == "":
            return default
        try:
            v = cast(float(raw)) if cast is int else cast(raw)
        except ValueError:
            return default
        return v if v > 0 and math.isfinite(v) else default

    return Limits(
        demo=demo,
        max_steps=num("GROK_MAX_STEPS", 3000 if demo else 20000),
        max_seconds=num("GROK_MAX_SECONDS", 120.0 if demo else 600.0, float),
        max_p=num("GROK_MAX_P", 59 if demo else 113),
        keep_runs=num("GROK_KEEP_RUNS", 5),
        max_concurrent=num("GROK_MAX_JOBS", 1),
        heartbeat_seconds=num("GROK_HEARTBEAT_SECONDS", 90.0, float),
    )


# ---------------------------------------------------------------- run folder names
_STAMP = "%Y%m%d-%H%M%S"
_NAME_RE = re.compile(r"^p\d+-.*-\d{8}-\d{6}(-\d+)?$")


def run_name(cfg: TrainConfig, when: datetime | None = None) -> str:
    """A folder name that says what was trained and when, e.g. p23-f0.3-wd1-lr0.001-s0-20250101-120000."""
    parts = [f"p{cfg.model.p}", f"f{cfg.frac_train:g}", f"wd{cfg.wd:g}", f"lr{cfg.lr:g}", f"s{cfg.seed}"]
    if cfg.grokfast:
        parts.append(f"gf{cfg.grokfast_alpha:g}x{cfg.grokfast_lambda:g}")
    parts.append((when or datetime.now()).strftime(_STAMP))
    return "-".join(parts)


def new_run_dir(root: Path, cfg: TrainConfig, when: datetime | None = None) -> Path:
    """root/run_name(cfg), with -2, -3, ... appended if two starts land in the same second."""
    base = run_name(cfg, when)
    d, i = Path(root) / base, 2
    while d.exists():
        d, i = Path(root) / f"{base}-{i}", i + 1
    return d


def is_job_run(d: Path) -> bool:
    """A folder this module created (name pattern + config.json): the only kind prune touches."""
    return d.is_dir() and bool(_NAME_RE.match(d.name)) and (d / ckpt.CONFIG_FILE).exists()


def prune_runs(root: Path, keep: int, protect: tuple[Path, ...] = ()) -> list[Path]:
    """Delete all but the `keep` newest job-made runs in `root` (demo mode keeps the disk small).
    Newest by the mtime of config.json (written once, at the start). Folders not made by this
    module, and the folders of `protect` (running jobs), are never removed. Returns the removed."""
    root = Path(root)
    if not root.is_dir():
        return []
    safe = {Path(p).resolve() for p in protect}
    runs = [d for d in root.iterdir() if is_job_run(d)]
    runs.sort(key=lambda d: (d / ckpt.CONFIG_FILE).stat().st_mtime, reverse=True)
    removed = []
    for d in runs[max(keep, 0):]:
        if d.resolve() in safe:
            continue
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed


# ---------------------------------------------------------------- the job
@dataclass
class TrainingJob:
    """One training in a background thread. Read `status`, `rows`, `progress` from any thread."""

    config: TrainConfig
    out: Path
    max_seconds: float | None = None
    max_steps: int | None = None
    heartbeat_timeout: float | None = None  # None: never stop for lack of heartbeats
    device: str = "cpu"
    status: str = PENDING
    error: str = ""  # failed: the exception message; stopped: why it stopped
    rows: list[dict] = field(default_factory=list)
    step: int = 0
    started: float | None = None  # time.time() at start
    finished: float | None = None
    result: dict | None = None
    capped_steps: bool = False  # the config asked for more than max_steps
    build_replay: bool = True  # when training ends (done or stopped), build the run's replay in the same thread
    phase: str = ""  # "training" | "replay" (building it) | "" (not started / ended)
    replay_error: str = ""  # why the replay could not be built ("" = built, or not asked for)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.max_steps is not None and self.config.steps > self.max_steps:
            self.config = replace(self.config, steps=int(self.max_steps))
            self.capped_steps = True
        self._stop = threading.Event()
        self._stop_reason = ""
        self._heartbeat = _now()
        self._thread: threading.Thread | None = None
        self._registry: Registry | None = None

    @property
    def total(self) -> int:
        return self.config.steps

    @property
    def progress(self) -> tuple[int, int]:
        """(step, total steps)."""
        return self.step, self.total

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    def start(self, registry: "Registry | None" = None) -> "TrainingJob":
        """Start the thread; BusyError if the registry is full (the job then never runs)."""
        if self._thread is not None:
            raise RuntimeError("this job was already started")
        reg = REGISTRY if registry is None else registry
        reg.add(self)
        self._registry = reg
        self.status, self.started = RUNNING, time.time()
        self._heartbeat = _now()
        self._thread = threading.Thread(target=self._run, name=f"train {self.out.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, reason: str = "stopped by the user") -> None:
        if not self._stop.is_set():
            self._stop_reason = reason
        self._stop.set()

    def beat(self) -> None:
        """The page is still open: postpone the heartbeat stop."""
        self._heartbeat = _now()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True once it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.is_alive()

    # -- called from the training thread
    def _should_stop(self) -> bool:
        """train() polls this once per step, so it doubles as the step counter for `progress`."""
        self.step += 1
        if self.heartbeat_timeout is not None and _now() - self._heartbeat > self.heartbeat_timeout:
            self.stop(f"no heartbeat from the page for {self.heartbeat_timeout:g} s (tab closed?)")
        return self._stop.is_set()

    def _on_eval(self, row: dict) -> None:
        self.rows = self.rows + [row]  # a new list: readers never see one half-appended
        self.step = int(row["step"])

    def _run(self) -> None:
        from .train import train  # torch import cost only when a job runs

        try:
            self.phase = "training"
            res = train(self.config, self.out, device=self.device, progress=False, on_eval=self._on_eval,
                        should_stop=self._should_stop, max_seconds=self.max_seconds, compile="off")
            self.result = res
            self.step = int(res["step"])
            if self.build_replay:  # so the Replay page has it without a button press
                self.phase = "replay"
                try:
                    from .replay import build

                    build(self.out, progress=False)
                except Exception as e:  # noqa: BLE001 - the run itself is fine; say why there is no replay
                    self.replay_error = str(e) or type(e).__name__
            if res.get("completed"):
                self.status = DONE
            else:
                self.status = STOPPED
                self.error = self._stop_reason or f"time limit of {self.max_seconds:g} s reached"
        except Exception as e:  # noqa: BLE001 - any failure is shown to the user as it is
            self.status, self.error = FAILED, str(e) or type(e).__name__
        finally:
            self.phase = ""
            self.finished = time.time()
            if self._registry is not None:
                self._registry.remove(self)


class Registry:
    """The trainings running on this server, at most `max_concurrent` at once."""

    def __init__(self, max_concurrent: int = 1):
        self.max_concurrent = max_concurrent
        self._jobs: list[TrainingJob] = []
        self._lock = threading.Lock()

    def add(self, job: TrainingJob) -> None:
        with self._lock:
            self._jobs = [j for j in self._jobs if j.status == RUNNING or j.status == PENDING]
            if len(self._jobs) >= self.max_concurrent:
                raise BusyError()
            self._jobs.append(job)

    def remove(self, job: TrainingJob) -> None:
        with self._lock:
            self._jobs = [j for j in self._jobs if j is not job]

    def running(self) -> list[TrainingJob]:
        with self._lock:
            return list(self._jobs)


REGISTRY = Registry(limits().max_concurrent)
