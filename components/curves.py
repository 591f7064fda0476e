"""Training curves (loss or accuracy over steps, phase bands, a marker, a second run dashed)
drawn as SVG by one `st.components.v2` component: Home's charts.

Why not Vega: Home is the page every visitor sees first, and a Vega chart there made the
browser fetch and start Vega before it drew anything: the barest Streamlit app with one Vega
line chart painted 1.4 s later than without it on a 2-core machine (README, "Speed"). This
draws grok.curves.layout's lines at once. Hovering reads every line at one step (a crosshair
with each series' value at its nearest logged step and the phase there), which Vega's
per-point tooltip did not.
"""
from __future__ import annotations

import streamlit as st

from components import plain
from components.svg import SVG_JS

_JS = SVG_JS + r"""
let NEXT = 0;
const SI = ['', 'k', 'M', 'G'];
const stepFmt = (v) => { let i = 0; while (Math.abs(v) >= 1000 && i < 3) { v /= 1000; i++; } return Number(v.toPrecision(3)) + SI[i]; };
const expFmt = (v) => { const e = Math.round(Math.log10(v)); return '1e' + (e >= 0 ? '+' : '') + e; };
// scale: [lo, hi] data -> [a, b] px, log or linear; inverse for the crosshair
function scale(dom, rng, log) {
  const f = log ? Math.log10 : (v) => v, [l, h] = dom.map(f);
  const s = (v) => rng[0] + (rng[1] - rng[0]) * (f(v) - l) / ((h - l) || 1);
  s.inv = (px) => { const t = l + (px - rng[0]) / ((rng[1] - rng[0]) || 1) * (h - l); return log ? 10 ** t : t; };
  return s;
}
function decades(lo, hi, most) {  // powers of ten in [lo, hi], every k-th so at most `most`
  const a = Math.ceil(Math.log10(lo) - 1e-9), b = Math.floor(Math.log10(hi) + 1e-9), k = Math.max(1, Math.ceil((b - a + 1) / most));
  const out = []; for (let e = a; e <= b; e += k) out.push(10 ** e); return out;
}
function nearest(pts, step) {  // index of the point whose step is nearest
  let lo = 0, hi = pts.length - 1;
  while (hi - lo > 1) { const m = (lo + hi) >> 1; if (pts[m][0] < step) lo = m; else hi = m; }
  return Math.abs(pts[lo][0] - step) <= Math.abs(pts[hi][0] - step) ? lo : hi;
}

function draw(root, d) {
  const W = widthOf(root), H = d.height, L = 54, R = 12, T = 8, B = 36;
  const pw = W - L - R, ph = H - T - B, x0 = d.x_domain[0];
  const x = scale(d.x_domain, [L, L + pw], d.log_x), y = scale(d.y_domain, [T + ph, T], d.log_y);
  const svg = root.querySelector('svg.cv-svg');
  svg.setAttribute('width', W); svg.setAttribute('height', H); svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const id = 'cv-clip-' + (root._id || (root._id = ++NEXT));
  el('rect', {x: L, y: T - 2, width: pw, height: ph + 4}, el('clipPath', {id}, el('defs', {}, svg)));  // a line at the top or bottom stays whole
  const plot = el('g', {'clip-path': `url(#${id})`}, svg);
  for (const b of d.bands) {
    const a = x(Math.max(b.start, x0)), e = x(Math.max(b.end, x0));
    if (e > a) el('rect', {x: a, y: T, width: e - a, height: ph, fill: b.colour, class: 'cv-band'}, plot);
  }
  const axis = el('g', {class: 'cv-axis'}, svg);
  const yt = d.log_y ? decades(d.y_domain[0], d.y_domain[1], 6) : niceTicks(d.y_domain[0], d.y_domain[1], 5).out;
  for (const v of yt) {
    el('line', {x1: L, x2: L + pw, y1: y(v), y2: y(v), class: 'cv-grid'}, axis);
    el('text', {x: L - 5, y: y(v) + 3.5, 'text-anchor': 'end'}, axis, d.log_y ? expFmt(v) : fmt(v));
  }
  const xt = d.log_x ? decades(d.x_domain[0], d.x_domain[1], 8) : niceTicks(d.x_domain[0], d.x_domain[1], 5).out;
  for (const v of xt) {
    el('line', {x1: x(v), x2: x(v), y1: T, y2: T + ph, class: 'cv-grid'}, axis);
    el('text', {x: x(v), y: T + ph + 14, 'text-anchor': 'middle'}, axis, stepFmt(v));
  }
  el('line', {x1: L, x2: L + pw, y1: T + ph, y2: T + ph, class: 'cv-base'}, axis);
  el('text', {x: L + pw / 2, y: H - 4, 'text-anchor': 'middle', class: 'cv-title'}, axis, d.x_title);
  el('text', {transform: `translate(11,${T + ph / 2}) rotate(-90)`, 'text-anchor': 'middle', class: 'cv-title'}, axis, d.y_title);
  for (const s of d.series) {
    const path = s.points.map((p, i) => (i ? 'L' : 'M') + x(Math.max(p[0], x0)).toFixed(1) + ',' + y(p[1]).toFixed(1)).join('');
    el('path', {d: path, stroke: s.colour, class: 'cv-line' + (s.dash ? ' cv-dash' : '')}, plot);
  }
  if (d.marker !== null && d.marker !== undefined) el('line', {x1: x(d.marker), x2: x(d.marker), y1: T, y2: T + ph, class: 'cv-marker'}, svg);
  const cross = el('line', {y1: T, y2: T + ph, class: 'cv-cross', visibility: 'hidden'}, svg);
  el('rect', {x: L, y: T, width: pw, height: ph, class: 'cv-hit'}, svg);
  root._geom = {L, pw, x, cross};
}

export default function(component) {
  const { parentElement } = component;
  const data = component.data[0];  // components.plain
  const [root, made] = mountOnce(parentElement, 'cv-root',
    '<div class="cv-head"></div><div class="cv-plot"><svg class="cv-svg" role="img"></svg><div class="cv-tip"></div></div><div class="cv-phases"></div>',
    (r) => draw(r, r._data));
  if (made) hoverTip(root, root.querySelector('.cv-plot'), root.querySelector('.cv-tip'), (px, g, d) => {
    if (!d.series.length || px < g.L || px > g.L + g.pw) return null;
    const step = g.x.inv(px);
    const at = d.series.map(s => s.points[nearest(s.points, step)]);
    const shown = at[0][0];
    const band = d.bands.find(p => p.start <= shown && shown <= p.end);
    const rows = d.series.map((s, i) => `<span style="color:${s.colour}">${s.dash ? '┅' : '━'}</span> ${s.name}${d.runs.length > 1 ? ' (' + s.run + ')' : ''}: ` +
      `${fmt(at[i][1])}${at[i][0] !== shown ? ' <small>at step ' + at[i][0].toLocaleString('en-US') + '</small>' : ''}`);
    return {x: g.x(Math.max(shown, d.x_domain[0])),
            html: `step ${shown.toLocaleString('en-US')}` + (band ? ` <small>(${band.phase})</small>` : '') + '<br>' + rows.join('<br>')};
  });
  root._data = data; root._w = Math.floor(root.clientWidth);
  const names = [...new Map(data.series.map(s => [s.name, s.colour])).entries()];
  root.querySelector('.cv-head').innerHTML = (data.title ? `<b class="cv-t">${data.title}</b>` : '') +
    names.map(([n, c]) => `<span><i style="background:${c}"></i>${n}</span>`).join('') +
    (data.runs.length > 1 ? data.runs.map((r, i) => `<span><i class="${i ? 'cv-di' : 'cv-si'}"></i>${r}</span>`).join('') : '');
  root.querySelector('.cv-phases').innerHTML = data.phases.length ? '<span class="cv-pt">phase</span>' +
    data.phases.map(p => `<span><i style="background:${p.colour}"></i>${p.name}</span>`).join('') : '';
  root.querySelector('svg').setAttribute('aria-label', `${data.title || data.y_title} over ${data.x_title}: ` +
    data.series.map(s => `${s.name}${data.runs.length > 1 ? ' (' + s.run + ')' : ''} ends at ${fmt(s.points[s.points.length - 1][1])}`).join(', '));
  draw(root, data);
}
"""

