"""Streamlit glue shared by the pages: cached loaders, the shared sidebar, URL state, the one
shared step, and the start-up warm-up.

Kept out of grok/ (which never imports streamlit). Caching follows DESIGN.md: runs and models
with st.cache_resource (shared by all sessions, read-only), keyed by plain values (folder,
file stamp, step), so ten visitors on the same run cost one copy.

Speed (DESIGN.md, "Speed"): this module imports no torch. The sidebar and Home read run
folders through grok.runs / grok.runfiles (JSON and safetensors headers only); the analysis
modules are imported inside the loaders that need them. After each heavy load the process runs
one `gc.collect(); gc.freeze()` so the full collection Streamlit forces after every script run
(`runner.postScriptGC`) no longer walks torch's objects; `warm_up()` loads the default run's
final analysis in a background thread once per process, so the first visitor to Ask does not
wait for it.
"""
from __future__ import annotations

import dataclasses
import gc
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import streamlit as st

from grok import phases as phases_mod
from grok import runfiles
from grok import runs as runs_mod

if TYPE_CHECKING:  # torch-side types, for annotations only
    from grok.ablate import Ablation
    from grok.snapshot import SnapshotAnalysis

DEFAULT_RUN = "mod113"
CONTRAST_RUN = "mod113-no-wd"
ECHO_MAX = 40  # characters of a bad link value echoed back in a warning
REPLAY_PAGE = "replay"  # url_path of the page whose in-browser player is the step control


# ---------------------------------------------------------------- charts onto the page
# ui_vega (Altair, pandas, numpy: ~0.6 s to import) loads on the first Altair chart, not with
# this module: Home's curves are plain dicts (grok/curves.py), so the first page paints first.
def chart(c, **kwargs):
    """A chart onto the page: a Vega-Lite dict as it is, an Altair chart without the per-rerun
    schema validation (ui_vega.chart)."""
    if isinstance(c, dict):
        return st.vega_lite_chart(c, **kwargs)
    import ui_vega

    return ui_vega.chart(c, **kwargs)


def cached_chart(builder, *args, **kwargs):
    """ui_vega.cached: an Altair chart not rebuilt when its inputs were drawn before."""
    import ui_vega

    return ui_vega.cached(builder, *args, **kwargs)


def vega_spec(c) -> dict:
    """ui_vega.to_spec: the unvalidated spec itself, its data already in Arrow, for a page that
    caches it (Replay)."""
    import ui_vega

    return ui_vega.with_arrow_datasets(ui_vega.to_spec(c))


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
    for f in (runfiles.CONFIG_FILE, runfiles.METRICS_FILE, runfiles.MODEL_FILE, runfiles.REPLAY_FILE):
        try:
            t = max(t, (path / f).stat().st_mtime)
        except OSError:
            pass
    return t


# ---------------------------------------------------------------- gc after heavy loads
_freeze_lock = threading.Lock()


def freeze_heap() -> None:
    """One full collection, then move every surviving object (torch's modules, the cached
    models and analyses) to the permanent generation: Streamlit's forced `gc.collect(2)` after
    each script and fragment run then skips them (~128 ms with torch loaded, holding the GIL,
    measured in DESIGN.md). Called after each heavy load; GROK_GC_FREEZE=0 turns it off (to
    measure the lever)."""
    if os.environ.get("GROK_GC_FREEZE", "1") in ("0", "false", "False"):
        return
    with _freeze_lock:
        gc.collect()
        gc.freeze()


_frozen_pages: set[str] = set()


def freeze_after_first_run(page: str) -> None:
    """freeze_heap() once per page per process, after that page's first run: the modules and
    caches a page imports on first use (altair views, the Circuit page's extra analysis) then
    stop costing every later forced collection."""
    if page in _frozen_pages:
        return
    _frozen_pages.add(page)
    freeze_heap()


# ---------------------------------------------------------------- cached loaders
# The file stamp is a hashed argument (named `mtime`, not `_stamp`: Streamlit skips arguments
# whose name starts with an underscore), so a live run's caches refresh when its files change.
@st.cache_resource(max_entries=32, show_spinner=False)
def _open_run(path: str, mtime: float) -> runs_mod.Run:
    return runs_mod.open_run(path)


