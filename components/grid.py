"""A clickable, hoverable p x p grid drawn as one PNG: the st.components.v2 piece behind the
Ask table, the ablation "which sums break" grid and a neuron's activation map.

Why a component and not Vega: a 113 x 113 grid is 12,769 marks, 1.6 s to settle in the
browser (DESIGN.md, "Speed"); as a PNG it is one <img>. The component adds what st.image
lacks: a click reports (row, col) to Python (a trigger value, so it fires once), and hovering
shows the cell's value in a tooltip computed in the browser from a compact array sent with
the image (no round trip). The selected cell is outlined by an overlay box exactly one cell in
size, so the highlight covers one cell at any p and any displayed width. The image shrinks to
the column's width (phones) and is drawn with sharp pixels.

`select_pair` is the one way a click selects (x, y) "everywhere": the Ask and Neurons pages
read x and y through ui.synced("x"/"y"), so writing the shared store and the widgets' keys
makes every page follow.
"""
from __future__ import annotations

import base64
import hashlib
import threading
from collections import OrderedDict
from typing import Callable, Sequence

import numpy as np
import streamlit as st

import ui
from components import plain
from grok.images import png_bytes

_JS = r"""
export default function(component) {
  const { setTriggerValue, parentElement } = component;
  const data = component.data[0];  // components.plain
  const named = !!data.showNames;
  let root = parentElement.querySelector('.grid-root');
  if (!root || root._named !== named) {
    if (root) root.remove();
    root = document.createElement('div');
    root.className = 'grid-root' + (named ? ' grid-named' : '');
    root._named = named;
    // the cells (image and outline) in a box of their own, so the outline's percentages are of the cells only;
    // named: row names to the left of the cells and column names above them, each one cell high or wide
    root.innerHTML = (named ? '<div></div><div class="grid-cn"></div><div class="grid-rn"></div>' : '') +
      '<div class="grid-cells"><img class="grid-img" alt=""/><div class="grid-hl"></div></div><div class="grid-tip"></div>';
    parentElement.appendChild(root);
  }
  const img = root.querySelector('.grid-img'), hl = root.querySelector('.grid-hl'), tip = root.querySelector('.grid-tip');
  const R = data.rows, C = data.cols;
  if (named) {
    const fill = (box, names) => {
      const key = names.join('\u241e');
      if (box._key === key) return;
      box._key = key; box.replaceChildren(...names.map(n => { const e = document.createElement('span'); e.textContent = n; return e; }));
    };
    fill(root.querySelector('.grid-rn'), data.rowNames); fill(root.querySelector('.grid-cn'), data.colNames);
    root.style.setProperty('--grid-r', R); root.style.setProperty('--grid-c', C);
    root.style.gridTemplateColumns = `auto minmax(0, ${data.width}px)`;
  }
  // values: a JSON list, or packed (little-endian float32, or the smallest integer type that holds them, as base64), decoded on the first hover
  const values = () => {
    if (!data.packed) return data.values;
    if (root._packedSrc !== data.packed.b64) {
      const bin = atob(data.packed.b64), bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const T = {f4: Float32Array, i4: Int32Array, i2: Int16Array, u1: Uint8Array}[data.packed.dtype] || Int32Array;
      root._packed = new T(bytes.buffer);
      root._packedSrc = data.packed.b64;
    }
    return root._packed;
  };
  root.style.maxWidth = named ? '' : data.width + 'px';
  if (img.getAttribute('src') !== data.src) img.setAttribute('src', data.src);
  img.setAttribute('alt', data.alt || '');
  root.dataset.rows = R; root.dataset.cols = C;
  root.dataset.hl = data.hl ? data.hl.join(',') : '';
  if (data.hl) {
    hl.style.display = 'block';
    hl.style.left = (100 * data.hl[1] / C) + '%'; hl.style.top = (100 * data.hl[0] / R) + '%';
    hl.style.width = (100 / C) + '%'; hl.style.height = (100 / R) + '%';
  } else { hl.style.display = 'none'; }
  const cellAt = (ev) => {
    const b = img.getBoundingClientRect();
    const c = Math.floor((ev.clientX - b.left) / b.width * C), r = Math.floor((ev.clientY - b.top) / b.height * R);
    return (r >= 0 && r < R && c >= 0 && c < C) ? [r, c] : null;
  };
  root.onmousemove = (ev) => {
    const rc = cellAt(ev);
    if (!rc) { tip.style.display = 'none'; return; }
    const vals = values();
    let v = vals ? vals[rc[0] * C + rc[1]] : null;
    if (typeof v === 'number' && data.packed && data.packed.digits) v = Number.isFinite(v) ? Number(v.toPrecision(data.packed.digits)) : null;
    const shown = (data.names && v !== null) ? data.names[v] : v;
    const rn = data.rowNames ? data.rowNames[rc[0]] : rc[0], cn = data.colNames ? data.colNames[rc[1]] : rc[1];
    const where = data.row ? `${data.row} = ${rn}, ${data.col} = ${cn}: ` : (data.rowNames ? `${rn}, ${cn}: ` : '');
    tip.textContent = where + (shown === null || shown === undefined ? '' : `${data.label ? data.label + ' ' : ''}${shown}`);
    const b = root.getBoundingClientRect();
    const x = ev.clientX - b.left, y = ev.clientY - b.top;
    tip.style.display = 'block';
    tip.style.left = Math.min(x + 12, Math.max(0, b.width - tip.offsetWidth)) + 'px';
    tip.style.top = (y + 16) + 'px';
  };
  root.onmouseleave = () => { tip.style.display = 'none'; };
  root.onclick = (ev) => { const rc = cellAt(ev); if (rc) setTriggerValue('click', rc); };
}
"""

