"""The JavaScript the SVG chart components share (clocks, votes, bars), prepended to each one's
module: making SVG elements, number formatting, nice axis ticks, and redrawing when the
component's width changes (a phone turned, the sidebar opened). One copy, so the three charts
format and lay out their axes alike."""

SVG_JS = r"""
const NS = 'http://www.w3.org/2000/svg';
// an SVG element with its attributes (and text), appended to parent when given
const el = (name, attrs, parent, text) => {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
};
const fmt = (v) => Number(v.toPrecision(3)).toString();
// about n ticks over [lo, hi] at a step of 1, 2 or 5 times a power of ten
function niceTicks(lo, hi, n) {
  const raw = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map(m => m * mag).find(s => raw <= s) || mag;
  const out = []; for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(Math.abs(v) < 1e-12 ? 0 : v);
  return {out, step};
}
// the drawing's width in whole pixels, at least 260 (600 before the first layout)
const widthOf = (root) => Math.max(260, Math.floor(root.clientWidth || 600));
// redraw() again whenever root's width changes; root._w holds the width last drawn at
function redrawOnResize(root, redraw) {
  new ResizeObserver(() => { const w = Math.floor(root.clientWidth); if (w !== root._w) { root._w = w; redraw(); } }).observe(root);
}
"""
