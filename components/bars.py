"""A clickable per-frequency bar chart drawn as SVG by one `st.components.v2` component: the
Frequency ablations page's excluded loss per frequency, whose bars toggle the ablation set.

Why not Vega: the chart sits in the fragment that every toggle of the set reruns, to outline the
bars of the set, and a Vega chart there cost the browser ~45 ms per toggle even when neither its
spec nor its data had changed (A/B on /ablations, 30 toggles each: 250 -> 202 ms p50 to settle
without it, on a machine whose barest Streamlit round trip takes 122 ms; README "Speed"). Here
an unchanged chart is not redrawn and a changed set only restyles the outlined bars. The
layout (kinds, log floor, labelled k) is grok.charts.spectrum_layout's, the Vega spectrum's own,
so both renderers show the same thing. A hover names the bar (an SVG <title>); a click reports
its k to Python once (a trigger value). Without a click handler it is a plain per-frequency bar
chart (the Neurons page's W_L spectrum, the Circuit page's heads), one less Vega view to mount.
"""
from __future__ import annotations

from typing import Callable, Sequence

import streamlit as st

from components import plain
from components.svg import SVG_JS
from grok import charts

_JS = SVG_JS + r"""
const sci = (v) => { const e = Math.round(Math.log10(v)); return e === 0 ? '1' : '1e' + (e < 0 ? '−' + (-e) : e); };

function draw(root, d) {
  const W = widthOf(root), H = d.height;
  const L = 56, R = 8, T = 8, B = 36, pw = W - L - R, ph = H - T - B, n = d.value.length;
  const svg = root.querySelector('svg.bk-svg');
  svg.setAttribute('width', W); svg.setAttribute('height', H); svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const top = Math.max(...d.value, d.floor || 0) || 1;
  let y, ticks;
  if (d.floor) {  // log axis from the floor's decade to the decade above the largest value
    const a = Math.log10(d.floor), b = Math.max(Math.ceil(Math.log10(top) + 1e-9), a + 1);
    y = (v) => T + ph * (1 - (Math.log10(Math.max(v, d.floor)) - a) / (b - a));
    ticks = []; for (let e = a; e <= b + 1e-9; e++) ticks.push(10 ** e);
  } else {
    const hi = top * 1.05;
    y = (v) => T + ph * (1 - Math.max(v, 0) / hi);
    ticks = niceTicks(0, hi, 5).out;
  }
  const axis = el('g', {class: 'bk-axis'}, svg);
  for (const t of ticks) {
    el('line', {x1: L, x2: L + pw, y1: y(t), y2: y(t), class: 'bk-grid'}, axis);
    el('text', {x: L - 5, y: y(t) + 3.5, 'text-anchor': 'end'}, axis, d.floor ? sci(t) : fmt(t));
  }
  el('text', {transform: `translate(12,${T + ph / 2}) rotate(-90)`, 'text-anchor': 'middle', class: 'bk-title'}, axis, d.yTitle);
  el('text', {x: L + pw / 2, y: H - 4, 'text-anchor': 'middle', class: 'bk-title'}, axis, 'frequency k');
  const bw = pw / n, base = y(d.floor || 0), labelled = d.labelled;
  const bars = el('g', {}, svg);
  root._bars = [];
  d.value.forEach((v, i) => {
    const k = d.k[i], top = y(v);
    const g = el('g', {class: 'bk-bar', 'data-k': k}, bars);
    el('rect', {x: L + i * bw, y: T, width: bw, height: ph, class: 'bk-hit'}, g);  // the whole column clicks
    const r = el('rect', {x: L + i * bw + Math.min(1, bw * 0.15), y: top, width: Math.max(1, bw - 2 * Math.min(1, bw * 0.15)),
                          height: Math.max(0.5, base - top), fill: d.colours[d.kind[i]]}, g);
    const tip = el('title', {}, g);
    root._bars.push({k, r, tip, text: `k = ${k} (${d.kind[i]}): ${d.yTitle} ${fmt(v)}`});
  });
  // axis labels: key / candidate frequencies first, then the regular ones where they do not crowd them (a phone's width)
  const order = [...labelled].sort((a, b) => (d.kind[b - 1] !== 'other') - (d.kind[a - 1] !== 'other'));
  const placed = [];
  for (const k of order) {
    const x = L + (k - 0.5) * bw, w = 6.5 * String(k).length + 5;
    if (placed.some(([px, pw]) => Math.abs(px - x) < (pw + w) / 2)) continue;
    placed.push([x, w]);
    el('text', {x, y: T + ph + 13, 'text-anchor': 'middle'}, axis, k);
  }
  el('line', {x1: L, x2: L + pw, y1: T + ph, y2: T + ph, class: 'bk-base'}, axis);
}

function outline(root, selected, clickable) {
  const set = new Set(selected);
  for (const b of root._bars || []) {
    const on = set.has(b.k);
    b.r.classList.toggle('bk-on', on);
    b.tip.textContent = b.text + (!clickable ? '' : on ? '; in the ablation set: click to take it out' : '; click to add it to the ablation set');
  }
}

export default function(component) {
  const { setTriggerValue, parentElement } = component;
  const data = component.data[0];  // components.plain
  const [root] = mountOnce(parentElement, 'bk-root',
    '<div class="bk-head"><span class="bk-name"></span><span class="bk-legend"></span></div><svg class="bk-svg" role="img"></svg>',
    (r) => { draw(r, r._data); outline(r, r._data.selected, r._data.clickable); });
  const shape = JSON.stringify([data.value, data.kind, data.floor, data.labelled, data.height, data.yTitle]);
  root._data = data;
  if (root._shape !== shape) {  // only a new picture is drawn again; a new set only restyles the bars
    root._shape = shape; root._w = Math.floor(root.clientWidth);
    root.querySelector('.bk-name').textContent = data.title;
    root.querySelector('.bk-legend').innerHTML = data.present.map(n => `<span><i style="background:${data.colours[n]}"></i>${n}</span>`).join('');
    root.querySelector('svg').setAttribute('aria-label', data.title);
    draw(root, data);
  }
  outline(root, data.selected, data.clickable);
  root.classList.toggle('bk-click', data.clickable);
  root.onclick = data.clickable ? (ev) => { const g = ev.target.closest('.bk-bar'); if (g) setTriggerValue('click', +g.dataset.k); } : null;
}
"""

