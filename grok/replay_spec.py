"""The whole Replay as ONE Vega-Lite spec: every frame travels to the browser once.

Why one compound chart: a Vega-Lite parameter (`frame`, bound to a range input) is evaluated
in the browser, so moving it repaints every panel with no server round trip; one
`vconcat` / `hconcat` shares that one parameter, so every panel always shows the same frame
(separate st.altair_chart calls would be separate Vega views). Per-frame data is wide (one
column per frame, `datum['p' + frame]`, see grok.replay_views), curves are static layers with
a marker filtered to the frame, and 113 x 113 neuron maps are PNG data URLs (`mark_image`),
never rect marks. The spec holds no "current frame": the player component (components/player.py)
sets it, so the spec is the same on every rerun and Streamlit never remounts it.

Pure: Replay + phases + metrics rows in, alt.VConcatChart out; tests call `.to_dict()`.
"""
from __future__ import annotations

import json
from typing import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd

from . import palette
from . import replay_views as rv
from .curves import PHASE_COLORS
from .replay import Replay

W = 250  # px: one panel's plot; three per row (with axes) fit the wide layout at 1440 px (the page scales it down on phones)
H = 150
FRAME = "frame"  # the one top-level parameter every panel reads
STEP = "fstep"  # the frame's training step, a derived parameter (for titles)


def _step_title(text: str) -> alt.TitleParams:
    """A panel title that names the frame's step, evaluated in the browser."""
    return alt.TitleParams(text=alt.expr(f"{json.dumps(text)} + ' at step ' + format({STEP}, ',')"), anchor="start", fontSize=13)


def _x_step(last: int, title: str = "step (log)") -> alt.X:
    """The log step axis, ending at the run's last step (step 0 drawn at 1)."""
    return alt.X("step1:Q", title=title, scale=alt.Scale(type="log", domain=[1, max(int(last), 2)], nice=False),
                 axis=alt.Axis(format="~s", tickCount=5))


def _bands(phases: Sequence, last: int) -> alt.Chart | None:
    if not phases:
        return None
    df = pd.DataFrame([{"phase": p.name, "start": max(p.start, 1), "end": min(max(p.end, 1), last)} for p in phases])
    names = [n for n in PHASE_COLORS if n in set(df["phase"])]
    return alt.Chart(df).mark_rect(opacity=0.55).encode(
        x="start:Q", x2="end:Q",
        color=alt.Color("phase:N", scale=alt.Scale(domain=names, range=[PHASE_COLORS[n] for n in names]), legend=None),
        tooltip=["phase:N", "start:Q", "end:Q"],
    )


_ONE = pd.DataFrame({"at": [0]})  # one row: the marker's step is computed, not filtered out of every frame's


def _marker() -> alt.Chart:
    """The vertical line at the frame's step: one datum whose x is the frame's step, so a new
    frame updates one line (a filter over every frame's row ran ~200 expressions per panel and
    replaced the line)."""
    return alt.Chart(_ONE).transform_calculate(step1=f"max({STEP}, 1)").mark_rule(color="black", strokeWidth=2).encode(x="step1:Q")


def _curves(df: pd.DataFrame, phases, last: int, title: str, y_title: str, log_y: bool,
            colors: Mapping[str, str], height: int = H, width: int = W) -> alt.LayerChart:
    """Static curves (long: step1, value, series), phase bands and the frame marker."""
    if log_y:
        df = df[df["value"] > 0]
    names = [n for n in colors if n in set(df["series"])]
    y = alt.Y("value:Q", title=y_title, scale=alt.Scale(type="log") if log_y else alt.Scale(zero=False),
              axis=alt.Axis(format="~e", tickCount=5) if log_y else alt.Axis(tickCount=5))
    lines = alt.Chart(df).mark_line(strokeWidth=2).encode(
        x=_x_step(last), y=y,
        color=alt.Color("series:N", scale=alt.Scale(domain=names, range=[colors[n] for n in names]), title=None,
                        legend=alt.Legend(orient="top", direction="horizontal")),
        tooltip=[alt.Tooltip("step:Q", format=","), "series:N", alt.Tooltip("value:Q", format=".3g")],
    )
    layers = [b for b in (_bands(phases, last),) if b is not None] + [lines, _marker()]
    return alt.layer(*layers).properties(width=width, height=height, title=_step_title(title)).resolve_scale(color="independent")


