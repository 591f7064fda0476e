"""Altair chart builders: plain data in, `alt.Chart` out. Pure, so tests can call `.to_dict()`.

Conventions: log axes for losses; phase bands are translucent rectangles under the curves;
a vertical rule marks the current step; the key frequencies are highlighted in every spectrum.
"""
from __future__ import annotations

from typing import Sequence

import altair as alt
import numpy as np
import pandas as pd

PHASE_COLORS = {
    "memorisation": "#fde2e4", "circuit formation": "#fff1c1", "clean-up": "#d8f3dc",
    "converged": "#dbeafe", "no generalisation": "#eeeeee",
}
SERIES_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"]


def fit_x(chart):
    """Stretch to the column's width but keep the given height for the plot itself (Streamlit's
    default autosize "fit" squeezes legends and axes into it, leaving thin plots)."""
    return chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))


def phase_bands(phases: Sequence, y_field: str | None = None) -> alt.Chart | None:
    """Background rectangles, one per phase (objects with name, start, end)."""
    if not phases:
        return None
    df = pd.DataFrame([{"phase": p.name, "start": max(p.start, 1), "end": max(p.end, 1)} for p in phases])
    names = list(PHASE_COLORS)
    return alt.Chart(df).mark_rect(opacity=0.55).encode(
        x="start:Q", x2="end:Q",
        color=alt.Color("phase:N", scale=alt.Scale(domain=names, range=[PHASE_COLORS[n] for n in names]), legend=alt.Legend(title="phase", orient="bottom", direction="horizontal")),
        tooltip=["phase", "start", "end"],
    )


def curves(df: pd.DataFrame, y_title: str, log_y: bool = True, phases=None, marker: int | None = None,
           height: int = 280, color_field: str = "series", dash_field: str | None = None, title: str = "") -> alt.LayerChart:
    """Lines of `value` over `step` per `series` (long format), log step axis (step 0 drawn at 1)."""
    df = df.copy()
    df["step1"] = df["step"].clip(lower=1)
    y = alt.Y("value:Q", title=y_title, scale=alt.Scale(type="log") if log_y else alt.Scale(zero=False),
              axis=alt.Axis(format="~e", tickCount=6) if log_y else alt.Axis())
    enc = dict(
        x=alt.X("step1:Q", title="step (log)", scale=alt.Scale(type="log"), axis=alt.Axis(format="~s", tickCount=5)), y=y,
        color=alt.Color(f"{color_field}:N", title=None, legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("step:Q"), alt.Tooltip(f"{color_field}:N"), alt.Tooltip("value:Q", format=".3g")],
    )
    if dash_field:
        enc["strokeDash"] = alt.StrokeDash(f"{dash_field}:N", title=None, legend=alt.Legend(orient="top"))
    if log_y:
        df = df[df["value"] > 0]
    layers = []
    bands = phase_bands(phases) if phases else None
    if bands is not None:
        layers.append(bands)
    layers.append(alt.Chart(df).mark_line(strokeWidth=2).encode(**enc))
    if marker is not None:
        layers.append(alt.Chart(pd.DataFrame({"step1": [max(marker, 1)]})).mark_rule(color="black", strokeWidth=2).encode(x="step1:Q"))
    return fit_x(alt.layer(*layers).properties(height=height, title=title).resolve_scale(color="independent"))


