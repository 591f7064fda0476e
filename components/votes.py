"""The Ask page's votes: each frequency's part of the logits over the output c, their sum and
the answers, drawn as SVG by one `st.components.v2` component.

Why not Vega: the chart changes on every ask, and a Vega view in the Ask fragment cost the
browser ~46 ms per question to settle (A/B on /ask, 30 asks each: 237 -> 191 ms p50 without
it, on a machine whose barest Streamlit round trip takes 122 ms; README "Speed"). Here an ask
rewrites a few <path> attributes. Hovering reads every line at one c (a crosshair with the
values of all frequencies, their sum and which answer sits there), which Vega's per-line
tooltip did not. What is drawn is grok.charts.votes_layout's, or any layout of lines over the
output c in its shape (the Circuit page's logits against the ideal clock: charts.pair_logits_layout),
or over x values of its own (the pruning curve's counts of pruned neurons: charts.pruning_layout).
"""
from __future__ import annotations

import streamlit as st

from components import plain
from components.svg import SVG_JS

_JS = SVG_JS + r"""

function draw(root, d) {
  const W = widthOf(root), H = d.height, L = 48, R = 10, T = 10, B = 38;
  const pw = W - L - R, ph = H - T - B, p = d.p;
  const all = [].concat(...d.series.map(s => s.values), d.total || []);
  let lo = Math.min(0, ...all), hi = Math.max(0, ...all);
  if (hi - lo < 1e-12) { lo -= 1; hi += 1; }
  const t = niceTicks(lo, hi, 8); lo = Math.min(lo, t.out[0]); hi = Math.max(hi, t.out[t.out.length - 1]);
  // x: point c at its value d.xValues[c] when given (the pruning curve's neurons pruned), else at c itself
  const xv = d.xValues, x0 = xv ? xv[0] : 0, x1 = xv ? xv[p - 1] : p - 1;
  const xs = (v) => L + pw * (v - x0) / Math.max(1e-12, x1 - x0), x = (c) => xs(xv ? xv[c] : c);
  const y = (v) => T + ph * (1 - (v - lo) / (hi - lo));
  const svg = root.querySelector('svg.vt-svg');
  svg.setAttribute('width', W); svg.setAttribute('height', H); svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const axis = el('g', {class: 'vt-axis'}, svg);
  for (const v of t.out) {
    el('line', {x1: L, x2: L + pw, y1: y(v), y2: y(v), class: v === 0 ? 'vt-zero' : 'vt-grid'}, axis);
    el('text', {x: L - 5, y: y(v) + 3.5, 'text-anchor': 'end'}, axis, fmt(v));
  }
  const xt = niceTicks(x0, x1, 10);
  for (const v of xt.out) el('text', {x: xs(v), y: T + ph + 14, 'text-anchor': 'middle'}, axis, v);
  el('text', {x: L + pw / 2, y: H - 4, 'text-anchor': 'middle', class: 'vt-title'}, axis, d.xTitle || 'output c');
  el('text', {transform: `translate(11,${T + ph / 2}) rotate(-90)`, 'text-anchor': 'middle', class: 'vt-title'}, axis, d.yTitle || 'logit contribution');
  const path = (vals) => vals.map((v, c) => (c ? 'L' : 'M') + x(c).toFixed(1) + ',' + y(v).toFixed(1)).join('');
  for (const s of d.series) {
    const line = el('path', {d: path(s.values), stroke: s.colour, class: 'vt-line'}, svg);
    if (s.dash) line.setAttribute('stroke-dasharray', s.dash);
  }
  if (d.total) el('path', {d: path(d.total), class: 'vt-total'}, svg);
  for (const m of d.marks) el('line', {x1: x(m.c), x2: x(m.c), y1: T, y2: T + ph, stroke: m.colour, class: 'vt-mark'}, svg);
  const cross = el('line', {y1: T, y2: T + ph, class: 'vt-cross', visibility: 'hidden'}, svg);
  el('rect', {x: L, y: T, width: pw, height: ph, class: 'vt-hit'}, svg);
  // the point nearest the pointer's x (pixels into the plot)
  const nearest = (px) => { if (!xv) return Math.round(px / pw * (p - 1));
    const v = x0 + px / pw * (x1 - x0); let b = 0; xv.forEach((u, i) => { if (Math.abs(u - v) < Math.abs(xv[b] - v)) b = i; }); return b; };
  root._geom = {L, pw, p, x, cross, nearest};
}

export default function(component) {
  const { parentElement } = component;
  const data = component.data[0];  // components.plain
  const [root, made] = mountOnce(parentElement, 'vt-root',
    '<div class="vt-legend"></div><div class="vt-plot"><svg class="vt-svg" role="img"></svg><div class="vt-tip"></div></div>', (r) => draw(r, r._data));
  if (made) hoverTip(root, root.querySelector('.vt-plot'), root.querySelector('.vt-tip'), (px, g, d) => {
    if (px < g.L - 4 || px > g.L + g.pw + 4) return null;
    const c = g.nearest(Math.min(g.pw, Math.max(0, px - g.L)));
    if (c < 0 || c >= g.p) return null;
    const pre = d.prefix === undefined ? 'k = ' : d.prefix;
    const lines = d.series.map(s => `<span style="color:${s.colour}">■</span> ${pre}${s.name}: ${fmt(s.values[c])}`);
    if (d.total) lines.push(`<b>sum: ${fmt(d.total[c])}</b>`);
    for (const m of d.marks) if (m.c === c) lines.push(m.label);
    return {x: g.x(c), html: (d.xValues ? `${d.xTitle}: ${d.xValues[c]}` : `c = ${c}`) + '<br>' + lines.join('<br>')};
  });
  root._data = data; root._w = Math.floor(root.clientWidth);
  const lt = data.legend === undefined ? 'frequency k' : data.legend;
  root.querySelector('.vt-legend').innerHTML = (data.series.length && lt ? `<span class="vt-lt">${lt}</span>` : '') +
    data.series.map(s => `<span><i style="background:${s.colour}"></i>${s.name}</span>`).join('') +
    (data.total ? '<span><i class="vt-ti"></i>sum</span>' : '') + data.marks.map(m => `<span><i class="vt-mi" style="border-color:${m.colour}"></i>${m.label}</span>`).join('');
  const said = data.marks.map(m => m.label).join(', ');
  root.querySelector('svg').setAttribute('aria-label', (data.aria || ('votes of ' + data.series.length + ' frequencies over the output c')) + '; ' + said);
  draw(root, data);
}
"""