_CSS = r"""
.cv-root { font-family: var(--st-font, sans-serif); color: var(--st-text-color, #31333f); width: 100%; }
.cv-head, .cv-phases { display: flex; flex-wrap: wrap; gap: 0.15rem 0.8rem; font-size: 0.8rem; align-items: center; }
.cv-head { margin-bottom: 0.25rem; } .cv-phases { margin-top: 0.1rem; }
.cv-head .cv-t { font-size: 0.95rem; margin-right: 0.4rem; }
.cv-head i { display: inline-block; width: 0.9rem; height: 3px; margin-right: 0.3rem; vertical-align: middle; }
.cv-head .cv-si { height: 0; background: none; border-top: 2px solid currentColor; }
.cv-head .cv-di { height: 0; background: none; border-top: 2px dashed currentColor; }
.cv-phases i { display: inline-block; width: 0.8rem; height: 0.8rem; margin-right: 0.3rem; vertical-align: -2px; border-radius: 2px; }
.cv-pt { opacity: 0.75; }
.cv-plot { position: relative; }
.cv-svg { display: block; overflow: visible; }
.cv-axis text { font-size: 10.5px; fill: currentColor; opacity: 0.75; }
.cv-axis .cv-title { font-size: 11px; opacity: 0.85; }
.cv-grid { stroke: currentColor; opacity: 0.08; } .cv-base { stroke: currentColor; opacity: 0.35; }
.cv-band { opacity: 0.55; }
.cv-line { fill: none; stroke-width: 2; } .cv-dash { stroke-dasharray: 6 4; }
.cv-marker { stroke: currentColor; stroke-width: 2; } .cv-cross { stroke: currentColor; opacity: 0.35; }
.cv-hit { fill: transparent; }
.cv-tip { position: absolute; display: none; pointer-events: none; background: rgba(255,255,255,0.96); color: #000; border: 1px solid #999;
  padding: 3px 6px; font: 12px/1.35 sans-serif; white-space: nowrap; z-index: 10; border-radius: 3px; }
"""

_curves = st.components.v2.component("grok_curves", js=_JS, css=_CSS)


def curves_chart(key: str, layout: dict, height: int = 260) -> None:
    """Draw a grok.curves.layout: the lines over the step axis, the phase bands, the marker."""
    _curves(key=key, data=plain({**layout, "height": int(height)}), width="stretch")
