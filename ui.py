"""Streamlit glue shared by the pages: cached loaders, the shared sidebar, URL state.

Kept out of grok/ (which never imports streamlit). Caching follows DESIGN.md: runs and models
with st.cache_resource (shared by all sessions, read-only), keyed by plain values (folder,
file stamp, step), so ten visitors on the same run cost one copy.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable

import streamlit as st

from grok import ablate as ablate_mod
from grok import checkpoint as ckpt
from grok import fourier, measures
from grok import phases as phases_mod
from grok import runs as runs_mod
from grok.data import make_dataset
from grok.snapshot import SnapshotAnalysis, analyse

DEFAULT_RUN = "mod113"
CONTRAST_RUN = "mod113-no-wd"


def user_runs_dir() -> Path:
    """Where live training writes: runs/ locally, a pruned temp folder in demo mode."""
    d = os.environ.get("GROK_RUNS_DIR")
    if d:
        return Path(d)
    if os.environ.get("GROK_DEMO", "") not in ("", "0", "false", "False"):
        import tempfile

        return Path(tempfile.gettempdir()) / "grok-runs"
    return runs_mod.USER_RUNS


def run_roots() -> tuple[Path, ...]:
    return (runs_mod.PRETRAINED, user_runs_dir())


def stamp(path: Path) -> float:
    """Changes whenever the run folder's files change, so caches refresh for live runs."""
    t = 0.0
    for f in (ckpt.CONFIG_FILE, ckpt.METRICS_FILE, ckpt.MODEL_FILE, ckpt.REPLAY_FILE):
        try:
            t = max(t, (path / f).stat().st_mtime)
        except OSError:
            pass
    return t


# ---------------------------------------------------------------- cached loaders
# The file stamp is a hashed argument (named `mtime`, not `_stamp`: Streamlit skips arguments
# whose name starts with an underscore), so a live run's caches refresh when its files change.
@st.cache_resource(max_entries=32, show_spinner=False)
def _open_run(path: str, mtime: float) -> runs_mod.Run:
    return runs_mod.open_run(path)


def open_run(path: Path) -> runs_mod.Run:
    return _open_run(str(path), stamp(path))


@st.cache_resource(max_entries=16, show_spinner=False)
def _model(path: str, mtime: float, step: int | None):
    return runs_mod.open_run(path).model_at(step)


@st.cache_resource(max_entries=6, show_spinner="Analysing the checkpoint on the whole grid...")
def _analysis(path: str, mtime: float, step: int | None) -> SnapshotAnalysis:
    run = runs_mod.open_run(path)
    cfg = run.config
    model = _model(path, mtime, step)
    return analyse(model, make_dataset(cfg.model.p, cfg.frac_train, cfg.seed))


def analysis(run: runs_mod.Run, step: int | None) -> SnapshotAnalysis:
    return _analysis(str(run.path), stamp(run.path), step)


@st.cache_resource(max_entries=8, show_spinner="Loading the replay...")
def _replay(path: str, mtime: float):
    return runs_mod.open_run(path).replay()


def replay(run: runs_mod.Run):
    return _replay(str(run.path), stamp(run.path))


@st.cache_data(max_entries=32, show_spinner=False)
def _phases(path: str, mtime: float) -> list:
    return phases_mod.detect(ckpt.read_metrics(path))


def phases(run: runs_mod.Run) -> list:
    return _phases(str(run.path), stamp(run.path))


@st.cache_resource(max_entries=32, show_spinner="Ablating...")
def _ablation(path: str, mtime: float, step: int | None, site: str, mode: str, freqs: tuple[int, ...]) -> ablate_mod.Ablation:
    a = _analysis(path, mtime, step)
    res = ablate_mod.ablate(a.model, a.ds, site, list(freqs), mode, acts=a.acts)
    # The pages read correctness and losses only: dropping the [p*p, p] logits keeps an entry
    # at ~30 kB instead of 5.8 MB at p = 113, so many toggles stay cached in 1 GB.
    return dataclasses.replace(res, logits=res.logits[:0])


