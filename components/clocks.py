"""The Ask page's clocks, one small SVG per frequency, all drawn by one `st.components.v2`
component.

Why not a Vega chart per frequency: each clock holds four points and a ring, yet each was a
Vega view of its own, re-embedded with new data on every ask: five views of React, Vega's
dataflow and SVG scenegraph per question. Measured on /ask (20 asks each, alternating, README
"Speed"): without the five views an ask settled 65 ms sooner (272 -> 207 ms p50) on a machine
whose barest Streamlit round trip takes 122 ms. Here the browser sets the attributes of a few
SVG shapes it already has. A hover names each point (an SVG <title>), as Vega's tooltip did;
the row wraps onto more lines on a narrow screen, as the row of charts did.
"""
from __future__ import annotations

from typing import Sequence

import streamlit as st

from components import plain
from components.svg import SVG_JS
from grok import charts

_JS = SVG_JS + r"""
// one clock's drawing: the unit ring, the added-angles ring marker, then x, y, the answer and their labels
function clock(S) {
  const svg = el('svg', {width: S, height: S + 18, role: 'img', class: 'ck'});
  const t = el('text', {x: S / 2, y: 13, 'text-anchor': 'middle', class: 'ck-title'}, svg);
  const g = el('g', {transform: `translate(${S / 2},${S / 2 + 18})`}, svg);
  const ring = el('circle', {class: 'ck-ring', cx: 0, cy: 0}, g);
  const marks = {};
  for (const name of ['sum', 'x', 'y', 'answer']) {
    const m = el('g', {class: 'ck-' + name}, g);
    const shape = name === 'sum' ? el('circle', {r: 10, fill: 'none', 'stroke-width': 2}, m)
      : name === 'x' ? el('circle', {r: 5.5}, m)
      : name === 'y' ? el('rect', {x: -5, y: -5, width: 10, height: 10}, m)
      : el('path', {d: 'M0,-7L7,0L0,7L-7,0Z'}, m);
    const label = el('text', {'text-anchor': 'middle', y: -12, class: 'ck-label'}, m);
    const tip = el('title', {}, m);
    marks[name] = {m, shape, label, tip};
  }
  return {svg, t, ring, marks};
}
const KIND = {"x": "x", "y": "y", "angles of x and y added": "sum", "model's answer": "answer"};

export default function(component) {
  const { parentElement } = component;
  const data = component.data[0];  // components.plain
  let root = parentElement.querySelector('.ck-root');
  if (!root || root._size !== data.size) {
    if (root) root.remove();
    root = document.createElement('div');
    root.className = 'ck-root';
    root._size = data.size; root._clocks = [];
    parentElement.appendChild(root);
  }
  const S = data.size;
  while (root._clocks.length < data.clocks.length) { const c = clock(S); root.appendChild(c.svg); root._clocks.push(c); }
  while (root._clocks.length > data.clocks.length) root._clocks.pop().svg.remove();
  data.clocks.forEach((d, i) => {
    const c = root._clocks[i], u = (S / 2) / d.m;  // pixels per unit: the axes run from -m to m
    c.t.textContent = 'k = ' + d.k;
    c.ring.setAttribute('r', u);
    const said = [];
    for (const name of Object.values(KIND)) c.marks[name].m.style.display = 'none';
    for (const p of d.points) {
      const k = KIND[p.point];
      if (!k) continue;
      const mk = c.marks[k];
      mk.m.style.display = '';
      mk.m.setAttribute('transform', `translate(${(p.cos * u).toFixed(2)},${(-p.sin * u).toFixed(2)})`);
      mk.label.textContent = p.value;
      mk.tip.textContent = p.point + (p.value !== '' ? ' ' + p.value : '') + ': angle ' + p.degrees + '°';
      said.push(p.point + (p.value !== '' ? ' ' + p.value : '') + ' at ' + p.degrees + '°');
    }
    c.svg.setAttribute('aria-label', 'clock at k = ' + d.k + ': ' + said.join(', '));
  });
}
"""

_CSS = r"""
/* Text follows the theme (Streamlit's --st-* properties); the points keep grok.palette's colours, the added-angles
   ring the text colour (black on the light theme, as on every other chart of it). */
.ck-root { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; font-family: var(--st-font, sans-serif); color: var(--st-text-color, #31333f); }
.ck { overflow: visible; }
.ck-title { font-size: 12px; font-weight: 600; fill: currentColor; }
.ck-ring { fill: none; stroke: #bbbbbb; stroke-width: 1.2; }
.ck-label { font-size: 11px; }
.ck-x { fill: POINT_X; opacity: 0.9; } .ck-y { fill: POINT_Y; opacity: 0.9; } .ck-answer { fill: POINT_ANSWER; opacity: 0.9; }
.ck-sum { stroke: var(--st-text-color, POINT_SUM); } .ck-sum .ck-label { display: none; }
.ck g > text { stroke: none; }
"""

_COLOURS = {"POINT_X": "x", "POINT_Y": "y", "POINT_ANSWER": "model's answer", "POINT_SUM": "angles of x and y added"}
for _name, _point in _COLOURS.items():
    _CSS = _CSS.replace(_name, charts.CLOCK_POINTS[_point])

_clocks = st.components.v2.component("grok_clocks", js=_JS, css=_CSS)


def clocks(key: str, points: Sequence[dict], ks: Sequence[int], size: int = 130) -> None:
    """One clock per frequency of `ks`, from grok.query_view.clock_points rows (k, point,
    value, cos, sin, degrees). Each clock's axes run over charts.clock_half_width of its points."""
    by_k = {int(k): [r for r in points if int(r["k"]) == int(k)] for k in ks}
    _clocks(key=key, data=plain({"size": int(size), "clocks": [
        {"k": k, "m": charts.clock_half_width(rows),
         "points": [{n: (float(r[n]) if n in ("cos", "sin", "degrees") else str(r[n])) for n in ("point", "value", "cos", "sin", "degrees")}
                    for r in rows]} for k, rows in by_k.items()]}), width="stretch")
