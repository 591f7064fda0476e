"""Altair chart builders: plain data in, `alt.Chart` out. Pure, so tests can call `.to_dict()`.
The training curves are plain Vega-Lite dicts instead (grok/curves.py: Home paints without Altair).

Conventions: log axes for losses; phase bands are translucent rectangles under the curves;
a vertical rule marks the current step; the key frequencies are highlighted in every spectrum.
"""
from __future__ import annotations

from typing import Sequence

import altair as alt
import numpy as np
import pandas as pd

from . import palette
from .curves import SERIES_COLORS  # one palette for the dict and the Altair charts


def fit_x(chart):
    """Stretch to the column's width but keep the given height for the plot itself (Streamlit's
    default autosize "fit" squeezes legends and axes into it, leaving thin plots)."""
    return chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))


FREQ_KINDS = {"key frequency": palette.KEY, "strongest (no clock yet)": palette.CANDIDATE, "other": palette.OTHER}


def spectrum_layout(values: np.ndarray, key_freqs: Sequence[int], candidates: Sequence[int] = (), log_y: bool = False) -> dict:
    """What a per-frequency bar chart shows, for any renderer: each k = 1.. its value and kind (by
    what grok.verdict allows: `key_freqs` only under a clock, `candidates` while none exists, other),
    the log axis' floor (the decade below the smallest positive value, bars rise from it) and the
    k that carry an axis label (every 5th of many, 1, and every key or candidate)."""
    v = np.asarray(values, dtype=float)
    k = np.arange(1, len(v) + 1)
    keys, cands = set(int(i) for i in key_freqs), set(int(i) for i in candidates)
    kind = ["key frequency" if i in keys else "strongest (no clock yet)" if i in cands else "other" for i in k]
    pos = v[v > 0]
    floor = (float(10 ** np.floor(np.log10(pos.min()))) if pos.size else 1e-12) if log_y else None
    step = 5 if len(k) > 12 else 1
    return {"k": [int(i) for i in k], "value": [float(x) for x in v], "kind": kind, "floor": floor,
            "labelled": [int(i) for i in k if i % step == 0 or i in keys or i in cands or i == 1]}


def spectrum(values: np.ndarray, key_freqs: Sequence[int], y_title: str, title: str = "", height: int = 220, log_y: bool = False,
             candidates: Sequence[int] = (), selected: Sequence[int] | None = None, select: str | None = None) -> alt.Chart:
    """A bar per frequency k = 1.. coloured by its kind (spectrum_layout). log_y for values
    spanning orders of magnitude (losses). `selected` outlines the bars of a chosen set (the
    ablation set); `select` names a point selection on k (click a bar: st.altair_chart's
    on_select returns it)."""
    lay = spectrum_layout(values, key_freqs, candidates, log_y)
    k, kind = lay["k"], lay["kind"]
    df = pd.DataFrame({"k": k, "value": lay["value"], "kind": kind})
    y, extra = alt.Y("value:Q", title=y_title), {}
    if log_y:
        lo = lay["floor"]
        df["bar"] = df["value"].clip(lower=lo)
        y = alt.Y("bar:Q", title=y_title, scale=alt.Scale(type="log", domainMin=lo), axis=alt.Axis(format=".0e"))
        extra["y2"] = alt.datum(lo)
    present = [n for n in FREQ_KINDS if n in set(kind)]
    tooltip = [alt.Tooltip("k:O", title="frequency k"), alt.Tooltip("value:Q", format=".3g", title=y_title), alt.Tooltip("kind:N", title="frequency")]
    if selected is not None:
        chosen = set(int(i) for i in selected)
        df["in set"] = ["yes" if i in chosen else "no" for i in k]
        extra["stroke"] = alt.condition(alt.datum["in set"] == "yes", alt.value("#000000"), alt.value(None))
        extra["strokeWidth"] = alt.condition(alt.datum["in set"] == "yes", alt.value(2), alt.value(0))
        tooltip.append(alt.Tooltip("in set:N", title="in the ablation set"))
    chart = alt.Chart(df).mark_bar(cursor="pointer" if select else "default").encode(
        x=alt.X("k:O", title="frequency k", axis=alt.Axis(labelAngle=0, values=lay["labelled"])),
        y=y, **extra,
        color=alt.Color("kind:N", scale=alt.Scale(domain=present, range=[FREQ_KINDS[n] for n in present]), legend=alt.Legend(title=None, orient="top", labelLimit=0)),
        tooltip=tooltip,
    ).properties(height=height, title=title)
    if select:
        chart = chart.add_params(alt.selection_point(name=select, fields=["k"], on="click", clear=False, toggle="false"))
    return fit_x(chart)


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


def votes_layout(votes: np.ndarray, ks: Sequence[int], answer: int, total: np.ndarray | None = None,
                 model_answer: int | None = None) -> dict:
    """What the votes chart shows, for any renderer: one series per frequency k (`votes` [K, p],
    each k's part of the logits over the output c, in its own colour), their sum, and a rule at
    the true answer, with a second one at the model's answer where it differs."""
    v = np.asarray(votes, dtype=float)  # [K, p]
    p = v.shape[1] if len(ks) else (len(total) if total is not None else 1)
    series = [{"name": str(int(k)), "colour": SERIES_COLORS[(i + 2) % len(SERIES_COLORS)], "values": [float(x) for x in v[i]]}
              for i, k in enumerate(ks)]
    marks = [{"c": int(answer), "label": f"true answer {int(answer)}", "colour": "#000000"}]
    if model_answer is not None and int(model_answer) != int(answer):
        marks.append({"c": int(model_answer), "label": f"model's answer {int(model_answer)}", "colour": palette.WRONG})
    return {"p": int(p), "series": series, "total": None if total is None else [float(x) for x in np.asarray(total, dtype=float)],
            "marks": marks}


