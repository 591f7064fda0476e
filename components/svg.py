"""The JavaScript the SVG chart components share (clocks, votes, bars, curves), prepended to each
one's module: making SVG elements, number formatting, nice axis ticks, mounting the chart's root
once and redrawing it when the component's width changes (a phone turned, the sidebar opened),
and the hover crosshair with its tooltip. One copy, so the charts format, lay out their axes and
read out a hover alike."""

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
// the chart's root element (class cls, inner html) in parent, made and appended on the first call only;
// redraw(root) runs again whenever its width changes. -> [root, made now]
function mountOnce(parent, cls, html, redraw) {
  let root = parent.querySelector('.' + cls);
  if (root) return [root, false];
  root = document.createElement('div');
  root.className = cls;
  root.innerHTML = html;
  parent.appendChild(root);
  redrawOnResize(root, () => { if (root._data) redraw(root); });
  return [root, true];
}
// a vertical crosshair (root._geom.cross) and a tooltip over plot: at(px, root._geom, root._data) gives
// {x, html} for the pointer's x in the plot, or null outside it (both hidden)
function hoverTip(root, plot, tip, at) {
  const hide = () => { tip.style.display = 'none'; if (root._geom) root._geom.cross.setAttribute('visibility', 'hidden'); };
  plot.addEventListener('mousemove', (ev) => {
    const g = root._geom, d = root._data; if (!g || !d) return;
    const b = plot.getBoundingClientRect(), px = ev.clientX - b.left;
    const hit = at(px, g, d);
    if (!hit) { hide(); return; }
    g.cross.setAttribute('x1', hit.x); g.cross.setAttribute('x2', hit.x); g.cross.setAttribute('visibility', 'visible');
    tip.innerHTML = hit.html;
    tip.style.display = 'block';
    tip.style.left = Math.min(px + 12, Math.max(0, b.width - tip.offsetWidth)) + 'px'; tip.style.top = (ev.clientY - b.top + 12) + 'px';
  });
  plot.addEventListener('mouseleave', hide);
}
"""