def spectrum(values: np.ndarray, key_freqs: Sequence[int], y_title: str, title: str = "", height: int = 220, log_y: bool = False) -> alt.Chart:
    """A bar per frequency k = 1.. with the key frequencies highlighted (log_y for values
    spanning orders of magnitude, such as losses)."""
    k = np.arange(1, len(values) + 1)
    v = np.asarray(values, dtype=float)
    df = pd.DataFrame({"k": k, "value": v, "key": ["key" if i in set(key_freqs) else "other" for i in k]})
    y, extra = alt.Y("value:Q", title=y_title), {}
    if log_y:  # bars on a log axis need a floor to rise from: the decade below the smallest value
        pos = v[v > 0]
        lo = float(10 ** np.floor(np.log10(pos.min()))) if pos.size else 1e-12
        df["bar"] = df["value"].clip(lower=lo)
        y = alt.Y("bar:Q", title=y_title, scale=alt.Scale(type="log", domainMin=lo), axis=alt.Axis(format=".0e"))
        extra["y2"] = alt.datum(lo)
    return fit_x(alt.Chart(df).mark_bar().encode(
        x=alt.X("k:O", title="frequency k", axis=alt.Axis(labelAngle=0, values=[int(i) for i in k if i % 5 == 0 or i in set(key_freqs)])),
        y=y, **extra,
        color=alt.Color("key:N", scale=alt.Scale(domain=["key", "other"], range=["#d62728", "#9ecae1"]), legend=alt.Legend(title=None, orient="top")),
        tooltip=["k", alt.Tooltip("value:Q", format=".3g"), "key"],
    ).properties(height=height, title=title))


def heatmap(values: np.ndarray, x_title: str = "y", y_title: str = "x", color_title: str = "value", scheme: str = "viridis",
            domain: tuple | None = None, highlight: tuple[int, int] | None = None, size: int = 420, title: str = "",
            row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None, diverging: bool = False) -> alt.LayerChart:
    """A [rows, cols] grid as rects; rows go down (x), columns across (y). Optional highlighted cell."""
    v = np.asarray(values, dtype=float)
    r, c = np.indices(v.shape)
    df = pd.DataFrame({"row": r.ravel(), "col": c.ravel(), "value": v.ravel()})
    if row_labels is not None:
        df["row_label"] = np.asarray(row_labels)[df["row"]]
    if col_labels is not None:
        df["col_label"] = np.asarray(col_labels)[df["col"]]
    scale = alt.Scale(scheme=scheme, domain=list(domain) if domain else alt.Undefined, domainMid=0 if diverging else alt.Undefined)
    tip = [alt.Tooltip("row:Q", title=y_title), alt.Tooltip("col:Q", title=x_title), alt.Tooltip("value:Q", format=".3g", title=color_title)]
    if row_labels is not None:
        tip.append(alt.Tooltip("row_label:N", title=f"{y_title} basis"))
    if col_labels is not None:
        tip.append(alt.Tooltip("col_label:N", title=f"{x_title} basis"))
    base = alt.Chart(df).mark_rect(strokeWidth=0).encode(
        x=alt.X("col:O", title=x_title, axis=alt.Axis(labels=False, ticks=False), scale=alt.Scale(paddingInner=0, paddingOuter=0)),
        y=alt.Y("row:O", title=y_title, axis=alt.Axis(labels=False, ticks=False), scale=alt.Scale(paddingInner=0, paddingOuter=0)),
        color=alt.Color("value:Q", title=color_title, scale=scale),
        tooltip=tip,
    )
    layers = [base]
    if highlight is not None:
        hl = pd.DataFrame({"row": [highlight[0]], "col": [highlight[1]]})
        layers.append(alt.Chart(hl).mark_rect(fill=None, stroke="#ff00ff", strokeWidth=3).encode(x="col:O", y="row:O"))
    return natural_size(alt.layer(*layers).properties(width=size, height=size, title=title))


def votes(df: pd.DataFrame, answer: int, height: int = 260) -> alt.LayerChart:
    """Per-frequency logit contribution over the output c (`c`, `value`, `k`), true answer marked."""
    lines = alt.Chart(df).mark_line().encode(
        x=alt.X("c:Q", title="output c", scale=alt.Scale(domain=[0, int(df["c"].max())], nice=False)), y=alt.Y("value:Q", title="logit contribution"),
        color=alt.Color("k:N", title="frequency k", legend=alt.Legend(orient="top"), sort=sorted(df["k"].unique(), key=int)),
        tooltip=["k:N", "c:Q", alt.Tooltip("value:Q", format=".3g")],
    )
    rule = alt.Chart(pd.DataFrame({"c": [answer], "label": [f"answer {answer}"]})).mark_rule(color="black", strokeDash=[4, 3], strokeWidth=2).encode(x="c:Q", tooltip=["label"])
    return fit_x(alt.layer(lines, rule).properties(height=height))


