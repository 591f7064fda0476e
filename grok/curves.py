"""Training curves (loss, accuracy over steps, with phase bands and a step marker), in two
forms from the same rows: plain Vega-Lite dicts with their rows inline (`curves`: the Train
page), and the layout the SVG component draws (`layout`: Home, components/curves.py). No
Altair, pandas or numpy in either.

Why no Altair: Home is the first page every visitor sees, and its curves are its first chart.
Importing Altair (~0.25 s) and building the layered chart with it (~0.2 s) cost a third of the
first paint on a 2-core host. Streamlit keeps data that sits inside a layer
(`layer[i].data.values`) in the spec's JSON instead of converting it to Arrow, so the dicts reach
the browser without pandas or pyarrow being imported either (measured: a 38 ms script against
0.36 s for the same chart given as a DataFrame); Home then dropped Vega altogether (`layout`
says why). Tests check the dicts validate against Altair's Vega-Lite schema.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from . import palette

PHASE_COLORS = {
    "memorisation": "#fde2e4", "circuit formation": "#fff1c1", "clean-up": "#d8f3dc",
    "converged": "#dbeafe", "late test-loss rise": "#ede4f5", "no generalisation": "#eeeeee",
}
SERIES_COLORS = list(palette.SERIES.values()) + ["#56B4E9", "#F0E442", "#999999"]  # Okabe-Ito order
FIT_X = {"type": "fit-x", "contains": "padding"}  # stretch to the column, keep the plot's height


def long_rows(rows: Iterable[Mapping], names: Mapping[str, str], run: str | None = None) -> list[dict]:
    """Metrics rows (metrics.jsonl, or a live job's rows) and {key: label} -> one row per
    (step, series): {"step", "value", "series"[, "run"]}. Rows without a key (or with None)
    are skipped for that series only."""
    rows = list(rows)
    out = []
    for k, label in names.items():
        for r in rows:
            v = r.get(k)
            if v is not None:
                out.append({"step": int(r["step"]), "value": float(v), "series": label, **({"run": run} if run is not None else {})})
    return out


def phase_order(present) -> list[str]:
    """The phase names present, in the canonical order (unknown ones last, sorted): the legend's."""
    return [n for n in PHASE_COLORS if n in present] + sorted(n for n in present if n not in PHASE_COLORS)


def series_colours(names: Sequence[str]) -> list[str]:
    """Each series' colour: its palette.SERIES colour where it has one (train, test, ... keep
    theirs on every page), else the Okabe-Ito colour of its position."""
    return [palette.SERIES.get(n, SERIES_COLORS[i % len(SERIES_COLORS)]) for i, n in enumerate(names)]


def phase_layer(phases: Sequence, log_x: bool = True) -> dict | None:
    """Background rectangles, one per phase (objects with name, start, end); the legend lists
    only the phases present, in the canonical order, without truncating their names."""
    if not phases:
        return None
    lo = 1 if log_x else 0
    values = [{"phase": p.name, "start": max(p.start, lo), "end": max(p.end, lo)} for p in phases]
    names = phase_order({v["phase"] for v in values})
    return {
        "data": {"values": values}, "mark": {"type": "rect", "opacity": 0.55},
        "encoding": {
            "x": {"field": "start", "type": "quantitative"}, "x2": {"field": "end"},
            "color": {"field": "phase", "type": "nominal",
                      "scale": {"domain": names, "range": [PHASE_COLORS.get(n, "#eeeeee") for n in names]},
                      "legend": {"title": "phase", "orient": "bottom", "direction": "horizontal", "labelLimit": 0, "columns": 2}},
            "tooltip": [{"field": "phase", "type": "nominal"}, {"field": "start", "type": "quantitative"},
                        {"field": "end", "type": "quantitative"}],
        },
    }


def curves(rows: Sequence[Mapping], y_title: str, log_y: bool = True, phases=None, marker: int | None = None,
           height: int = 280, dash_field: str | None = None, title: str = "", log_x: bool = True,
           x_max: int | None = None) -> dict:
    """Lines of `value` over `step` per `series` (rows from long_rows). The step axis is log
    (step 0 drawn at 1) or linear (log_x=False: the long wait of grokking at its real length),
    and ends at the run's last step (x_max, default the data's last step), never at a rounder
    one. Series named in palette.SERIES keep their colour on every page; `dash_field` ("run")
    dashes a second run's lines. On a log y axis values <= 0 are dropped (they have no place)."""
    last = int(x_max if x_max is not None else max((r["step"] for r in rows), default=1))
    values = [{**r, "step1": max(r["step"], 1) if log_x else r["step"]} for r in rows if not (log_y and r["value"] <= 0)]
    names = list(dict.fromkeys(r["series"] for r in rows))
    color = {"field": "series", "type": "nominal", "title": None,
             "legend": {"orient": "top", "labelLimit": 0, "columns": 2 if dash_field else 4}}
    if any(n in palette.SERIES for n in names):
        color["scale"] = {"domain": names, "range": series_colours(names)}
    x_scale = ({"type": "log", "domain": [1, max(last, 2)], "nice": False} if log_x else {"domain": [0, max(last, 1)], "nice": False})
    enc = {
        "x": {"field": "step1", "type": "quantitative", "title": "step (log)" if log_x else "step", "scale": x_scale,
              "axis": {"format": "~s", "tickCount": 5}},
        "y": {"field": "value", "type": "quantitative", "title": y_title,
              **({"scale": {"type": "log"}, "axis": {"format": "~e", "tickCount": 6}} if log_y else {"scale": {"zero": False}})},
        "color": color,
        "tooltip": [{"field": "step", "type": "quantitative"}, {"field": "series", "type": "nominal"},
                    {"field": "value", "type": "quantitative", "format": ".3g"}],
    }
    if dash_field:
        enc["strokeDash"] = {"field": dash_field, "type": "nominal", "title": None,
                             "legend": {"orient": "top", "labelLimit": 0, "columns": 1}}
    bands = phase_layer(phases, log_x)
    layers = [bands] if bands is not None else []
    layers.append({"data": {"values": values}, "mark": {"type": "line", "strokeWidth": 2, "clip": True}, "encoding": enc})
    if marker is not None:
        layers.append({"data": {"values": [{"step1": max(marker, 1) if log_x else marker}]},
                       "mark": {"type": "rule", "color": "black", "strokeWidth": 2},
                       "encoding": {"x": {"field": "step1", "type": "quantitative"}}})
    spec = {"layer": layers, "height": height, "autosize": dict(FIT_X), "resolve": {"scale": {"color": "independent"}}}
    if title:
        spec["title"] = title
    return spec


def _decade(v: float, up: bool) -> float:
    import math

    e = math.log10(v)
    return 10.0 ** (math.ceil(e - 1e-9) if up else math.floor(e + 1e-9))


def layout(rows: Sequence[Mapping], y_title: str, log_y: bool = True, phases=None, marker: int | None = None,
           dash_field: str | None = None, title: str = "", log_x: bool = True, x_max: int | None = None) -> dict:
    """The same curves as `curves`, as what the SVG component (components/curves.py) draws: per
    (series, run) line its colour, dash and [step, value] points sorted by step (step 0 drawn at
    the log axis' 1); the axes' domains
    (x ends at the run's last step; a log y spans whole decades, a linear one the values' range);
    the phase bands in legend order; the marker. Why a second form: Home's first chart as Vega
    made the browser load and start Vega (~1.4 s of a 2-core machine's first paint); the SVG
    component draws the same lines at once (README, "Speed")."""
    last = int(x_max if x_max is not None else max((r["step"] for r in rows), default=1))
    lo_x = 1 if log_x else 0
    names = list(dict.fromkeys(r["series"] for r in rows))
    colour = dict(zip(names, series_colours(names)))
    runs = list(dict.fromkeys(r.get(dash_field) for r in rows)) if dash_field else [None]
    series = []
    for run in runs:
        for n in names:
            pts = sorted((r["step"], r["value"]) for r in rows
                         if r["series"] == n and (not dash_field or r.get(dash_field) == run) and not (log_y and r["value"] <= 0))
            if pts:
                series.append({"name": n, "run": run, "colour": colour[n], "dash": bool(dash_field) and run != runs[0],
                               "points": [[int(x), float(y)] for x, y in pts]})
    ys = [p[1] for s in series for p in s["points"]]
    if not ys:
        y_dom = [1e-3, 1.0] if log_y else [0.0, 1.0]
    elif log_y:
        y_dom = [_decade(min(ys), False), _decade(max(ys), True)]
    else:
        y_dom = [min(ys), max(ys)] if max(ys) > min(ys) else [min(ys) - 1, max(ys) + 1]
    bands, legend = [], []
    if phases:
        legend = [{"name": n, "colour": PHASE_COLORS.get(n, "#eeeeee")} for n in phase_order({p.name for p in phases})]
        bands = [{"phase": p.name, "start": max(p.start, lo_x), "end": min(max(p.end, lo_x), last), "colour": PHASE_COLORS.get(p.name, "#eeeeee")}
                 for p in phases]
    return {"title": title, "x_title": "step (log)" if log_x else "step", "y_title": y_title, "log_x": log_x, "log_y": log_y,
            "x_domain": [lo_x, max(last, lo_x + 1)], "y_domain": y_dom, "series": series, "bands": bands, "phases": legend,
            "runs": [r for r in runs if r is not None], "marker": None if marker is None else max(int(marker), lo_x)}
