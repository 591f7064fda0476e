"""The ablation set as a row of frequency keys: one button per k = 1..(p-1)/2, an
`st.components.v2` component.

Why not st.multiselect: choosing frequencies is clicking a few of 56 small numbers, and a
multiselect makes that a dropdown search per frequency; the keys show the whole set at once, mark
the key frequencies (the preset) and take one click to toggle. It is also lighter: a toggle is one
element's data changing, where the multiselect's combobox re-rendered ~30 ms of React on every
click (Chrome profile of /ablations, README "Speed"). The pressed state changes in the browser at
once; the set reaches Python as the component's state `freqs` (a sorted list) and the page's
callback makes it the shared set (URL ?freqs=, the bar chart, the Neurons page).
"""
from __future__ import annotations

from typing import Callable, Sequence

import streamlit as st

from components import plain
from grok import palette

_JS = r"""
export default function(component) {
  const { setStateValue, parentElement } = component;
  const data = component.data[0];  // components.plain
  let root = parentElement.querySelector('.fk-root');
  if (!root || root._n !== data.n) {
    if (root) root.remove();
    root = document.createElement('div');
    root.className = 'fk-root';
    root._n = data.n;
    root.innerHTML = '<div class="fk-head"><span class="fk-label"></span><span class="fk-tools">' +
      '<button type="button" class="fk-tool" data-act="preset"></button><button type="button" class="fk-tool" data-act="none">none</button></span></div>' +
      '<div class="fk-keys" role="group"></div><div class="fk-sum" aria-live="polite"></div>';
    const keys = root.querySelector('.fk-keys');
    for (let k = 1; k <= data.n; k++) {
      const b = document.createElement('button');
      b.type = 'button'; b.className = 'fk-k'; b.dataset.k = k; b.textContent = k;
      keys.appendChild(b);
    }
    parentElement.appendChild(root);
  }
  root.querySelector('.fk-label').textContent = data.label;
  root.querySelector('.fk-keys').setAttribute('aria-label', data.label);
  const presetBtn = root.querySelector('[data-act="preset"]');
  presetBtn.textContent = data.presetLabel;
  presetBtn.title = 'k = ' + data.preset.join(', ');
  const chosen = new Set(data.selected), key = new Set(data.keys), cand = new Set(data.candidates);
  const show = (set) => {
    for (const b of root.querySelectorAll('.fk-k')) {
      const k = +b.dataset.k, on = set.has(k);
      b.classList.toggle('on', on); b.setAttribute('aria-pressed', on ? 'true' : 'false');
      b.classList.toggle('key', key.has(k)); b.classList.toggle('cand', cand.has(k));
      b.title = 'k = ' + k + (key.has(k) ? ' (key frequency)' : cand.has(k) ? ' (strongest, no clock yet)' : '') + (on ? ': in the set, click to take it out' : ': click to add it');
    }
    const ks = [...set].sort((a, b) => a - b);
    root.querySelector('.fk-sum').textContent = ks.length ? 'set: k = ' + ks.join(', ') : 'set: none';
  };
  show(chosen);
  const send = (set) => { show(set); setStateValue('freqs', [...set].sort((a, b) => a - b)); };
  const current = () => new Set([...root.querySelectorAll('.fk-k.on')].map(b => +b.dataset.k));
  root.onclick = (ev) => {
    const b = ev.target.closest('button');
    if (!b) return;
    if (b.dataset.k) { const s = current(); const k = +b.dataset.k; s.has(k) ? s.delete(k) : s.add(k); send(s); }
    else if (b.dataset.act === 'preset') send(new Set(data.preset));
    else if (b.dataset.act === 'none') send(new Set());
  };
}
"""

_CSS = r"""
/* Theme colours (Streamlit's --st-* properties, light or dark); the key frequencies' outline is grok.palette.KEY, as on every chart. */
.fk-root { font-size: 0.875rem; font-family: var(--st-font, inherit); color: var(--st-text-color, #31333f); }
.fk-head { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: baseline; gap: 0.3rem 1rem; margin-bottom: 0.3rem; }
.fk-label { font-size: 0.875rem; }
.fk-tools { display: inline-flex; gap: 0.35rem; }
.fk-tool, .fk-k { font: inherit; color: inherit; background: var(--st-background-color, #fff);
  border: 1px solid var(--st-border-color, #d0d0d8); cursor: pointer; }
.fk-tool { font-size: 0.8rem; border-radius: 6px; padding: 0.1rem 0.5rem; }
.fk-keys { display: grid; grid-template-columns: repeat(auto-fill, minmax(2.15rem, 1fr)); gap: 3px; }
.fk-k { font-variant-numeric: tabular-nums; padding: 0.2rem 0; border-radius: 5px; min-height: 1.9rem; }
.fk-k:hover, .fk-tool:hover { border-color: var(--st-primary-color, #5B4BB7); }
.fk-k:focus-visible, .fk-tool:focus-visible { outline: 2px solid var(--st-primary-color, #5B4BB7); outline-offset: 1px; }
.fk-k.key { border: 2px solid KEY_COLOUR; font-weight: 700; }
.fk-k.cand { border: 2px dashed #999; }
.fk-k.on { background: var(--st-primary-color, #5B4BB7); color: #fff; border-color: var(--st-primary-color, #5B4BB7); }
.fk-k.on.key { border-color: KEY_COLOUR; box-shadow: inset 0 0 0 1px #fff; }
.fk-sum { margin-top: 0.3rem; opacity: 0.75; font-size: 0.8rem; }
"""

_keys = st.components.v2.component("grok_freq_keys", js=_JS, css=_CSS.replace("KEY_COLOUR", palette.KEY))


def freq_keys(key: str, n: int, selected: Sequence[int], *, keys: Sequence[int] = (), candidates: Sequence[int] = (),
              preset: Sequence[int] = (), label: str = "Frequencies k", preset_label: str = "key set",
              on_change: Callable[[list[int]], None] | None = None) -> None:
    """Draw the keys k = 1..n with `selected` pressed; `keys` are outlined (key frequencies),
    `candidates` dashed (no clock yet); the preset button sets `preset`. A change calls
    on_change(sorted set) before the next run (a callback: widgets drawn afterwards see it)."""
    def changed() -> None:
        v = (st.session_state.get(key) or {}).get("freqs")
        if v is not None and on_change is not None:
            on_change(sorted(int(k) for k in v if 1 <= int(k) <= n))

    _keys(key=key, data=plain({"n": int(n), "selected": sorted(int(k) for k in selected), "keys": [int(k) for k in keys],
                         "candidates": [int(k) for k in candidates], "preset": sorted(int(k) for k in preset),
                         "label": label, "presetLabel": preset_label}),
          default={"freqs": sorted(int(k) for k in selected)}, on_freqs_change=changed, width="stretch")