_CSS = r"""
.grid-root { position: relative; width: 100%; cursor: crosshair; line-height: 0; }
.grid-cells { position: relative; }
.grid-named { display: grid; justify-content: start; column-gap: 4px; row-gap: 2px; cursor: default;
  font: 11px/1.1 var(--st-font, sans-serif); color: var(--st-text-color, #31333f); }
/* the names take the cells' size, never set it: height 0 + min-height 100% (rows), min-width 0 (columns) */
.grid-rn { display: grid; grid-template-rows: repeat(var(--grid-r), 1fr); text-align: right; height: 0; min-height: 100%; }
.grid-cn { display: grid; grid-template-columns: repeat(var(--grid-c), 1fr); align-items: end; min-width: 0; overflow: hidden; }
.grid-rn span, .grid-cn span { display: flex; align-items: center; justify-content: flex-end; white-space: nowrap; overflow: hidden; }
.grid-cn span { writing-mode: vertical-rl; transform: rotate(180deg); justify-content: flex-start; padding-top: 2px; }
.grid-named .grid-cells { cursor: crosshair; }
.grid-img { width: 100%; height: auto; image-rendering: pixelated; display: block; }
.grid-hl { position: absolute; box-sizing: border-box; outline: 2px solid #000; box-shadow: 0 0 0 4px #fff; pointer-events: none; min-width: 2px; min-height: 2px; }
.grid-tip { position: absolute; display: none; pointer-events: none; background: rgba(255,255,255,0.95); color: #000;
  border: 1px solid #999; padding: 3px 6px; font: 12px/1.3 sans-serif; white-space: nowrap; z-index: 10; border-radius: 3px; }
"""

_grid = st.components.v2.component("grok_grid", js=_JS, css=_CSS)


_URLS: OrderedDict[bytes, str] = OrderedDict()  # digest of the pixels -> data URL, the last _URLS_MAX images
_URLS_MAX = 64
_URLS_LOCK = threading.Lock()


def png_data_url(rgb: np.ndarray) -> str:
    """[h, w, 3] uint8 -> a data:image/png URL. The same picture drawn again (the Ask table while
    only the pair moves: the pair is the overlay's, not the image's) is not encoded again."""
    img = np.ascontiguousarray(rgb, dtype=np.uint8)
    key = hashlib.blake2b(img.tobytes(), digest_size=16, person=repr(img.shape).encode()[:16]).digest()
    with _URLS_LOCK:
        url = _URLS.get(key)
        if url is not None:
            _URLS.move_to_end(key)
            return url
    url = "data:image/png;base64," + base64.b64encode(png_bytes(img)).decode("ascii")
    with _URLS_LOCK:
        _URLS[key] = url
        while len(_URLS) > _URLS_MAX:
            _URLS.popitem(last=False)
    return url


