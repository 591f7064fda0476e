"""The numbers 0..p-1 in each frequency's plane of W_E, one small SVG per frequency, all drawn by
one `st.components.v2` component: the Circuit page's first step (x and y marked on each circle)
and the Neurons page's circles (each number coloured by its value).

Why not a Vega chart per frequency: each plane is p dots, yet each was a Vega view of its own,
and a page view mounted one per frequency (three on the Circuit page, three more on Neurons):
a Vega view costs the browser ~30-45 ms to mount even this small (README, "Speed"). Here the
browser builds a few hundred SVG circles once and, when only x or y changes, moves two classes.
A hover names each number (an SVG <title>), as Vega's tooltip did; the row wraps on a phone.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import streamlit as st

from components import plain
from components.svg import SVG_JS
from grok import palette

_JS = SVG_JS + r"""
// one plane: a faint cross through the origin (cos to the right, sin up), the numbers as dots
function plane(S, d, colour) {
  const svg = el('svg', {width: S, height: S + 18, role: 'img', class: 'nc'});
  el('text', {x: S / 2, y: 13, 'text-anchor': 'middle', class: 'nc-title'}, svg, 'k = ' + d.k);
  const g = el('g', {transform: `translate(${S / 2},${S / 2 + 18})`}, svg);
  let m = 0; for (const [a, b] of d.pts) m = Math.max(m, Math.abs(a), Math.abs(b));
  const u = (S / 2 - 8) / (m || 1);  // pixels per unit: the farthest number sits 8 px inside the edge
  el('line', {x1: -S / 2, x2: S / 2, y1: 0, y2: 0, class: 'nc-axis'}, g);
  el('line', {x1: 0, x2: 0, y1: -S / 2, y2: S / 2, class: 'nc-axis'}, g);
  const dots = d.pts.map(([a, b], n) => {
    const c = el('circle', {cx: (a * u).toFixed(2), cy: (-b * u).toFixed(2), r: 2.6, fill: colour(n), class: 'nc-dot'}, g);
    el('title', {}, c, 'number ' + n);
    return c;
  });
  return {svg, g, dots};
}

export default function(component) {
  const { parentElement } = component;
  const d = component.data[0];  // components.plain
  let root = parentElement.querySelector('.nc-root');
  if (!root) { root = document.createElement('div'); root.className = 'nc-root'; parentElement.appendChild(root); }
  const p = d.planes.length ? d.planes[0].pts.length : 0;
  const colour = d.byValue ? (n) => `hsl(${Math.round(280 * n / Math.max(1, p - 1))},75%,48%)` : () => d.other;
  const shape = JSON.stringify([d.size, d.byValue, d.planes]);
  if (root._shape !== shape) {  // a new picture: build every plane again; a new x or y only moves two marks
    root._shape = shape;
    root.replaceChildren();
    root._planes = d.planes.map(pl => { const P = plane(d.size, pl, colour); root.appendChild(P.svg); return P; });
  }
  const marks = Object.entries(d.marks || {});  // [[name, number]]: x, y
  root._planes.forEach((P, i) => {
    P.dots.forEach((c, n) => { c.setAttribute('r', 2.6); c.setAttribute('fill', colour(n)); c.removeAttribute('data-mark'); });
    for (const [name, n] of marks) {
      const c = P.dots[n]; if (!c) continue;
      c.setAttribute('r', 6); c.setAttribute('fill', d.colours[name]); c.setAttribute('data-mark', name);
      P.g.appendChild(c);  // drawn last: on top of the others
    }
    P.svg.setAttribute('aria-label', `numbers in the plane of k = ${d.planes[i].k}` +
      marks.map(([name, n]) => `; ${name} = ${n} at angle ${d.planes[i].deg[n]}°`).join(''));
  });
}
"""

_CSS = r"""
.nc-root { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; font-family: var(--st-font, sans-serif); color: var(--st-text-color, #31333f); }
.nc { overflow: visible; }
.nc-title { font-size: 12px; font-weight: 600; fill: currentColor; }
.nc-axis { stroke: currentColor; opacity: 0.15; }
.nc-dot { stroke: none; }
"""

_circles = st.components.v2.component("grok_circles", js=_JS, css=_CSS)


def number_circles(key: str, coords: np.ndarray, ks: Sequence[int], *, x: int | None = None, y: int | None = None,
                   size: int = 150) -> None:
    """coords [K, p, 2]: each number's embedding along cos / sin of frequency ks[i]. With x and y
    those two are marked (blue, green) and the rest grey; without them every number is coloured by
    its value (red 0 ... violet p-1)."""
    c = np.asarray(coords, dtype=float)  # [K, p, 2]
    deg = np.degrees(np.mod(np.arctan2(c[..., 1], c[..., 0]), 2 * np.pi))  # [K, p] angle of each number, for the aria-label
    marks = {name: int(v) for name, v in (("x", x), ("y", y)) if v is not None}
    _circles(key=key, data=plain({
        "size": int(size), "byValue": not marks, "marks": marks, "other": palette.OTHER,
        "colours": {"x": palette.POINT_X, "y": palette.POINT_Y},
        "planes": [{"k": int(k), "pts": [[round(float(a), 4), round(float(b), 4)] for a, b in c[i]],
                    "deg": [round(float(v), 1) for v in deg[i]]} for i, k in enumerate(ks)]}), width="stretch")