_CSS = r"""
.vt-root { font-family: var(--st-font, sans-serif); color: var(--st-text-color, #31333f); width: 100%; }
.vt-legend { display: flex; flex-wrap: wrap; gap: 0.15rem 0.8rem; font-size: 0.8rem; margin-bottom: 0.2rem; align-items: center; }
.vt-legend i { display: inline-block; width: 0.8rem; height: 3px; margin-right: 0.3rem; vertical-align: middle; }
.vt-legend .vt-ti { height: 4px; background: currentColor; }
.vt-legend .vt-mi { height: 0; width: 0.9rem; border-top: 2px dashed; background: none; }
.vt-lt { opacity: 0.75; }
.vt-plot { position: relative; }
.vt-svg { display: block; overflow: visible; }
.vt-axis text { font-size: 10.5px; fill: currentColor; opacity: 0.75; }
.vt-axis .vt-title { font-size: 11px; opacity: 0.85; }
.vt-grid { stroke: currentColor; opacity: 0.1; } .vt-zero { stroke: currentColor; opacity: 0.35; }
.vt-line { fill: none; stroke-width: 1.5; } .vt-total { fill: none; stroke: currentColor; stroke-width: 3; }
.vt-mark { stroke-width: 2; stroke-dasharray: 4 3; } .vt-cross { stroke: currentColor; opacity: 0.35; }
.vt-hit { fill: transparent; }
.vt-tip { position: absolute; display: none; pointer-events: none; background: rgba(255,255,255,0.96); color: #000; border: 1px solid #999;
  padding: 3px 6px; font: 12px/1.35 sans-serif; white-space: nowrap; z-index: 10; border-radius: 3px; }
"""

_votes = st.components.v2.component("grok_votes", js=_JS, css=_CSS)


def votes_chart(key: str, layout: dict, height: int = 260) -> None:
    """Draw a grok.charts.votes_layout: the lines over the output c, their sum and the answers."""
    _votes(key=key, data=plain({**layout, "height": int(height)}), width="stretch")