def open_run(path: Path) -> runs_mod.Run:
    """The run folder's config, metrics and step lists (no torch, no weights)."""
    return _open_run(str(path), stamp(path))


@st.cache_resource(max_entries=16, show_spinner=False)
def _model(path: str, mtime: float, step: int | None):
    return runs_mod.open_run(path).model_at(step)


@st.cache_resource(max_entries=6, show_spinner="Analysing the checkpoint on the whole grid...")
def _analysis(path: str, mtime: float, step: int | None) -> SnapshotAnalysis:
    from grok.data import make_dataset
    from grok.snapshot import analyse

    run = runs_mod.open_run(path)
    cfg = run.config
    model = _model(path, mtime, step)
    # analyse() runs the model on the whole p x p grid once and keeps its logits and
    # activations, so every Ask / Neurons / Ablations query is a lookup into these tensors.
    out = analyse(model, make_dataset(cfg.model.p, cfg.frac_train, cfg.seed))
    freeze_heap()
    return out


def analysis(run: runs_mod.Run, step: int | None) -> SnapshotAnalysis:
    """The whole-grid analysis of `run` at `step`, which must have weights (weight_step())."""
    return _analysis(str(run.path), stamp(run.path), step)


@st.cache_resource(max_entries=8, show_spinner="Loading the replay...")
def _replay(path: str, mtime: float):
    out = runs_mod.open_run(path).replay()
    freeze_heap()
    return out


def replay(run: runs_mod.Run):
    return _replay(str(run.path), stamp(run.path))


@st.cache_data(max_entries=32, show_spinner=False)
def _phases(path: str, mtime: float) -> list:
    return phases_mod.detect(runfiles.read_metrics(path))


def phases(run: runs_mod.Run) -> list:
    return _phases(str(run.path), stamp(run.path))


@st.cache_resource(max_entries=32, show_spinner="Ablating...")
def _ablation(path: str, mtime: float, step: int | None, site: str, mode: str, freqs: tuple[int, ...]) -> Ablation:
    from grok import ablate as ablate_mod

    a = _analysis(path, mtime, step)
    res = ablate_mod.ablate(a.model, a.ds, site, list(freqs), mode, acts=a.acts)
    # The pages read correctness and losses only: dropping the [p*p, p] logits keeps an entry
    # at ~30 kB instead of 5.8 MB at p = 113, so many toggles stay cached in 1 GB.
    return dataclasses.replace(res, logits=res.logits[:0])


def ablation(run: runs_mod.Run, step: int | None, site: str, mode: str, freqs) -> Ablation:
    """The frequency ablation of this checkpoint, cached per (run, stamp, step, site, mode,
    sorted frequencies) and computed from the cached grid activations (no forward pass except
    at the embedding). Its `logits` are empty (see _ablation)."""
    return _ablation(str(run.path), stamp(run.path), step, site, mode, tuple(sorted(int(k) for k in freqs)))


@st.cache_data(max_entries=16, show_spinner="Measuring the excluded loss of every frequency...")
def _excluded_per_freq(path: str, mtime: float, step: int | None) -> list[float]:
    from grok import fourier, measures

    a = _analysis(path, mtime, step)
    d = measures.excluded_loss_per_freq(a.acts.logits, a.ds, range(1, fourier.n_freqs(a.p) + 1))
    return [d[k] for k in sorted(d)]


def excluded_per_freq(run: runs_mod.Run, step: int | None) -> list[float]:
    """[(p-1)/2] training loss once frequency k alone is removed from the logits, k = 1.."""
    return _excluded_per_freq(str(run.path), stamp(run.path), step)


# ---------------------------------------------------------------- start-up warm-up
_once_lock = threading.Lock()
_once_done: set[str] = set()


def _once(name: str, env: str) -> bool:
    """True the first time per server process that `name` asks (then never again), unless the
    environment variable `env` is 0 (how the benchmark turns a lever off to measure it)."""
    if os.environ.get(env, "1") in ("0", "false", "False"):
        return False
    with _once_lock:
        if name in _once_done:
            return False
        _once_done.add(name)
        return True


