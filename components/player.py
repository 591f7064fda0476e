"""The Replay's player: Play / Pause, speed, Loop, arrow keys, "jump to" buttons and a step
readout, all in the browser (an `st.components.v2` component, not an iframe).

Why a component: the replay chart (grok/replay_spec.py) holds every frame and a bound Vega
parameter `frame`; moving that parameter repaints every panel with no server round trip. This
component drives it the way a visitor would, by setting the chart's (hidden) range input and
dispatching an `input` event, on a requestAnimationFrame clock that keeps the chosen frames
per second (5 / 10 / 15) as long as a repaint takes less than a tick. It talks to Python only
once the frame settles: 500 ms after the last move while paused, it reports the frame's step
(a trigger value), and the page makes that the shared step. While scrubbing or playing it
sends nothing.

The chart spec never carries the current frame (so it is identical on every rerun and is never
remounted); this component sets the start frame when it mounts, and re-applies its frame
whenever the chart's input element is replaced.
"""
from __future__ import annotations

from typing import Sequence

import streamlit as st

from components import plain

FPS = (5, 10, 15)  # frames per second offered: each met on a 2-core machine under load (tools.replay_timing)
IDLE_MS = 500  # report the step this long after the last move (paused)

HTML = """
<div class="grok-player" tabindex="0" aria-label="Replay player: left / right arrow keys step one frame">
  <div class="gp-row">
    <button class="gp-play" type="button" title="Play / pause (the replay runs in your browser)">&#9654; Play</button>
    <button class="gp-prev" type="button" title="One frame back (left arrow)">&#9664;</button>
    <button class="gp-next" type="button" title="One frame on (right arrow)">&#9654;</button>
    <input class="gp-slider" type="range" min="0" max="0" step="1" value="0" aria-label="Replay frame">
    <label class="gp-speed-l">speed <select class="gp-speed"></select></label>
    <label class="gp-loop-l"><input class="gp-loop" type="checkbox"> loop</label>
  </div>
  <div class="gp-row gp-info">
    <span class="gp-readout" data-testid="replayReadout" aria-live="off">step -</span>
    <span class="gp-jumps"><span class="gp-jl">jump to:</span></span>
  </div>
</div>
"""

CSS = """
.grok-player { font-family: inherit; font-size: 0.95rem; padding: 0.35rem 0.1rem; outline: none; }
.grok-player:focus-visible { box-shadow: 0 0 0 2px var(--st-primary-color, #5B4BB7); border-radius: 6px; }
.grok-player .gp-row { display: flex; flex-wrap: wrap; align-items: center; gap: 0.45rem 0.6rem; }
.grok-player .gp-info { margin-top: 0.35rem; }
.grok-player button { font: inherit; border: 1px solid #c8c8d0; background: #fff; border-radius: 6px; padding: 0.2rem 0.6rem; cursor: pointer; }
.grok-player button:hover:not(:disabled) { border-color: var(--st-primary-color, #5B4BB7); }
.grok-player button:disabled { color: #aaa; cursor: default; }
.grok-player .gp-play { min-width: 6.2rem; font-weight: 600; }
.grok-player .gp-slider { flex: 1 1 14rem; min-width: 10rem; accent-color: var(--st-primary-color, #5B4BB7); }
.grok-player select { font: inherit; }
.grok-player .gp-readout { font-weight: 600; font-variant-numeric: tabular-nums; min-width: 16rem; }
.grok-player .gp-jumps { display: inline-flex; flex-wrap: wrap; gap: 0.35rem; align-items: center; }
.grok-player .gp-jl { color: #555; }
/* The replay chart has a fixed layout (three panels a row): narrower screens get it scaled to fit
   (its SVG has a viewBox), rather than a page that scrolls sideways. */
.st-key-replay_chart .vega-embed, [class*="st-key-replay_cmp_"] .vega-embed { max-width: 100%; }
.st-key-replay_chart svg.marks, [class*="st-key-replay_cmp_"] svg.marks { max-width: 100%; height: auto; }
"""