def _long(steps: Sequence[int], series: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    df = rv.series_long(steps, series)
    df["step1"] = df["step"].clip(lower=1)
    df["value"] = df["value"].astype(np.float32)
    return df


def _metric_rows(rows: Sequence[Mapping], names: Mapping[str, str]) -> pd.DataFrame:
    df = rv.rows_long(rows, names)
    df["step1"] = df["step"].clip(lower=1)
    return df


def _params(replay: Replay) -> tuple[alt.Parameter, alt.Parameter]:
    F = len(replay.steps)
    frame = alt.param(name=FRAME, value=0, bind=alt.binding_range(min=0, max=F - 1, step=1, name="frame "))
    fstep = alt.param(name=STEP, expr=f"{json.dumps([int(s) for s in replay.steps], separators=(',', ':'))}[{FRAME}]")
    return frame, fstep


def _frames(replay: Replay) -> pd.DataFrame:
    frames = rv.frames_table(replay)
    frames["step1"] = frames["step"].clip(lower=1)
    return frames


def _header(frames: pd.DataFrame, F: int, width: int, narrow: bool = False) -> alt.Chart:
    """The frame in words: step, frame, accuracies and the per-frame clock readout (on three
    lines when `narrow`)."""
    br = "|" if narrow else "  "
    line = (f"'Step ' + format(datum.step, ',') + '  (frame ' + (datum.frame + 1) + ' of {F}):{br}test accuracy ' + "
            f"format(datum.test_acc, '.1%') + ',  train accuracy ' + format(datum.train_acc, '.1%') + ':{br}' + datum.clock_text + "
            + ("' (' + format(datum.logit_var_explained, '.0%') + ' of the logit variance)'" if narrow else
               "'  (the final model\\'s frequencies explain ' + format(datum.logit_var_explained, '.0%') + ' of the logit variance)'"))
    return alt.Chart(frames).transform_filter(f"datum.frame == {FRAME}").transform_calculate(line=line).mark_text(
        align="left", baseline="top", fontSize=14, fontWeight="bold", limit=width, lineBreak="|", lineHeight=18).encode(
        x=alt.value(0), y=alt.value(2), text="line:N",
    ).properties(width=width, height=56 if narrow else 20)


def _loss_acc(replay: Replay, rows: Sequence[Mapping]) -> tuple[pd.DataFrame, pd.DataFrame]:
    src = [r for r in rows if "train_loss" in r]
    if src:
        return _metric_rows(src, rv.LOSS_SERIES), _metric_rows(src, rv.ACC_SERIES)
    return (_long(replay.steps, {lab: replay.metrics[k].tolist() for k, lab in rv.LOSS_SERIES.items()}),
            _long(replay.steps, {lab: replay.metrics[k].tolist() for k, lab in rv.ACC_SERIES.items()}))


def _spectrum(replay: Replay, key: Sequence[int], width: int = W, height: int = H) -> alt.Chart:
    """Embedding spectrum at the frame, on a y axis fixed across frames."""
    spec_df = rv.spectrum_wide(replay, key)
    kinds = ["key", "other"] if key else ["other"]
    return alt.Chart(spec_df).transform_calculate(norm=f"datum['p' + {FRAME}]").mark_bar().encode(
        x=alt.X("k:O", title="frequency k", axis=alt.Axis(labelAngle=0, values=[int(k) for k in spec_df["k"] if k % 10 == 0 or k in set(key)])),
        y=alt.Y("norm:Q", title="norm in W_E", scale=alt.Scale(domain=[0, rv.spectrum_max(replay)], nice=False)),
        color=alt.Color("kind:N", scale=alt.Scale(domain=kinds, range=[palette.KEY, palette.OTHER] if key else [palette.OTHER]),
                        legend=None),  # a concat puts "top" legends atop the whole chart: the caption says blue = key
        tooltip=["k:Q", alt.Tooltip("norm:Q", format=".3g")],
    ).properties(width=width, height=height, title=_step_title("Embedding spectrum"))


def _circles(replay: Replay, key: Sequence[int], side: int = 84):
    """The numbers in the (cos_k, sin_k) planes of the final model's first frequencies."""
    planes = min(rv.CIRCLE_PLANES, len(replay.key_freqs))
    ext = round(rv.circle_extent(replay, planes) * 1.05, 2)
    circ = alt.Chart(rv.circle_wide(replay, planes)).transform_calculate(
        a=f"datum['a' + {FRAME}] / {rv.CIRCLE_SCALE}", b=f"datum['b' + {FRAME}] / {rv.CIRCLE_SCALE}").mark_circle(size=22, opacity=0.9).encode(
        x=alt.X("a:Q", title=None, scale=alt.Scale(domain=[-ext, ext], nice=False), axis=alt.Axis(labels=False, ticks=False, grid=False)),
        y=alt.Y("b:Q", title=None, scale=alt.Scale(domain=[-ext, ext], nice=False), axis=alt.Axis(labels=False, ticks=False, grid=False)),
        color=alt.Color("x:Q", scale=alt.Scale(scheme="rainbow"), title="number x", legend=None),
        tooltip=["x:Q", "k:Q"],
    ).properties(width=side, height=side)
    label = "key frequency k (final model's)" if key else "final model's strongest k (no clock)"
    return circ.facet(column=alt.Column("k:O", sort=list(replay.key_freqs[:planes]), title=label,
                                        header=alt.Header(labelFontSize=12, titleFontSize=11)),
                      title=_step_title("Number circle" if key else "Numbers"))


def _maps_panel(replay: Replay, strips: pd.DataFrame, F: int) -> alt.VConcatChart:
    """The stored neurons' maps at the frame: each neuron's strip of all frames (rv.maps_strips)
    drawn cell * F tall and moved up frame * cell inside a clip one map tall, so a new frame
    changes one attribute per neuron and decodes no image; above each, its label (best
    frequency, share), below, the range its colours span."""
    M = int(replay.maps.shape[1])
    cell = min(96, (W - 10 * M) // max(M, 1))
    x = alt.X("slot:O", axis=None, scale=alt.Scale(domain=list(range(M)), paddingInner=0.1, paddingOuter=0.05))
    labels = rv.maps_long(replay)

    def words(field: str, size: int, color: str) -> alt.Chart:
        return alt.Chart(labels).transform_filter(f"datum.frame == {FRAME}").mark_text(
            fontSize=size, baseline="top", color=color).encode(x=x, y=alt.value(0), text=f"{field}:N").properties(width=W, height=14)

    img = alt.Chart(strips).mark_image(width=cell, height=cell * F, smooth=False, align="center", baseline="top", clip=True).encode(
        x=x, y=alt.value({"expr": f"-{cell} * {FRAME}"}), url="url:N").properties(width=W, height=cell)
    return alt.vconcat(words("label", 11, "black"), img, words("range", 10, "#555555"), spacing=3).properties(
        title=_step_title("Stored neurons over (x, y)"))


def build(replay: Replay, phases: Sequence = (), rows: Sequence[Mapping] = (), strips: pd.DataFrame | None = None,
          columns: int = 3) -> alt.VConcatChart:
    """The Replay page's one chart. `rows`: the run's metrics rows (denser loss curves; the
    replay's own metrics when empty); `strips`: rv.maps_strips(replay) (pass a cached one: the
    PNG encoding is the slow part); `columns`: panels per row (3 on a desktop, 1 on a phone)."""
    F = len(replay.steps)
    last = int(replay.steps[-1])
    key = rv.final_verdict(replay).key_freqs  # () when the final model has no clock: nothing is called "key"
    frames = _frames(replay)
    frame, fstep = _params(replay)
    header = _header(frames, F, 3 * W + 300 if columns >= 3 else W + 60, narrow=columns < 3)

    loss_df, acc_df = _loss_acc(replay, rows)
    loss = _curves(loss_df, phases, last, "Loss", "loss (log)", True, palette.SERIES)
    acc = _curves(acc_df, phases, last, "Accuracy", "accuracy", False, palette.SERIES)
    progress = _curves(_long(replay.steps, {lab: replay.metrics[k].tolist() for k, lab in rv.PROGRESS_LOSS_SERIES.items()}),
                       phases, last, "Restricted and excluded loss", "loss (log)", True, palette.SERIES)
    gini = _curves(_long(replay.steps, {lab: replay.metrics[k].tolist() for k, lab in rv.GINI_SERIES.items()}),
                   phases, last, "Fourier sparsity (Gini)", "Gini coefficient", False, {"W_E": palette.KEY, "W_L": palette.WRONG})
    norm = _curves(_long(replay.steps, {lab: replay.metrics[k].tolist() for k, lab in rv.NORM_SERIES.items()}),
                   phases, last, "Weight norm", "sum of squared weights", False, {"sum of squared weights": "#555555"})

    # ---------------------------------------------------------------- stored neurons' maps (one PNG strip each)
    neurons = _maps_panel(replay, rv.maps_strips(replay) if strips is None else strips, F)

    # ---------------------------------------------------------------- neurons per frequency (fixed y)
    counts_df = rv.counts_wide(replay, key)
    cdom = ["key", "final", "other", "unclustered"]
    crange = [palette.KEY, "#888888", palette.OTHER, palette.UNCLUSTERED]
    counts = alt.Chart(counts_df).transform_calculate(neurons=f"datum['n' + {FRAME}]").mark_bar().encode(
        x=alt.X("bucket:N", sort=None, title="frequency k" if key else "final model's strongest k, other, unclustered", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("neurons:Q", title="neurons", scale=alt.Scale(domain=[0, rv.max_cluster_count(replay)], nice=False)),
        color=alt.Color("kind:N", scale=alt.Scale(domain=cdom, range=crange), legend=None),
        tooltip=["bucket:N", "neurons:Q"],
    ).properties(width=W, height=H, title=_step_title("Neurons per frequency"))

    panels = [loss, acc, _spectrum(replay, key), _circles(replay, key), neurons, counts, progress, gini, norm]
    rows_ = [alt.hconcat(*panels[i:i + columns], spacing=28) if columns > 1 else panels[i] for i in range(0, len(panels), columns)]
    return _top([header, *rows_], frame, fstep)


def _top(views: list, frame: alt.Parameter, fstep: alt.Parameter) -> alt.VConcatChart:
    # params given to the top level directly: Altair's add_params would push them into the
    # children (and trips over the faceted circles)
    return (alt.VConcatChart(vconcat=views, spacing=22, params=[frame.param, fstep.param])
            .resolve_scale(color="independent")
            .properties(usermeta={"embedOptions": {"renderer": "svg"}})  # text marks readable in the DOM (tests, readers)
            # no ARIA attributes on each of the thousands of marks: Vega formatted and set an aria-label per mark on
            # every frame (A/B, tools.replay_timing: scrub p50 82-85 -> 64-81 ms); the header's text says the frame
            .configure(aria=False)
            .configure_view(stroke=None).configure_axis(labelFontSize=11, titleFontSize=11))


def build_compare(replay: Replay, phases: Sequence = (), rows: Sequence[Mapping] = (), title: str = "",
                  width: int = 300) -> alt.VConcatChart:
    """A compact replay of another run for "Side by side": frame readout, loss, spectrum and
    circles, with its own `frame` parameter (the player sets it to the frame nearest its step)."""
    F, last = len(replay.steps), int(replay.steps[-1])
    key = rv.final_verdict(replay).key_freqs
    frames = _frames(replay)
    frame, fstep = _params(replay)
    loss_df, _ = _loss_acc(replay, rows)
    views = [
        _header(frames, F, width).encode(text="short:N").transform_calculate(
            short=f"'step ' + format(datum.step, ',') + ' (frame ' + (datum.frame + 1) + ' of {F}): ' + datum.clock_text"),
        _curves(loss_df, phases, last, "Loss", "loss (log)", True, palette.SERIES, height=120, width=width),
        _spectrum(replay, key, width=width, height=100),
        _circles(replay, key, side=(width - 20 * rv.CIRCLE_PLANES) // rv.CIRCLE_PLANES),
    ]
    return _top(views, frame, fstep)


def payload(chart: alt.TopLevelMixin) -> dict:
    """Bytes the chart costs: the spec without data, and each dataset as Arrow IPC (what
    st.altair_chart ships) -> {"spec": n, "data": n, "total": n, "datasets": {name: n}}."""
    import io

    import pyarrow as pa

    frames: dict[str, pd.DataFrame] = {}

    def keep(data):  # as Streamlit does: each DataFrame travels as its own Arrow table, dtypes kept
        name = f"d{id(data)}"
        frames[name] = data
        return {"name": name}

    alt.data_transformers.register("grok_payload", keep)
    with alt.data_transformers.enable("grok_payload"):
        d = chart.to_dict()
    sizes = {}
    for name, df in frames.items():
        table = pa.Table.from_pandas(df, preserve_index=False)
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, table.schema) as w:
            w.write_table(table)
        sizes[name] = len(sink.getvalue())
    spec = len(json.dumps({k: v for k, v in d.items() if k != "datasets"}, separators=(",", ":")))
    return {"spec": spec, "data": sum(sizes.values()), "total": spec + sum(sizes.values()), "datasets": sizes}