def warm_up() -> None:
    """Once per server process, in a background thread: load the default run's final weights
    and whole-grid analysis into the shared caches (then freeze the heap), so the first visitor
    who opens Ask, Neurons or Ablations finds them ready. app.py calls this after the first
    page has been drawn, so it never delays the first paint. GROK_WARM=0 turns it off."""
    if not _once("warm_up", "GROK_WARM"):
        return
    found = runs_mod.discover(run_roots())
    path = found.get(DEFAULT_RUN) or next(iter(found.values()), None)
    if path is None:
        return

    def work() -> None:
        # A pause first: the first visitor's browser is still fetching Vega and drawing Home's
        # charts (~1.3 s after this script ends), and torch's import (~1 s of CPU, holding the
        # GIL the server's static files need) would compete with it on a 2-core host. Measured
        # (tools.bench_app --only none): server CPU until first paint 1.02-1.25 s with 1 s,
        # 0.87-0.96 s with 2 s; the first Ask visit still finds the analysis ready.
        time.sleep(float(os.environ.get("GROK_WARM_DELAY", "2.0")))
        try:
            import ui_vega  # noqa: F401  (Altair, pandas: the other pages' charts)

            run = open_run(path)
            final = run.weight_steps()[-1]
            analysis(run, final)
        except Exception:  # noqa: BLE001 - a broken run shows its error when a page opens it
            pass

    threading.Thread(target=work, name="grok-warm-up", daemon=True).start()


# ---------------------------------------------------------------- memory
def trim_memory_periodically(every_s: float = 5.0) -> None:
    """Once per server process, a daemon thread that hands the C heap's free pages back to the
    operating system (glibc's malloc_trim(0)) every `every_s` seconds. Why: Streamlit runs each
    script run in a thread of its own, glibc gives threads separate heaps (up to 8 per core), and
    memory torch and NumPy free in one of them stays mapped there: the server's RSS climbed by
    30-90 MB over a 4-pass load test with nothing leaking (tools/load; README, "Load"). A trim
    costs a few ms of one core. GROK_TRIM=0 turns it off (to measure the lever); a no-op where
    the C library has no malloc_trim (macOS, musl)."""
    if not _once("trim_memory", "GROK_TRIM"):
        return
    try:
        import ctypes

        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return

    def loop() -> None:
        while True:
            time.sleep(every_s)
            trim(0)

    threading.Thread(target=loop, name="grok-malloc-trim", daemon=True).start()


# ---------------------------------------------------------------- URL state
def _store() -> dict:
    return st.session_state.setdefault("_url_values", {})


def _written() -> dict:
    return st.session_state.setdefault("_url_written", {})


class Snap(ValueError):
    """Raised by a parser whose input is usable once moved to the nearest valid value: the
    link's value is replaced by `value` and the visitor is told `reason`."""

    def __init__(self, value: Any, reason: str):
        super().__init__(reason)
        self.value, self.reason = value, reason


def echo(raw: str, n: int = ECHO_MAX) -> str:
    """A link value as shown back in a warning: at most n characters (a pasted URL can be long)."""
    raw = str(raw)
    return raw if len(raw) <= n else raw[: n - 1] + "…"


def url_value(name: str, parse: Callable[[str], Any], default: Any) -> tuple[Any, bool]:
    """(value, came_from_url) for a shareable setting. The URL wins when it holds something we
    did not write ourselves (a pasted link, a first visit); a bad value warns and falls back, a
    value that parse() snaps (Snap) warns and uses the snapped value."""
    raw = st.query_params.get(name)
    store = _store()
    if raw is not None and raw != _written().get(name):
        _written()[name] = raw
        try:
            v = parse(raw)
        except Snap as e:
            st.warning(f"`?{name}={echo(raw)}` in the link: {e.reason}. Showing {e.value:,} instead." if isinstance(e.value, int)
                       else f"`?{name}={echo(raw)}` in the link: {e.reason}. Showing {e.value} instead.", icon="⚠️")
            store[name] = e.value
            return e.value, True
        except (ValueError, TypeError) as e:
            st.warning(f"Ignoring `?{name}={echo(raw)}` in the link: {echo(str(e), 120)}. Showing {store.get(name, default)} instead.", icon="⚠️")
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


