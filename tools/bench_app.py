"""App benchmark: `python -m tools.bench_app [--runs N] [--json] [--run NAME] [--set OPT=V] [--env K=V] [--app-dir DIR]`.

Measures the app's budgets from ../shared/DESIGN.md in headless Chromium; never asserted in tests.
- first paint: from launching `streamlit run app.py` until the Home page's first chart is
  visible (Chromium is started beforehand: a visitor's browser is already open), over
  --first-paints fresh servers (p50 / p95);
- server interactions, each repeated N times after unmeasured warm-ups (so the caches are
  warm) and timed by the REPAINT: from the input event to the first animation frame in which
  the page's main area reads differently (text or image of any element that is not an input;
  tools/appdriver.timed), and also until the script is idle again ("settled"):
    ask (type x on /ask, Enter), ablation toggle (take a frequency out of / back into the set
    with the frequency keys on /ablations), neuron pick (the next neuron by number on /neurons), shared-step
    move (one keyboard step of the sidebar's step slider, on /ask);
- the floor: the same repaint timing of the number input of the barest Streamlit app
  (tools/bench_floor: a title, a number input, a line of text), served and driven in the same
  run, so each interaction also reads as a ratio to what Streamlit itself costs on this machine
  (the floor has measured 68 ms on one of the project's machines and 122 ms on another), and
  its first paint (launch to its number input), alternating with the app's launches;
- replay scrub (repaint ms) and play (achieved frames per second), in the browser, by
  tools/replay_timing.measure_replay(page, server_url, run) (the Replay page's own timing);
  without that module the report says so and the rest still runs.

Levers are measured by turning them off: --set runner.postScriptGC=false or
--set server.fileWatcherType=auto (Streamlit options), --env GROK_GC_FREEZE=0 or --env GROK_WARM=0
(ui.py), --app-dir DIR to drive another checkout (e.g. `git archive HEAD | tar -x -C DIR`).

The run is --run (with --runs-dir as GROK_RUNS_DIR), else the shipped pretrained/mod113, else a
small demo run (p = 23) made for the purpose, which is much cheaper than the real thing: the
report names the run so numbers are never compared across runs by mistake.
"""
from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
from pathlib import Path

from . import appdriver as drv

TARGETS = {"first_paint_s": 3.0, "interaction_p95_ms": 150.0, "scrub_p50_ms": 60.0, "play_fps": 10.0}
PAGES = {s.name: s for s in drv.APP_PAGES}
INTERACTIONS = ("ask", "ablation", "neuron", "step")
FLOOR_APP = Path(__file__).resolve().parent / "bench_floor" / "app.py"  # a title, a number input, a line of text
LABELS = {"ask": "ask (x on /ask)", "ablation": "ablation toggle", "neuron": "neuron pick", "step": "shared-step move"}
KEYS = ("run", "note", "repeats", "levers", "load_average", "server_health_s", "first_paint", "first_paint_s", "floor_first_paint", "first_paint_server_cpu_s", "first_ask_view_s",
        *INTERACTIONS, "floor", "replay", "targets", "within_targets", "errors")


def stats(xs: list[float]) -> dict:
    """p50 / p95 / max in ms of seconds xs."""
    ms = [1000 * x for x in xs]
    return {"n": len(ms), "p50_ms": statistics.median(ms), "p95_ms": drv.percentile(ms, 95), "max_ms": max(ms)}


def _replay_timing():
    """tools/replay_timing.measure_replay, or the reason it cannot be used."""
    try:
        mod = importlib.import_module("tools.replay_timing")
    except ImportError as e:
        return None, f"tools/replay_timing.py is not there yet ({e})"
    fn = getattr(mod, "measure_replay", None)
    if fn is None:
        return None, "tools/replay_timing.py has no measure_replay(page, server_url, run)"
    return fn, None