def pair_logits_layout(model_c: np.ndarray, ideal: np.ndarray, sum_cos: np.ndarray, answer: int) -> dict:
    """The Circuit page's step 5 in votes_layout's shape: one pair's centred logits over the
    output c ([p]), the fitted ideal clock's and the unweighted sum of the key waves (dashed), the
    true answer marked; its legend and hover name the curves, not frequencies."""
    lines = (("model's logits (centred)", "#000000", model_c, None), ("ideal clock (fitted a_k)", palette.KEY, ideal, None),
             ("mean(a_k) · sum_k cos(w_k(x+y−c))", palette.OTHER, sum_cos, "5 3"))
    return {"p": int(len(model_c)), "legend": "", "prefix": "", "yTitle": "logit", "aria": "the pair's logits over the output c against the ideal clock",
            "series": [{"name": n, "colour": c, "values": [float(v) for v in np.asarray(vals, dtype=float)], "dash": dash}
                       for n, c, vals, dash in lines],
            "total": None, "marks": [{"c": int(answer), "label": f"true answer {int(answer)}", "colour": "#000000"}]}


def pruning_layout(n_pruned: Sequence[int], train_acc: Sequence[float], test_acc: Sequence[float], chosen: int) -> dict:
    """The Circuit page's pruning curve in votes_layout's shape: train and test accuracy over the
    precomputed numbers of pruned neurons (each point drawn at its number), and a rule at the point
    `chosen` (an index) that the page's slider picked."""
    return {"p": len(n_pruned), "legend": "", "prefix": "", "yTitle": "accuracy", "xTitle": "neurons pruned (least periodic first)",
            "xValues": [int(n) for n in n_pruned], "aria": "train and test accuracy against the number of neurons pruned",
            "series": [{"name": name, "colour": palette.SERIES[name], "values": [float(v) for v in vals]}
                       for name, vals in (("train", train_acc), ("test", test_acc))],
            "total": None, "marks": [{"c": int(chosen), "label": f"{int(n_pruned[chosen])} pruned", "colour": "#000000"}]}


CLOCK_POINTS = {"x": palette.POINT_X, "y": palette.POINT_Y, "angles of x and y added": palette.POINT_SUM, "model's answer": palette.POINT_ANSWER}
def clock_half_width(points) -> float:
    """The half-width of a clock's square axes for its points (dicts or rows with `cos`, `sin`):
    the unit ring and every point with room around it, rounded up to 0.05 so that the clocks of
    most questions share one scale (a point off the ring still shows where it is)."""
    far = max((max(abs(float(r["cos"])), abs(float(r["sin"]))) for r in points), default=0.0)
    m = max(1.35, far * 1.15)
    return float(np.ceil(m * 20 - 1e-9) / 20)


def clock_legend() -> dict[str, str]:
    """The clock's point names and colours, for a legend drawn once beside a row of clocks."""
    return dict(CLOCK_POINTS)


def number_circle(df: pd.DataFrame, size: int = 200, columns: int = 5, legend: bool = True) -> alt.FacetChart:
    """Numbers x placed at their embedding's coordinates in each key plane (`k`, `a`, `b`, `x`).
    legend=False drops the colour bar (a page drawing one chart per k wraps them in a row)."""
    pts = alt.Chart(df).mark_circle(size=40).encode(
        x=alt.X("a:Q", title="cos_k direction", axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y("b:Q", title="sin_k direction", axis=alt.Axis(labels=False, ticks=False)),
        color=alt.Color("x:Q", scale=alt.Scale(scheme="rainbow"), title="number x", legend=alt.Legend() if legend else None),
        tooltip=["k:N", "x:Q"],
    ).properties(width=size, height=size)
    return pts.facet(facet=alt.Facet("k:N", title="key frequency k"), columns=columns).resolve_scale(x="independent", y="independent")


def counts(d: dict, key_freqs: Sequence[int], title: str = "", height: int = 220) -> alt.Chart:
    """Neurons per frequency (bars), key frequencies highlighted (only those grok.verdict
    allows: pass none for a checkpoint without a clock); 'unclustered' as its own bar."""
    keys = set(int(k) for k in key_freqs)
    rows = [{"frequency": str(k), "neurons": n, "key": "key frequency" if k in keys else "other"} for k, n in d.items() if k != "unclustered"]
    if "unclustered" in d:
        rows.append({"frequency": "unclustered", "neurons": d["unclustered"], "key": "unclustered"})
    df = pd.DataFrame(rows, columns=["frequency", "neurons", "key"])
    colours = {"key frequency": palette.KEY, "other": palette.OTHER, "unclustered": palette.UNCLUSTERED}
    present = [n for n in colours if n in set(df["key"])]
    return fit_x(alt.Chart(df).mark_bar().encode(
        x=alt.X("frequency:N", sort=None, title="frequency k", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("neurons:Q", title="neurons", axis=alt.Axis(tickMinStep=1, format="d")),
        color=alt.Color("key:N", scale=alt.Scale(domain=present, range=[colours[n] for n in present]), legend=alt.Legend(title=None, orient="top", labelLimit=0)),
        tooltip=["frequency", "neurons"],
    ).properties(height=height, title=title))


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


OUTCOMES = palette.OUTCOMES


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