def synced_key(name: str, parse: Callable[[str], Any], default: Any, **kwargs) -> str:
    """The session key ("w_" + name) of a setting that lives in the URL as ?name=..., holding the
    link's value, else this session's (if it still fits kwargs' options / range), else `default`."""
    v, from_url = url_value(name, parse, default)
    if not _fits(v, kwargs):
        v = default
    key = f"w_{name}"
    if from_url or key not in st.session_state or not _fits(st.session_state[key], kwargs):
        st.session_state[key] = v
    else:  # re-assert: widget ids differ per page, so the same key on another page's widget would
        st.session_state[key] = st.session_state[key]  # otherwise start from its default, not this value
    return key


def synced(name: str, widget: Callable, parse: Callable[[str], Any], default: Any, fmt: Callable[[Any], str] = str, **kwargs) -> Any:
    """A widget whose value lives in the URL as ?name=...; kwargs go to the widget."""
    out = widget(key=synced_key(name, parse, default, **kwargs), **kwargs)
    publish(name, out, fmt)
    return out


def set_synced(name: str, value: Any, fmt: Callable[[Any], str] = str) -> None:
    """Set a synced setting from a callback (a grid click, a chart bar, a component): its
    session key, so the widget or component drawn next shows it, and the URL."""
    st.session_state[f"w_{name}"] = value
    publish(name, value, fmt)


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
    """The sidebar's run and the shared step (any frame step of the run, not only a step with
    weights: pages that need a model use weight_step() and show checkpoint_note()); stops the
    page when no run loads (the sidebar and app.py have already said why)."""
    run, step = st.session_state.get("run"), st.session_state.get("step")
    if run is None:
        st.stop()
    return run, step


# ---------------------------------------------------------------- the one shared step
def nearest(steps: list[int], step: int) -> int:
    """The element of `steps` (ascending, non-empty) nearest to `step`; ties go to the earlier."""
    return min(steps, key=lambda s: (abs(s - int(step)), s))


def weight_step(run, step: int) -> int:
    """The step whose weights a model-based view of `run` at `step` uses: the saved checkpoint
    nearest to it (ties: the earlier one, never weights from the future of that step)."""
    return nearest(run.weight_steps(), step)


def checkpoint_note(run, step: int) -> str | None:
    """A sentence naming the checkpoint a weights-based view uses, when it is not `step` itself
    (None when `step` has weights)."""
    w = weight_step(run, step)
    if w == int(step):
        return None
    return (f"Step {int(step):,} has no saved weights: this view uses the checkpoint at step {w:,}, "
            f"the nearest of the run's {len(run.weight_steps())}.")


def caption_checkpoint(run, step: int) -> None:
    """Say which checkpoint a weights-based page uses, when it is not the shared step itself."""
    note = checkpoint_note(run, step)
    if note:
        st.caption(note)