JS = """
const IDLE_MS = %(idle)d;
const fmt = (n) => Number(n).toLocaleString('en-US');

export default function (component) {
  const { parentElement, setTriggerValue } = component;
  const data = component.data[0];  // components.plain
  const root = parentElement.querySelector('.grok-player');
  if (!root || !data) return;
  let S = root.__grok;
  if (!S) {
    S = root.__grok = { idleMs: IDLE_MS, frame: 0, playing: false, fps: data.fps_default, loop: false, input: null, rafId: 0, last: 0,
      idleTimer: 0, reported: null, lastStart: null, frames: 0, ticks: [] };
    S.root = root;
    wire(root, S);
    window.__grokReplay = S;  // for the browser tests and tools/replay_timing.py (read-only use)
  }
  S.data = data;
  S.setTriggerValue = setTriggerValue;
  S.frames = data.steps.length;
  const slider = root.querySelector('.gp-slider');
  slider.max = String(S.frames - 1);
  const sel = root.querySelector('.gp-speed');
  if (!sel.options.length) {
    for (const f of data.fps) { const o = document.createElement('option'); o.value = f; o.textContent = f + ' frames/s'; sel.appendChild(o); }
    sel.value = String(S.fps);
  }
  const jumps = root.querySelector('.gp-jumps');
  jumps.querySelectorAll('button').forEach((b) => b.remove());
  for (const j of data.jumps) {
    const b = document.createElement('button');
    b.type = 'button'; b.textContent = j.label;
    if (j.frame === null || j.frame === undefined) { b.disabled = true; b.title = j.label + ': never reached in this run (' + j.rule + ')'; }
    else { b.title = j.label + ': step ' + fmt(j.step) + ' (' + j.rule + ')'; b.onclick = () => { pause(S); setFrame(S, j.frame, true); }; }
    jumps.appendChild(b);
  }
  // the start frame: when mounting, or when the page asks for a new one (not the echo of our own report)
  if (S.lastStart === null || (data.start !== S.lastStart && data.start !== S.reportedFrame)) setFrame(S, data.start, false);
  S.lastStart = data.start;
  if (!S.watch) S.watch = setInterval(() => attach(S), 200);  // the chart mounted / remounted: give it our frame
  attach(S);
}

function chartInput(S) {
  return document.querySelector(S.data.target + ' .vega-bindings input[type=range]');
}

function attach(S) {
  const inp = chartInput(S);
  if (inp && inp !== S.input) {
    S.input = inp;
    const b = inp.closest('.vega-bindings'); if (b) b.style.display = 'none';  // the player is the one control
  }
  if (!S.playing) push(S);  // cheap when nothing changed; catches (re)mounted charts, ours and the compared runs'

}

function setInput(inp, v) {
  if (inp.value !== String(v)) { inp.value = String(v); inp.dispatchEvent(new Event('input', { bubbles: true })); }
}

function nearest(steps, s) {  // index of the step nearest to s (ties: the earlier), steps ascending
  let lo = 0, hi = steps.length - 1;
  while (lo < hi) { const m = (lo + hi) >> 1; if (steps[m] < s) lo = m + 1; else hi = m; }
  return (lo > 0 && s - steps[lo - 1] <= steps[lo] - s) ? lo - 1 : lo;
}

function push(S) {
  if (S.input && S.input.isConnected) setInput(S.input, S.frame);
  const st = S.data.steps[S.frame];
  for (const f of (S.data.followers || [])) {  // other runs side by side: their frame nearest this step
    const inp = document.querySelector(f.target + ' .vega-bindings input[type=range]');
    if (!inp) continue;
    const b = inp.closest('.vega-bindings'); if (b) b.style.display = 'none';
    setInput(inp, nearest(f.steps, st));
  }
}

function show(S) {
  const root = S.root;
  const st = S.data.steps[S.frame];
  root.querySelector('.gp-slider').value = String(S.frame);
  root.querySelector('.gp-readout').textContent = 'step ' + fmt(st) + ' \\u2014 frame ' + (S.frame + 1) + ' of ' + S.frames;
  root.querySelector('.gp-play').innerHTML = S.playing ? '&#10074;&#10074; Pause' : '&#9654; Play';
  // The sidebar's "Step N — set by the replay player" line (ui.py) follows in the browser too; the
  // server redraws it from the shared step on the next full run.
  const side = [...document.querySelectorAll("[data-testid='stSidebar'] [data-testid='stMarkdownContainer'] strong")]
    .find((e) => /^Step [\d,]+$/.test(e.textContent) && e.parentElement.textContent.includes('set by the replay player'));
  if (side) side.textContent = 'Step ' + fmt(st);
}

function setFrame(S, f, user) {
  f = Math.max(0, Math.min(S.frames - 1, Math.round(f)));
  S.frame = f;
  push(S);
  show(S);
  if (user) scheduleReport(S);
}

function scheduleReport(S) {
  clearTimeout(S.idleTimer);
  if (S.playing) return;
  S.idleTimer = setTimeout(() => {
    const st = S.data.steps[S.frame];
    if (!S.playing && st !== S.reported) { S.reported = st; S.reportedFrame = S.frame; S.setTriggerValue('step', st); }
  }, S.idleMs);
}

function tick(S, now) {
  if (!S.playing) return;
  const dt = 1000 / S.fps;
  if (now - S.last >= dt - 1) {
    S.last = (now - S.last > 2 * dt) ? now : S.last + dt;  // keep the rate; never try to catch up a stall
    let f = S.frame + 1;
    if (f >= S.frames) {
      if (S.loop) f = 0; else { pause(S); return; }
    }
    setFrame(S, f, false);
    S.ticks.push(now); if (S.ticks.length > 400) S.ticks.shift();
  }
  S.rafId = requestAnimationFrame((t) => tick(S, t));
}

function play(S) {
  if (S.playing) return;
  if (S.frame >= S.frames - 1) setFrame(S, 0, false);  // Play at the end starts over
  S.playing = true; clearTimeout(S.idleTimer);
  S.last = performance.now();
  show(S);
  S.rafId = requestAnimationFrame((t) => tick(S, t));
}

function pause(S) {
  if (!S.playing) return;
  S.playing = false; cancelAnimationFrame(S.rafId);
  show(S);
  scheduleReport(S);
}

function step(S, d) { pause(S); setFrame(S, S.frame + d, true); }

function wire(root, S) {
  root.querySelector('.gp-play').onclick = () => (S.playing ? pause(S) : play(S));
  root.querySelector('.gp-prev').onclick = () => step(S, -1);
  root.querySelector('.gp-next').onclick = () => step(S, +1);
  const slider = root.querySelector('.gp-slider');
  slider.addEventListener('input', () => { pause(S); setFrame(S, Number(slider.value), true); });
  slider.addEventListener('keydown', (e) => { if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') e.stopPropagation(); });
  root.querySelector('.gp-speed').onchange = (e) => { S.fps = Number(e.target.value); S.last = performance.now(); };
  root.querySelector('.gp-loop').onchange = (e) => { S.loop = e.target.checked; };
  const keys = (e) => {
    const t = e.target;
    const inOther = t && t !== root && !root.contains(t) && (/^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName) || t.isContentEditable);
    if (inOther || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === 'ArrowLeft') { step(S, -1); e.preventDefault(); }
    else if (e.key === 'ArrowRight') { step(S, +1); e.preventDefault(); }
  };
  root.addEventListener('keydown', (e) => { keys(e); e.stopPropagation(); });
  document.addEventListener('keydown', (e) => { if (document.body.contains(root) && !root.contains(e.target)) keys(e); });
}
""" % {"idle": IDLE_MS}

_player = st.components.v2.component("grok_replay_player", html=HTML, css=CSS, js=JS, isolate_styles=False)


def player(steps: Sequence[int], start: int, jumps: Sequence[dict], target: str, key: str = "replay_player",
           fps_default: int = 10, followers: Sequence[dict] = ()) -> int | None:
    """Mount the player for a chart whose container matches CSS selector `target` (e.g.
    ".st-key-replay_chart"). steps: [F] frame steps; start: the frame to open at; jumps:
    grok.replay_views.jump_points; followers: [{"target": selector, "steps": [...]}], other
    runs' replay charts, each moved to its frame nearest the player's step. Returns the step the visitor settled on, once, on the run
    that follows it (a trigger value), else None."""
    res = _player(key=key, data=plain({"steps": [int(s) for s in steps], "start": int(start), "target": target,
                                 "jumps": [dict(j) for j in jumps], "fps": list(FPS), "fps_default": int(fps_default),
                                 "followers": [{"target": f["target"], "steps": [int(s) for s in f["steps"]]} for f in followers]}),
                  on_step_change=lambda: None)
    v = res.get("step") if hasattr(res, "get") else getattr(res, "step", None)
    return int(v) if v is not None else None