def clock(df: pd.DataFrame, size: int = 180) -> alt.FacetChart:
    """One unit circle per key frequency with x, y and x + y placed at angles w_k * value
    (`k`, `point`, `value`, `cos`, `sin`)."""
    t = np.linspace(0, 2 * np.pi, 73)
    ring = pd.DataFrame([{"k": k, "cos": np.cos(a), "sin": np.sin(a), "order": i, "kind": "ring"} for k in df["k"].unique() for i, a in enumerate(t)])
    data = pd.concat([ring, df.assign(kind="point", order=0)], ignore_index=True)
    base = alt.Chart(data)
    xs = alt.X("cos:Q", scale=alt.Scale(domain=[-1.35, 1.35]), title=None, axis=None)
    ys = alt.Y("sin:Q", scale=alt.Scale(domain=[-1.35, 1.35]), title=None, axis=None)
    circle = base.transform_filter(alt.datum.kind == "ring").mark_line(color="#bbbbbb").encode(x=xs, y=ys, order="order:Q")
    pts = base.transform_filter(alt.datum.kind == "point").mark_point(size=160, filled=True).encode(
        x=xs, y=ys, color=alt.Color("point:N", scale=alt.Scale(domain=["x", "y", "x + y"], range=["#1f77b4", "#2ca02c", "#d62728"]), legend=alt.Legend(orient="top", title=None)),
        tooltip=["k:N", "point:N", "value:Q"],
    )
    labels = base.transform_filter(alt.datum.kind == "point").mark_text(dy=-14, fontSize=11).encode(x=xs, y=ys, text="value:Q")
    return alt.layer(circle, pts, labels).properties(width=size, height=size).facet(facet=alt.Facet("k:N", title="key frequency k"), columns=5)