def ablation(run: runs_mod.Run, step: int | None, site: str, mode: str, freqs) -> ablate_mod.Ablation:
    """The frequency ablation of this checkpoint, cached per (run, stamp, step, site, mode,
    sorted frequencies) and computed from the cached grid activations (no forward pass except
    at the embedding). Its `logits` are empty (see _ablation)."""
    return _ablation(str(run.path), stamp(run.path), step, site, mode, tuple(sorted(int(k) for k in freqs)))


@st.cache_data(max_entries=16, show_spinner="Measuring the excluded loss of every frequency...")
def _excluded_per_freq(path: str, mtime: float, step: int | None) -> list[float]:
    a = _analysis(path, mtime, step)
    d = measures.excluded_loss_per_freq(a.acts.logits, a.ds, range(1, fourier.n_freqs(a.p) + 1))
    return [d[k] for k in sorted(d)]


def excluded_per_freq(run: runs_mod.Run, step: int | None) -> list[float]:
    """[(p-1)/2] training loss once frequency k alone is removed from the logits, k = 1.."""
    return _excluded_per_freq(str(run.path), stamp(run.path), step)


# ---------------------------------------------------------------- URL state
def _store() -> dict:
    return st.session_state.setdefault("_url_values", {})


def _written() -> dict:
    return st.session_state.setdefault("_url_written", {})


def url_value(name: str, parse: Callable[[str], Any], default: Any) -> tuple[Any, bool]:
    """(value, came_from_url) for a shareable setting. The URL wins when it holds something we
    did not write ourselves (a pasted link, a first visit); a bad value warns and falls back."""
    raw = st.query_params.get(name)
    store = _store()
    if raw is not None and raw != _written().get(name):
        _written()[name] = raw
        try:
            v = parse(raw)
        except (ValueError, TypeError) as e:
            st.warning(f"Ignoring `?{name}={raw}` in the link: {e}. Showing {store.get(name, default)} instead.", icon="⚠️")
            return store.get(name, default), False
        store[name] = v
        return v, True
    return store.get(name, default), False


def publish(name: str, value: Any, fmt: Callable[[Any], str] = str) -> None:
    """Remember a setting and put it in the URL so a copied link reopens this view."""
    _store()[name] = value
    s = fmt(value)
    _written()[name] = s
    if st.query_params.get(name) != s:
        st.query_params[name] = s


def _fits(v: Any, kwargs: dict) -> bool:
    """Whether a remembered value is still valid for this widget: switching to a run with a
    smaller p must not hand a widget a value outside its options or range (an exception)."""
    if "options" in kwargs:
        opts = list(kwargs["options"])
        return all(o in opts for o in v) if isinstance(v, (list, tuple)) else v in opts
    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    try:
        return (lo is None or v >= lo) and (hi is None or v <= hi)
    except TypeError:
        return False