def html_table(header: list[str], rows: list[list[Any]], align: str = "") -> str:
    """A compact HTML table for st.markdown(..., unsafe_allow_html=True). Why not st.table: that
    is a DataFrame shipped as Arrow and drawn by a React table, one more piece of work for the
    browser on every page view or rerun (README, "Speed"); a table of a few short cells reads the
    same as HTML. `align` has a letter per column, l / c / r (default: the first left, the rest
    right); cells are escaped."""
    from html import escape

    align = align or "l" + "r" * (len(header) - 1)
    side = {"l": "left", "c": "center", "r": "right"}
    pad = "padding:0.25rem 0.35rem;"
    th = "".join(f"<th style='{pad}text-align:{side[a]}'>{escape(str(h))}</th>" for h, a in zip(header, align))
    body = "".join("<tr>" + "".join(f"<td style='{pad}text-align:{side[a]}'>{escape(str(c))}</td>" for c, a in zip(r, align)) + "</tr>"
                   for r in rows)
    return (f"<table style='font-size:0.85rem;width:100%;border-collapse:collapse'><thead><tr>{th}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _step_text(step: int) -> str:
    return f"**Step {int(step):,}** — set by the replay player"


def set_shared_step(step: int) -> None:
    """Make `step` the shared step every page follows (the Replay page's in-browser player calls
    this with the frame it paused on). Takes effect in this run: the sidebar's step text on the
    Replay page, st.session_state["step"] and ?step= in the URL; the sidebar slider on every
    other page starts from it."""
    step = int(step)
    run = st.session_state.get("run")
    if run is not None:
        frames = run.frame_steps()
        if frames and step not in frames:
            step = nearest(frames, step)
    st.session_state["step"] = step
    st.session_state.pop("w_step", None)
    publish("step", step)
    slot = st.session_state.get("_step_slot_ref")
    if slot is not None:
        try:
            slot.markdown(_step_text(step))
        except Exception:  # noqa: BLE001 - a slot from an earlier run; the next run redraws it
            pass


def _run_label(name: str) -> str:
    """Short, distinguishable names for the picker: shipped runs by name, your runs by their
    folder name marked as yours (the full path is in the picker's help)."""
    if "/" not in name:
        return name
    return f"{name.rsplit('/', 1)[1]} (your run)"


# ---------------------------------------------------------------- the shared sidebar
def sidebar(page: str | None = None) -> tuple[runs_mod.Run | None, int | None]:
    """Run and step pickers shared by every page; (run, step) or (None, None) if no run loads.
    `page` is the url_path of the page about to run: on the Replay page the in-browser player
    is the step control, so the sidebar shows the step as text instead of a second slider."""
    st.session_state.pop("_step_slot_ref", None)
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

    shown = st.session_state.get("w_run") if st.session_state.get("w_run") in found else _store().get("run", default)
    where = found.get(shown, found[default])
    name = synced("run", st.sidebar.selectbox, parse_run, default, label="Run", options=names, format_func=_run_label,
                  help=f"Shipped runs come from {runs_mod.PRETRAINED}, yours from {user_runs_dir()}. "
                       f"This one: {where}")
    try:
        run = open_run(found[name])
    except runfiles.CheckpointError as e:
        st.sidebar.error(f"This run cannot be opened: {e}")
        st.error(f"Run **{name}** cannot be opened: {e}. Pick another run in the sidebar.")
        return None, None
    frames = run.frame_steps()
    final = frames[-1]

    def parse_step(s: str) -> int:
        try:
            v = int(s.strip())
        except ValueError:
            raise ValueError("not an integer step") from None
        if v in frames:
            return v
        raise Snap(nearest(frames, v), f"run {name} has no frame at step {v:,}; the nearest is {nearest(frames, v):,}")

    if st.session_state.get("_step_run") != name:  # a new run starts at its final step
        if st.session_state.get("_step_run") is not None:
            _store()["step"] = final
        st.session_state["_step_run"] = name
        st.session_state.pop("w_step", None)
    if st.session_state.get("w_step") not in frames:
        st.session_state.pop("w_step", None)
    if _store().get("step") not in frames:
        _store()["step"] = nearest(frames, _store()["step"]) if isinstance(_store().get("step"), int) else final
    if page == REPLAY_PAGE:
        step, _ = url_value("step", parse_step, final)
        step = step if step in frames else nearest(frames, step)
        publish("step", step)
        st.session_state.pop("w_step", None)
        slot = st.sidebar.empty()
        slot.markdown(_step_text(step))
        st.session_state["_step_slot_ref"] = slot
    else:
        step = synced("step", st.sidebar.select_slider, parse_step, final, label="Training step", options=frames,
                      format_func=lambda s: f"{s:,}",
                      help=f"The step every page shows: one of the run's {len(frames)} replay frames. Views that need "
                           f"weights use the nearest of its {len(run.weight_steps())} saved checkpoints and say so.")
    last = run.metrics[-1] if run.metrics else {}
    st.sidebar.caption(
        f"p = {run.config.model.p}, weight decay {run.config.wd:g}, {len(frames)} frames, {len(run.weight_steps())} checkpoints"
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


def on_phone() -> bool:
    """A phone's browser (its user agent says "Mobile"): pages lay fixed-width charts out for a
    narrow screen. Fixed for the session, so chart specs stay the same on every rerun."""
    try:
        return "Mobile" in (st.context.headers.get("User-Agent") or "")
    except Exception:  # noqa: BLE001 - no headers (AppTest): a desktop
        return False