def number_circle(df: pd.DataFrame, size: int = 200, columns: int = 5) -> alt.FacetChart:
    """Numbers x placed at their embedding's coordinates in each key plane (`k`, `a`, `b`, `x`)."""
    pts = alt.Chart(df).mark_circle(size=40).encode(
        x=alt.X("a:Q", title="cos_k direction", axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y("b:Q", title="sin_k direction", axis=alt.Axis(labels=False, ticks=False)),
        color=alt.Color("x:Q", scale=alt.Scale(scheme="rainbow"), title="number x"),
        tooltip=["k:N", "x:Q"],
    ).properties(width=size, height=size)
    return pts.facet(facet=alt.Facet("k:N", title="key frequency k"), columns=columns).resolve_scale(x="independent", y="independent")


def counts(d: dict, key_freqs: Sequence[int], title: str = "", height: int = 220) -> alt.Chart:
    """Neurons per frequency (bars), key frequencies highlighted; 'unclustered' as its own bar."""
    rows = [{"frequency": str(k), "neurons": n, "key": "key" if k in set(key_freqs) else "other"} for k, n in d.items() if k != "unclustered"]
    if "unclustered" in d:
        rows.append({"frequency": "unclustered", "neurons": d["unclustered"], "key": "unclustered"})
    df = pd.DataFrame(rows, columns=["frequency", "neurons", "key"])
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("frequency:N", sort=None, title="frequency k", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("neurons:Q", title="neurons"),
        color=alt.Color("key:N", scale=alt.Scale(domain=["key", "other", "unclustered"], range=["#d62728", "#9ecae1", "#cccccc"]), legend=alt.Legend(title=None, orient="top")),
        tooltip=["frequency", "neurons"],
    ).properties(height=height, title=title)


def bars(df: pd.DataFrame, x: str, y: str, color: str | None = None, height: int = 220, title: str = "", y_title: str | None = None) -> alt.Chart:
    enc = dict(x=alt.X(f"{x}:N", sort=None, title=None, axis=alt.Axis(labelAngle=0)), y=alt.Y(f"{y}:Q", title=y_title or y), tooltip=list(df.columns))
    if color:
        enc["color"] = alt.Color(f"{color}:N", legend=alt.Legend(orient="top", title=None))
        enc["xOffset"] = alt.XOffset(f"{color}:N")
    return alt.Chart(df).mark_bar().encode(**enc).properties(height=height, title=title)


def natural_size(chart):
    """Keep a chart's width / height as the size of its plot area, with axes and legends added
    around it. Streamlit's default autosize ('fit') squeezes them inside, which squashes small
    labelled grids and makes square heatmaps oblong. Use with width="content"."""
    return chart.properties(autosize=alt.AutoSizeParams(type="pad", contains="padding"))


def labelled_heatmap(values: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str], x_title: str, y_title: str,
                     color_title: str = "value", scheme: str = "redblue", diverging: bool = True, cell: int = 26,
                     title: str = "", width: int | None = None, height: int | None = None, axis_labels: bool = True) -> alt.Chart:
    """A [rows, cols] grid whose rows / columns have names (unique), kept in the given order:
    on the axes for a small grid (a few Fourier basis functions), in the tooltip only for a
    big one (axis_labels=False, explicit width / height). Diverging colours are centred on 0."""
    v = np.asarray(values, dtype=float)
    r, c = np.indices(v.shape)
    df = pd.DataFrame({"row": np.asarray(row_labels)[r.ravel()], "col": np.asarray(col_labels)[c.ravel()], "value": v.ravel()})
    m = float(np.abs(v).max()) if v.size else 1.0
    scale = alt.Scale(scheme=scheme, domain=[-m, m] if diverging and m > 0 else alt.Undefined, domainMid=0 if diverging else alt.Undefined)
    return natural_size(alt.Chart(df).mark_rect().encode(
        x=alt.X("col:N", sort=list(col_labels), title=x_title, axis=alt.Axis(labelAngle=-60, orient="top", labelOverlap=False) if axis_labels else alt.Axis(labels=False, ticks=False)),
        y=alt.Y("row:N", sort=list(row_labels), title=y_title, axis=alt.Axis(labelOverlap=False) if axis_labels else alt.Axis(labels=False, ticks=False)),
        color=alt.Color("value:Q", title=color_title, scale=scale),
        tooltip=[alt.Tooltip("row:N", title=y_title), alt.Tooltip("col:N", title=x_title), alt.Tooltip("value:Q", format=".3g", title=color_title)],
    ).properties(width=width or cell * len(col_labels), height=height or cell * len(row_labels), title=title))


OUTCOMES = {"still right": "#a1d99b", "broken": "#d62728", "was wrong": "#525252", "fixed": "#1f77b4"}


def outcome_grid(before: np.ndarray, after: np.ndarray, size: int = 420, title: str = "") -> alt.Chart:
    """[p, p] bool correctness before / after an intervention as four categories: 'still right',
    'broken' (right -> wrong), 'was wrong' (wrong before and after), 'fixed' (wrong -> right).
    Rows are x, columns y, as in `heatmap`."""
    b, a = np.asarray(before, dtype=bool), np.asarray(after, dtype=bool)
    cat = np.where(b, np.where(a, "still right", "broken"), np.where(a, "fixed", "was wrong"))
    r, c = np.indices(b.shape)
    df = pd.DataFrame({"x": r.ravel(), "y": c.ravel(), "outcome": cat.ravel()})
    names = list(OUTCOMES)
    return natural_size(alt.Chart(df).mark_rect().encode(
        x=alt.X("y:O", title="y", axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y("x:O", title="x", axis=alt.Axis(labels=False, ticks=False)),
        color=alt.Color("outcome:N", scale=alt.Scale(domain=names, range=[OUTCOMES[n] for n in names]), legend=alt.Legend(title=None, orient="top")),
        tooltip=["x:Q", "y:Q", "outcome:N"],
    ).properties(width=size, height=size, title=title))