def synced(name: str, widget: Callable, parse: Callable[[str], Any], default: Any, fmt: Callable[[Any], str] = str, **kwargs) -> Any:
    """A widget whose value lives in the URL as ?name=...; kwargs go to the widget."""
    v, from_url = url_value(name, parse, default)
    if not _fits(v, kwargs):
        v = default
    key = f"w_{name}"
    if from_url or key not in st.session_state or not _fits(st.session_state[key], kwargs):
        st.session_state[key] = v
    else:  # re-assert: widget ids differ per page, so the same key on another page's widget would
        st.session_state[key] = st.session_state[key]  # otherwise start from its default, not this value
    out = widget(key=key, **kwargs)
    publish(name, out, fmt)
    return out


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    def parse(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise ValueError("not an integer") from None
        if not lo <= v <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return v
    return parse


def current() -> tuple[runs_mod.Run, int]:
    """The sidebar's run and step for a page; stops the page when no run loads (the sidebar
    and app.py have already said why)."""
    run, step = st.session_state.get("run"), st.session_state.get("step")
    if run is None:
        st.stop()
    return run, step


# ---------------------------------------------------------------- the shared sidebar
def sidebar() -> tuple[runs_mod.Run | None, int | None]:
    """Run and step pickers shared by every page; (run, step) or (None, None) if no run loads."""
    found = runs_mod.discover(run_roots())
    names = list(found)
    if not names:
        st.sidebar.error("No runs found: pretrained/ is empty and runs/ has no run. Train one on the Train page.")
        return None, None
    default = DEFAULT_RUN if DEFAULT_RUN in found else names[0]

    def parse_run(s: str) -> str:
        if s not in found:
            raise ValueError("no such run")
        return s

    name = synced("run", st.sidebar.selectbox, parse_run, default, label="Run", options=names,
                  help="Shipped runs from pretrained/ and your own from runs/.")
    try:
        run = open_run(found[name])
    except ckpt.CheckpointError as e:
        st.sidebar.error(f"This run cannot be opened: {e}")
        st.error(f"Run **{name}** cannot be opened: {e}. Pick another run in the sidebar.")
        return None, None
    steps = run.weight_steps()
    final = steps[-1]

    def parse_step(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise ValueError("not an integer step") from None
        if v in steps:
            return v
        nearest = min(steps, key=lambda t: abs(t - v))
        raise ValueError(f"run {name} has no weights at step {v} (nearest: {nearest})")

    if st.session_state.get("_step_run") != name:  # a new run starts at its final step
        st.session_state["_step_run"] = name
        _store()["step"] = final
        st.session_state.pop("w_step", None)
    if st.session_state.get("w_step") not in steps:
        st.session_state.pop("w_step", None)
    if _store().get("step") not in steps:
        _store()["step"] = final
    step = synced("step", st.sidebar.select_slider, parse_step, final, label="Training step", options=steps,
                  help="Steps with saved weights; the final one by default. The Replay page has many more frames.")
    last = run.metrics[-1] if run.metrics else {}
    st.sidebar.caption(
        f"p = {run.config.model.p}, weight decay {run.config.wd:g}, {len(steps)} checkpoints"
        + (f", final test accuracy {last.get('test_acc', float('nan')):.1%}" if last else "")
    )
    return run, step


# ---------------------------------------------------------------- this session's live training
def training_status() -> None:
    """A sidebar line for this session's live training (views/train.py), on the other pages.
    Its refresh every 2 s is also the job's heartbeat (grok/jobs.py): without it, reading
    another page for a while would look like a closed tab and stop the training."""
    job = st.session_state.get("train_job")
    if job is None or not job.is_alive():
        return

    @st.fragment(run_every=2.0)
    def _status() -> None:
        job.beat()
        step, total = job.progress
        if job.is_alive():
            st.progress(min(step / max(total, 1), 1.0), text=f"Training {job.out.name}: step {step:,} of {total:,}")
        else:
            st.caption(f"Training {job.out.name} has ended ({job.status}); see the Train your own page.")

    with st.sidebar:
        _status()


# ---------------------------------------------------------------- the one shared step (contract)
def set_shared_step(step: int) -> None:
    """Make `step` the shared step every page follows from the next run on (the Replay page's
    in-browser player reports the frame it stopped on through this). Owner: the sidebar code."""
    _store()["step"] = int(step)
    st.session_state.pop("w_step", None)


def weight_step(run, step: int) -> int:
    """The nearest step at which `run` has weights (pages that need a model use this)."""
    ws = run.weight_steps()
    return min(ws, key=lambda s: (abs(s - int(step)), s))


def checkpoint_note(run, step: int) -> str | None:
    """A sentence naming the checkpoint a weights-based view uses, when it is not `step` itself."""
    w = weight_step(run, step)
    if w == int(step):
        return None
    return f"Weights from checkpoint {w:,}, the saved checkpoint nearest to step {int(step):,}."