_CSS = r"""
.bk-root { font-family: var(--st-font, sans-serif); color: var(--st-text-color, #31333f); width: 100%; }
.bk-head { display: flex; flex-wrap: wrap; gap: 0.2rem 1rem; align-items: baseline; font-size: 0.875rem; margin-bottom: 0.2rem; }
.bk-name { font-weight: 600; }
.bk-legend { display: inline-flex; flex-wrap: wrap; gap: 0.2rem 0.8rem; font-size: 0.8rem; }
.bk-legend i { display: inline-block; width: 0.7rem; height: 0.7rem; margin-right: 0.3rem; vertical-align: -0.05rem; }
.bk-svg { display: block; overflow: visible; }
.bk-axis text { font-size: 10.5px; fill: currentColor; opacity: 0.75; }
.bk-axis .bk-title { font-size: 11px; opacity: 0.85; }
.bk-grid { stroke: currentColor; opacity: 0.12; }
.bk-base { stroke: currentColor; opacity: 0.5; }
.bk-click .bk-bar { cursor: pointer; }
.bk-hit { fill: transparent; }
.bk-bar:hover .bk-hit { fill: currentColor; opacity: 0.06; }
.bk-on { stroke: var(--st-text-color, #000); stroke-width: 2; }
"""

_bars = st.components.v2.component("grok_bars", js=_JS, css=_CSS)


def bar_keys(key: str, values: Sequence[float], key_freqs: Sequence[int], y_title: str, *, title: str = "", height: int = 300,
             log_y: bool = False, candidates: Sequence[int] = (), selected: Sequence[int] = (),
             on_click: Callable[[int], None] | None = None) -> None:
    """Draw one bar per frequency k = 1.. (grok.charts.spectrum_layout), the `selected` ones
    outlined; a click on a bar calls on_click(k) before the next run (a callback). Without
    on_click the bars only read out on hover (the Neurons page's W_L, the Circuit page's heads)."""
    def clicked() -> None:
        k = st.session_state[key].click
        if k is not None and on_click is not None:
            on_click(int(k))

    lay = charts.spectrum_layout(values, key_freqs, candidates, log_y)
    present = [n for n in charts.FREQ_KINDS if n in set(lay["kind"])]
    _bars(key=key, data=plain({**lay, "title": title, "yTitle": y_title, "height": int(height), "selected": sorted(int(k) for k in selected),
                         "colours": dict(charts.FREQ_KINDS), "present": present, "clickable": on_click is not None}),
          on_click_change=clicked, width="stretch")
