"""How fast the in-browser Replay is, measured in Chromium by the repaint, not by a rerun.

`measure_replay(page, server_url, run)` opens /replay, then
  - scrub: moves the player's slider to a new frame (as a drag does: set the value, fire
    `input`) and times until the chart's frame readout (an SVG text of the one Vega view) shows
    the new step and the next animation frame has been painted; p50 / p95 over `scrubs` moves;
  - play: presses Play at each speed (5 / 10 / 15 frames per second) for `play_s` seconds and
    counts the distinct frames the chart's readout showed (achieved frames per second);
  - counts the websocket frames the page SENT while scrubbing and playing (the design says 0;
    the player's settle report is held back meanwhile), then the one report after a stop,
    and the largest frame it received while loading (the chart with every frame: the payload).
Used by tools/bench_app.py; `python -m tools.replay_timing [--run mod113]` prints the numbers.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

from tools import appdriver as drv

_READY = "() => !!(window.__grokReplay && window.__grokReplay.input && window.__grokReplay.input.isConnected)"

# The chart's own readout: the SVG text of the header mark ("Step 6,050  (frame 124 of 218): ...").
_HEADER = """() => { const t = [...document.querySelectorAll('.st-key-replay_chart svg text')].find(e => e.textContent.startsWith('Step '));
  return t ? t.textContent : null; }"""

_SCRUB = """async (frame) => {
  const S = window.__grokReplay;
  const want = 'Step ' + S.data.steps[frame].toLocaleString('en-US') + ' ';
  const svg = document.querySelector('.st-key-replay_chart svg.marks');
  const header = () => [...svg.querySelectorAll('text')].find(e => e.textContent.startsWith('Step '));
  return await new Promise((resolve) => {
    const t0 = performance.now();
    const done = () => requestAnimationFrame(() => resolve(performance.now() - t0));
    const obs = new MutationObserver(() => { const h = header(); if (h && h.textContent.startsWith(want)) { obs.disconnect(); done(); } });
    obs.observe(svg, { subtree: true, childList: true, characterData: true });
    const slider = S.root.querySelector('.gp-slider');
    slider.value = String(frame);
    slider.dispatchEvent(new Event('input', { bubbles: true }));
    setTimeout(() => { obs.disconnect(); resolve(null); }, 5000);
  });
}"""

_PLAY = """async ([fps, seconds]) => {
  const S = window.__grokReplay;
  const root = S.root;
  const sel = root.querySelector('.gp-speed');
  sel.value = String(fps); sel.dispatchEvent(new Event('change'));
  const svg = document.querySelector('.st-key-replay_chart svg.marks');
  const header = () => { const t = [...svg.querySelectorAll('text')].find(e => e.textContent.startsWith('Step ')); return t ? t.textContent : ''; };
  S.root.querySelector('.gp-slider').value = '0'; S.root.querySelector('.gp-slider').dispatchEvent(new Event('input', { bubbles: true }));
  await new Promise((r) => setTimeout(r, 300));
  const seen = []; let last = header();
  const obs = new MutationObserver(() => { const h = header(); if (h !== last) { last = h; seen.push(performance.now()); } });
  obs.observe(svg, { subtree: true, childList: true, characterData: true });
  const t0 = performance.now();
  root.querySelector('.gp-play').click();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  if (S.playing) root.querySelector('.gp-play').click();
  obs.disconnect();
  const span = seen.length > 1 ? seen[seen.length - 1] - seen[0] : 0;
  return { painted: seen.length, fps: span > 0 ? (seen.length - 1) * 1000 / span : 0, seconds: (performance.now() - t0) / 1000,
           frame: S.frame, readout: root.querySelector('.gp-readout').textContent, chart: header() };
}"""


def _pct(xs: list[float], q: float) -> float | None:
    return drv.percentile(xs, q) if xs else None


def measure_replay(page, server_url: str, run: str, scrubs: int = 30, play_s: float = 5.0, speeds=(5, 10, 15)) -> dict:
    """Open /replay for `run` in `page` (a fresh Playwright page) and time scrubbing and play.
    Returns {"load_s", "payload_bytes", "scrub_ms": {p50, p95, n, lost}, "play": {fps: {...}},
    "ws_sent_while_scrubbing_or_playing", "frames"}."""
    sent: list[int] = []
    received: list[int] = []

    def on_ws(ws) -> None:
        ws.on("framesent", lambda p: sent.append(len(p)))
        ws.on("framereceived", lambda p: received.append(len(p)))

    page.on("websocket", on_ws)
    t0 = time.perf_counter()
    page.goto(drv.page_url(server_url, "/replay", run=run), timeout=drv.TIMEOUT_MS)
    page.wait_for_function(_READY, timeout=drv.TIMEOUT_MS, polling=100)
    page.wait_for_function(f"() => ({_HEADER})() !== null", timeout=drv.TIMEOUT_MS)
    drv.wait_idle(page)
    load_s = time.perf_counter() - t0
    page.wait_for_timeout(1500)  # let the start-up report (if any) go out
    n_frames = page.evaluate("() => window.__grokReplay.frames")
    # A stop of 500 ms (the player's idle delay) counts as settling and reports the step; on a
    # loaded machine one repaint can take that long, so hold the report while measuring.
    page.evaluate("() => { window.__grokReplay.idleMs = 600000; }")
    before = len(sent)
    times, lost = [], 0
    for i in range(scrubs):
        f = (i * 37 + 11) % n_frames  # jumps all over the run, never the same frame twice in a row
        dt = page.evaluate(_SCRUB, f)
        if dt is None:
            lost += 1
        else:
            times.append(float(dt))
    play = {}
    for fps in speeds:
        play[fps] = page.evaluate(_PLAY, [fps, play_s])
    during = len(sent) - before
    page.evaluate("""() => { const S = window.__grokReplay; S.idleMs = 500; const s = S.root.querySelector('.gp-slider');
      s.value = String(Math.max(0, S.frame - 1)); s.dispatchEvent(new Event('input', { bubbles: true })); }""")
    page.wait_for_timeout(2500)  # one step, then stop: exactly one message (the step report) after the idle delay
    return {
        "run": run, "frames": n_frames, "load_s": round(load_s, 2),
        "payload_bytes": max(received) if received else None,
        "scrub_ms": {"p50": _pct(times, 50), "p95": _pct(times, 95), "n": len(times), "lost": lost,
                     "mean": statistics.fmean(times) if times else None},
        "play": {str(k): {"target_fps": k, "achieved_fps": round(v["fps"], 1), "painted": v["painted"]} for k, v in play.items()},
        "ws_sent_while_scrubbing_or_playing": during,
        "ws_sent_after_pause": len(sent) - before - during,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.replay_timing", description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=None, help="run name (default: pretrained mod113, else the demo run)")
    ap.add_argument("--scrubs", type=int, default=30)
    ap.add_argument("--play-seconds", type=float, default=5.0, help="seconds of play per speed (default 5: a late first or last repaint skews a shorter window more)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    target = drv.default_target(a.run)
    srv = drv.start_server(env={**target.env(), "GROK_DEMO": None})
    try:
        srv.wait_healthy(timeout=120)
        with sync_playwright() as pw:
            b = drv.launch_browser(pw)
            warm = drv.new_page(b, 1440, 1800)  # first visit: the server builds and caches the chart
            measure_replay(warm, srv.url, target.run, scrubs=3, play_s=0.5, speeds=(10,))
            warm.context.close()
            page = drv.new_page(b, 1440, 1800)
            out = measure_replay(page, srv.url, target.run, scrubs=a.scrubs, play_s=a.play_seconds)
            b.close()
    finally:
        srv.stop()
    import os

    out["load_average"] = os.getloadavg()
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        s = out["scrub_ms"]
        print(f"replay of {out['run']} ({out['frames']} frames), payload {out['payload_bytes']:,} bytes, load {out['load_s']} s")
        print(f"scrub repaint: p50 {s['p50']:.0f} ms, p95 {s['p95']:.0f} ms over {s['n']} moves ({s['lost']} lost)")
        for k, v in out["play"].items():
            print(f"play at {k} frames/s: {v['achieved_fps']} frames/s painted")
        print(f"websocket frames sent while scrubbing / playing: {out['ws_sent_while_scrubbing_or_playing']}; "
              f"after pausing: {out['ws_sent_after_pause']}")
        print(f"load average: {', '.join(f'{x:.1f}' for x in out['load_average'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