def normalise_replay(d: dict) -> dict:
    """measure_replay's report plus the three figures the targets read: scrub_p50_ms,
    scrub_p95_ms and play_fps (achieved at the 10 frames/s speed, else the fastest achieved)."""
    d = dict(d)
    sc = d.get("scrub_ms") or {}
    d.setdefault("scrub_p50_ms", sc.get("p50"))
    d.setdefault("scrub_p95_ms", sc.get("p95"))
    play = d.get("play") or {}
    fps = [v.get("achieved_fps") for v in play.values() if isinstance(v, dict) and v.get("achieved_fps") is not None]
    at10 = (play.get("10") or {}).get("achieved_fps") if isinstance(play.get("10"), dict) else None
    d.setdefault("play_fps", at10 if at10 is not None else (max(fps) if fps else None))
    return d


def _first_paint(browser, app: Path, env: dict, options: dict, url, painted) -> tuple[float, float, float]:
    """One fresh server of `app` and a fresh browser context: (launch to `painted(page)`
    returning, s; server health s; server CPU s until then). `url(server_url)` is the page opened."""
    page = drv.new_page(browser)
    page.goto("about:blank")
    srv = drv.start_server(app=app, cwd=app.parent, env=env, options=options)
    try:
        health = srv.wait_healthy(timeout=120)
        page.goto(url(srv.url), timeout=120_000)
        painted(page)
        return time.perf_counter() - srv.started, health, drv.tree_usage(srv.proc.pid)[1]
    except Exception as e:
        raise RuntimeError(f"first paint of {app} failed: {e}\n--- server log ---\n{srv.log_tail()}") from e
    finally:
        srv.stop()
        page.context.close()


def first_paints(k: int, target: drv.Target, options: dict, env: dict, app: Path, browser) -> tuple[list[float], list[float], list[float], list[float]]:
    """(first paint s, server health s, server CPU s until the first paint, the floor's first
    paint s) of k fresh servers of the app, each followed by a fresh server of the barest app
    (tools/bench_floor, painted when its number input shows): the least a first paint costs on
    this machine, launched alternately so both see the same machine. The CPU seconds barely
    depend on how loaded the machine is, so they compare levers even when the wall times are noisy."""
    paints, health, cpu, floor_paints = [], [], [], []
    for _ in range(k):
        t, h, c = _first_paint(browser, app, {**target.env(), "GROK_DEMO": None, **env}, options,
                               lambda base: drv.page_url(base, "/", run=target.run),
                               lambda page: drv.first_chart_visible(page, timeout_ms=120_000))
        paints.append(t)
        health.append(h)
        cpu.append(c)
        floor_paints.append(_first_paint(browser, FLOOR_APP, {"GROK_RUNS_DIR": None}, {}, lambda base: base,
                                         lambda page: drv.number_inputs(page).first.wait_for(state="visible", timeout=120_000))[0])
    return paints, health, cpu, floor_paints


def floor(n: int, browser) -> dict:
    """The barest app's number-input repaint and settle, n times after two warm-ups: the least a
    Streamlit round trip costs on this machine, now."""
    page = drv.new_page(browser)
    srv = drv.start_server(app=FLOOR_APP, cwd=FLOOR_APP.parent, env={"GROK_RUNS_DIR": None})
    try:
        srv.wait_healthy(timeout=120)
        page.goto(srv.url, timeout=120_000)
        drv.number_inputs(page).first.wait_for(timeout=120_000)
        box = drv.number_inputs(page).first
        for _ in range(2):
            drv.bump_timed(page, box)
        ts = [drv.bump_timed(page, box) for _ in range(n)]
        return {**stats([t.repaint_s for t in ts]), "settled": stats([t.settled_s for t in ts])}
    finally:
        srv.stop()
        page.context.close()