def compact(values: np.ndarray, digits: int = 3) -> "Packed":
    """[rows, cols] numbers -> the tooltip's values, sent as one packed float32 array and shown
    to `digits` significant figures (formatting 12,769 numbers in Python took ~15 ms a grid and
    their JSON as much again; the browser formats only the hovered one)."""
    return Packed(np.asarray(values, dtype=np.float32).ravel(), digits)


_DTYPES = {"f4": "<f4", "i4": "<i4", "i2": "<i2", "u1": "u1"}


class Packed:
    """Numbers for the grid's tooltip: float32 (with digits) or the smallest integer type, little-endian, base64."""

    def __init__(self, values: np.ndarray, digits: int = 0):
        self.values = np.asarray(values)
        self.digits = digits

    def to_json(self) -> dict:
        v = self.values.ravel()
        if np.issubdtype(v.dtype, np.floating):
            kind = "f4"
        else:  # the smallest type: a p = 113 grid of answers is 12.8 kB as bytes, 51 kB as int32
            lo, hi = (int(v.min()), int(v.max())) if v.size else (0, 0)
            kind = "u1" if 0 <= lo and hi < 256 else "i2" if -32768 <= lo and hi < 32768 else "i4"
        arr = np.ascontiguousarray(v, dtype=_DTYPES[kind])
        return {"dtype": kind, "digits": self.digits if kind == "f4" else 0, "b64": base64.b64encode(arr.tobytes()).decode("ascii")}


def unpack(data: dict) -> list:
    """The tooltip values of a grid's data as a list (what the browser decodes): for tests."""
    if data.get("packed") is None:
        return data.get("values")
    pk = data["packed"]
    arr = np.frombuffer(base64.b64decode(pk["b64"]), dtype=_DTYPES[pk["dtype"]])
    return [float(f"{v:.{pk['digits']}g}") for v in arr] if pk["dtype"] == "f4" else [int(v) for v in arr]


def grid(key: str, rgb: np.ndarray, rows: int, cols: int, *, values: Sequence | None = None, names: Sequence[str] | None = None,
         label: str = "", highlight: tuple[int, int] | None = None, width: int = 460, row: str | None = "x", col: str | None = "y",
         alt: str = "", on_click: Callable[[int, int], None] | None = None,
         row_names: Sequence[str] | None = None, col_names: Sequence[str] | None = None, show_names: bool = False) -> None:
    """Draw `rgb` ([rows*cell, cols*cell, 3] uint8) as a grid of rows x cols cells; `values`
    (flat, row-major) feed the hover tooltip, or index `names` for a categorical grid; row_names /
    col_names replace the indices in the tooltip (basis functions, say), and with show_names they
    are also written beside the rows and above the columns (a small labelled heatmap); a click
    calls on_click(row, col) before the next run (a callback, so widgets drawn afterwards see it)."""
    def clicked() -> None:
        rc = st.session_state[key].click
        if rc and on_click is not None:
            on_click(int(rc[0]), int(rc[1]))

    if isinstance(values, np.ndarray) and np.issubdtype(values.dtype, np.integer):
        values = Packed(values)
    packed = values.to_json() if isinstance(values, Packed) else None
    data = {"src": png_data_url(rgb), "rows": int(rows), "cols": int(cols), "width": int(width), "row": row, "col": col,
            "values": list(values) if values is not None and packed is None else None, "packed": packed,
            "names": list(names) if names is not None else None,
            "label": label, "hl": [int(highlight[0]), int(highlight[1])] if highlight is not None else None, "alt": alt,
            "rowNames": list(row_names) if row_names is not None else None, "colNames": list(col_names) if col_names is not None else None,
            "showNames": bool(show_names and row_names is not None and col_names is not None)}
    _grid(key=key, data=plain(data), on_click_change=clicked, width="stretch")


def select_pair(x: int, y: int) -> None:
    """Make (x, y) the selected pair on every page (Ask, Neurons): the shared URL store and the
    number inputs' keys, written from a callback so the inputs drawn next show it."""
    for name, v in (("x", int(x)), ("y", int(y))):
        ui.set_synced(name, v)