def measure(n: int, target: drv.Target, timeout_s: float = 900, first_paint_runs: int = 3, options: dict | None = None,
            env: dict | None = None, app: Path = drv.APP, only: tuple[str, ...] = INTERACTIONS + ("replay",)) -> dict:
    from playwright.sync_api import sync_playwright

    options, env = dict(options or {}), dict(env or {})
    deadline = time.monotonic() + timeout_s
    out: dict = {"run": target.run, "note": target.note, "repeats": n, "levers": {"options": options, "env": env, "app": str(app)},
                 "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None, "errors": {}}
    with sync_playwright() as pw:
        browser = drv.launch_browser(pw)
        try:
            paints, health, cpu, floor_paints = first_paints(first_paint_runs, target, options, env, app, browser)
            out["first_paint"] = stats(paints)
            out["floor_first_paint"] = stats(floor_paints)
            out["first_paint_server_cpu_s"] = statistics.median(cpu)
            out["first_paint_s"] = statistics.median(paints)
            out["server_health_s"] = statistics.median(health)

            page = drv.new_page(browser)
            page.goto("about:blank")
            srv = drv.start_server(app=app, cwd=app.parent, env={**target.env(), "GROK_DEMO": None, **env}, options=options)
            try:
                srv.wait_healthy(timeout=120)
                page.goto(drv.page_url(srv.url, "/", run=target.run), timeout=120_000)
                drv.wait_app_ready(page, timeout_ms=120_000)
                page.wait_for_timeout(3000)  # a visitor reads Home for a few seconds (the warm-up's time)
                # The first visitor's first Ask: its analysis is cold unless the start-up warm-up ran.
                out["first_ask_view_s"] = drv.click_page(page, PAGES["ask"])

                def repeat(name: str, page_name: str, act, warmups: int) -> None:
                    if name not in only:
                        out[name] = None
                        return
                    try:
                        drv.goto_page(page, srv.url, PAGES[page_name], run=target.run)
                        for _ in range(warmups):
                            act()
                        ts = []
                        for _ in range(n):
                            if time.monotonic() > deadline:
                                raise TimeoutError(f"the benchmark ran over {timeout_s:g} s")
                            ts.append(act())
                        errs = drv.exceptions(page)
                        if errs:
                            raise RuntimeError(f"exception box: {errs[0][:300]}")
                        out[name] = {**stats([t.repaint_s for t in ts]),
                                     "settled": stats([t.settled_s for t in ts])}
                    except Exception as e:  # noqa: BLE001 - one broken interaction must not hide the others
                        out[name] = None
                        out["errors"][name] = f"{type(e).__name__}: {str(e)[:400]}"

                xs = iter(range(10**6))
                repeat("ask", "ask", lambda: drv.ask_timed(page, 2 + next(xs) % 20), warmups=2)  # a fresh x each time: no chart spec reused
                toggle = drv.FrequencyToggle()
                repeat("ablation", "ablations", lambda: drv.toggle_timed(page, toggle), warmups=2)  # both states cached
                repeat("neuron", "neurons", lambda: drv.neuron_pick_timed(page), warmups=2)
                moves = iter(range(10**6))  # right, left, right...: two steps, both analyses cached (the warm cache)
                repeat("step", "ask", lambda: drv.step_move_timed(page, key="ArrowRight" if next(moves) % 2 == 0 else "ArrowLeft"), warmups=2)

                out["replay"] = None
                if "replay" in only:
                    fn, why = _replay_timing()
                    if fn is None:
                        out["errors"]["replay"] = why
                    else:
                        try:
                            out["replay"] = normalise_replay(fn(page, srv.url, target.run))
                        except Exception as e:  # noqa: BLE001
                            out["errors"]["replay"] = f"{type(e).__name__}: {str(e)[:400]}"
            finally:
                for k in list(out["errors"]):
                    if k != "replay" or "not there yet" not in out["errors"][k]:
                        out["errors"][k] += "\n--- server log ---\n" + srv.log_tail(15)
                srv.stop()
            out["floor"] = None
            if only:
                try:
                    out["floor"] = floor(n, browser)
                except Exception as e:  # noqa: BLE001
                    out["errors"]["floor"] = f"{type(e).__name__}: {str(e)[:400]}"
        finally:
            browser.close()
    out["targets"] = TARGETS
    w = {"first_paint": out["first_paint_s"] < TARGETS["first_paint_s"]}
    for k in INTERACTIONS:
        if out.get(k):
            w[k] = out[k]["p95_ms"] < TARGETS["interaction_p95_ms"]
    rp = out.get("replay") or {}
    if rp.get("scrub_p50_ms") is not None:
        w["replay_scrub"] = rp["scrub_p50_ms"] < TARGETS["scrub_p50_ms"]
    if rp.get("play_fps") is not None:
        w["replay_play"] = rp["play_fps"] >= TARGETS["play_fps"]
    out["within_targets"] = w
    return out


def table(r: dict) -> str:
    ok = lambda b: "ok" if b else "OVER"  # noqa: E731
    lv = r["levers"]
    lines = [
        f"grok-explorer app benchmark: {r['note']} (?run={r['run']}), {r['repeats']} repeats, "
        f"{os.cpu_count()} CPUs, load average {r['load_average'] or float('nan'):.1f} at the start",
    ]
    if lv["options"] or lv["env"] or Path(lv["app"]) != drv.APP:
        lines.append(f"levers changed: options {lv['options']}, env {lv['env']}, app {lv['app']}")
    fp, ffp = r["first_paint"], r.get("floor_first_paint")
    lines += [
        f"{'':<30}{'p50':>9}{'p95':>9}{'settled p50/p95':>18}{'target':>12}{'p50, p95 / floor':>22}",
        f"{'server health':<30}{r['server_health_s']:>8.2f}s",
        f"{'server CPU until first paint':<30}{r['first_paint_server_cpu_s']:>8.2f}s",
        f"{'first Ask visit, 3 s after Home':<30}{r['first_ask_view_s']:>8.2f}s",
        f"{'first paint (launch→chart)':<30}{fp['p50_ms'] / 1000:>8.2f}s{fp['p95_ms'] / 1000:>8.2f}s{'':>18}{'< 3 s':>12}  {ok(r['within_targets']['first_paint']):<4}"
        + (f"{fp['p50_ms'] / ffp['p50_ms']:>8.2f}x{fp['p95_ms'] / ffp['p95_ms']:>7.2f}x" if ffp else ""),
    ]
    if ffp:
        lines.append(f"{'floor: barest app, first paint':<30}{ffp['p50_ms'] / 1000:>8.2f}s{ffp['p95_ms'] / 1000:>8.2f}s"
                     f"{'':>18}   (launch→its number input, alternating with the app's launches)")
    for k in INTERACTIONS:
        s = r.get(k)
        if not s:
            lines.append(f"{LABELS[k]:<30}{'n/a':>9}   {r['errors'].get(k, 'not measured').splitlines()[0][:80]}")
            continue
        st = s["settled"]
        fl = r.get("floor")
        lines.append(f"{LABELS[k]:<30}{s['p50_ms']:>7.0f}ms{s['p95_ms']:>7.0f}ms{st['p50_ms']:>9.0f}/{st['p95_ms']:<5.0f}ms"
                     f"{'p95 < 150 ms':>15}  {ok(r['within_targets'][k]):<4}"
                     + (f"{s['p50_ms'] / fl['p50_ms']:>8.2f}x{s['p95_ms'] / fl['p95_ms']:>7.2f}x" if fl else ""))
    fl = r.get("floor")
    if fl:
        lines.append(f"{'floor: barest app, number':<30}{fl['p50_ms']:>7.0f}ms{fl['p95_ms']:>7.0f}ms"
                     f"{fl['settled']['p50_ms']:>9.0f}/{fl['settled']['p95_ms']:<5.0f}ms   (tools/bench_floor: Streamlit's own round trip here)")
    rp = r.get("replay")
    if rp:
        if rp.get("scrub_p50_ms") is not None:
            p95 = rp.get("scrub_p95_ms")
            lines.append(f"{'replay scrub (in browser)':<30}{rp['scrub_p50_ms']:>7.0f}ms" + (f"{p95:>7.0f}ms" if p95 is not None else f"{'':>9}")
                         + f"{'':>18}{'p50 < 60 ms':>12}  {ok(r['within_targets'].get('replay_scrub'))}")
        if rp.get("play_fps") is not None:
            lines.append(f"{'replay play (achieved fps)':<30}{rp['play_fps']:>8.1f} {'':>9}{'':>18}{'>= 10 fps':>12}  {ok(r['within_targets'].get('replay_play'))}")
        play = {k: v.get("achieved_fps") for k, v in (rp.get("play") or {}).items() if isinstance(v, dict)}
        if play:
            lines.append(f"  replay play, achieved fps per speed: {play}")
        for k in ("frames", "load_s", "payload_bytes", "ws_sent_while_scrubbing_or_playing"):
            if k in rp:
                lines.append(f"  replay {k.replace('_', ' ')}: {rp[k]}")
    else:
        lines.append(f"{'replay scrub / play':<30}{'n/a':>9}   {r['errors'].get('replay', 'not measured').splitlines()[0][:100]}")
    for k, e in r["errors"].items():
        if k in INTERACTIONS + ("floor",):
            lines.append(f"error in {k}: {e[:1500]}")
    return "\n".join(lines)


def _pairs(items: list[str], what: str) -> dict:
    out = {}
    for it in items:
        if "=" not in it:
            raise SystemExit(f"error: {what} {it!r} is not KEY=VALUE")
        k, v = it.split("=", 1)
        out[k] = v
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.bench_app", description="First paint, warm server interactions (timed by the repaint) and the in-browser replay of the Streamlit app.")
    ap.add_argument("--runs", type=int, default=10, help="measured repeats per interaction (default 10)")
    ap.add_argument("--first-paints", type=int, default=None, help="fresh server launches for first paint (default: 3, or 1 with --runs 1)")
    ap.add_argument("--run", default=None, help="the sidebar name of the run to drive (default: pretrained mod113, else a demo run)")
    ap.add_argument("--runs-dir", default=None, help="GROK_RUNS_DIR for the server (where --run lives, if not in pretrained/)")
    ap.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE", help="a Streamlit option for the server, e.g. runner.postScriptGC=false (repeatable)")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="an environment variable for the server, e.g. GROK_GC_FREEZE=0 (repeatable)")
    ap.add_argument("--app-dir", default=None, help="drive DIR/app.py instead of this checkout's (a 'before' copy)")
    ap.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(INTERACTIONS + ('replay',))}, or none (first paint only)")
    ap.add_argument("--timeout", type=float, default=900, help="give up after this many seconds (default 900)")
    ap.add_argument("--json", action="store_true", help="also print one JSON object on the last line")
    a = ap.parse_args(argv)
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    only = tuple(o for o in a.only.split(",") if o != "none") if a.only else INTERACTIONS + ("replay",)
    bad = [o for o in only if o not in INTERACTIONS + ("replay",)]
    if bad:
        ap.error(f"--only: unknown {bad}")
    app = (Path(a.app_dir).resolve() / "app.py") if a.app_dir else drv.APP
    fps = a.first_paints if a.first_paints is not None else (1 if a.runs == 1 else 3)
    got: dict = {}

    def compute() -> dict:
        got.update(measure(a.runs, drv.default_target(a.run, a.runs_dir), a.timeout, max(1, fps),
                           _pairs(a.set, "--set"), _pairs(a.env, "--env"), app, only))
        return got
    rc = drv.report_cli(compute, table, a.json)
    failed = [k for k in got.get("errors", {}) if k in INTERACTIONS]
    return rc or (1 if failed else 0)  # an interaction that could not be measured fails the run


if __name__ == "__main__":
    sys.exit(main())
