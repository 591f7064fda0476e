"""Load test for the hosted demo: `python -m tools.load [--sessions 8] [--passes 3] [--json]`.

In the manner of Streamlit's own load tests: real browser sessions against one server, a
minimal app as the baseline scenario, the server's memory and CPU sampled. Both servers run on
free 127.0.0.1 ports: app.py and tools/load_baseline/app.py (five trivial pages: a title, a
number input, a tiny chart). For each app in turn, N threads each drive their own headless
Chromium (own browser context, so own Streamlit session) through `passes` walks: load "/"
(first paint: until the first chart is visible), switch to every page with the sidebar links,
and make the main interactions there (app: ask, frequency toggle, neuron pick, and a move of the
sidebar's shared step on Ask; baseline: the number input on every page). Every interaction is
timed the same way in both apps, until the script is idle again and the page's main area reads
differently (tools/appdriver.timed, "settled"). The Replay page is visited but not driven: its
player runs in the browser and makes no server round trip. The server process tree's RSS and CPU are read from /proc every
0.5 s; its RSS is also taken when all sessions have finished a pass, for the growth over passes.

Targets (printed, never asserted here): zero errors, p95 latency within 1.5x the minimal
app's, server RSS peak under 1.2 GB and growth under 50 MB from the first pass to the last.
Every loop is bounded: sessions and passes by the arguments, every wait by a timeout, the whole
run by --timeout.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tools import appdriver as drv

HERE = Path(__file__).resolve().parent
BASELINE_APP = HERE / "load_baseline" / "app.py"
MB = 1e6
TARGETS = {"errors": 0, "p95_ratio_max": 1.5, "rss_peak_mb_max": 1200.0, "rss_growth_mb_max": 50.0}
MAX_SESSIONS, MAX_PASSES = 32, 20
STEP_TIMEOUT_MS = 90_000  # one wait under load; a timeout counts as an error


@dataclass(frozen=True)
class Scenario:
    name: str
    app: Path
    pages: tuple[drv.PageSpec, ...]
    ready_nav: str
    interactions: dict[str, Callable[[object, dict], float]]  # page name -> act(page, session state) -> seconds
    params: dict = field(default_factory=dict)


def _ask(page, state: dict) -> float:
    x = int(drv.number_inputs(page).first.input_value())
    t = drv.ask_timed(page, 6 if x == 5 else 5, timeout_ms=STEP_TIMEOUT_MS).settled_s
    state["ask"] = True
    return t


def _ask_and_step(page, state: dict) -> float:
    """On Ask: a question, then a move of the shared step (recorded as the "step" interaction),
    forward on one pass and back on the next, so every pass visits the same checkpoints and RSS
    growth over passes measures what leaks, not the bounded caches filling with new steps."""
    t = _ask(page, state)
    key = "ArrowRight" if state.get("step_moves", 0) % 2 == 0 else "ArrowLeft"
    state["step_moves"] = state.get("step_moves", 0) + 1
    state.setdefault("extra", []).append(("step", drv.step_move_timed(page, key=key, timeout_ms=STEP_TIMEOUT_MS).settled_s))
    return t


def _toggle(page, state: dict) -> float:
    return drv.toggle_timed(page, state.setdefault("toggle", drv.FrequencyToggle()), timeout_ms=STEP_TIMEOUT_MS).settled_s


def _neuron(page, state: dict) -> float:
    return drv.neuron_pick_timed(page, timeout_ms=STEP_TIMEOUT_MS).settled_s


def _bump(page, state: dict) -> float:
    return drv.bump_timed(page, drv.number_inputs(page).first, timeout_ms=STEP_TIMEOUT_MS).settled_s


def app_scenario(target: drv.Target) -> Scenario:
    return Scenario("app", drv.APP, drv.APP_PAGES, drv.READY_NAV, {"ask": _ask_and_step, "ablations": _toggle, "neurons": _neuron},
                    {"run": target.run})


BASELINE_PAGES = tuple(drv.PageSpec(f"page{i}", "/" if i == 1 else f"/page{i}", f"Page {i}", f"Baseline page {i}", 1) for i in range(1, 6))
BASELINE = Scenario("baseline", BASELINE_APP, BASELINE_PAGES, "Page 2", {s.name: _bump for s in BASELINE_PAGES})


@dataclass
class Record:
    """What all sessions of one scenario measured (appended under a lock)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    first_paint: list[float] = field(default_factory=list)
    page_switch: list[float] = field(default_factory=list)
    page_switch_by_page: dict[str, list[float]] = field(default_factory=dict)
    interaction: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    rss_after_pass: list[int] = field(default_factory=list)

    def add(self, kind: str, seconds: float, page: str = "") -> None:
        with self.lock:
            if kind == "interaction":
                self.interaction.setdefault(page, []).append(seconds)
            elif kind == "page_switch":
                self.page_switch.append(seconds)
                self.page_switch_by_page.setdefault(page, []).append(seconds)
            else:
                getattr(self, kind).append(seconds)

    def error(self, where: str, e: BaseException | str) -> None:
        msg = e if isinstance(e, str) else f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        with self.lock:
            self.errors.append(f"{where}: {msg}"[:300])


def walk(page, base: str, sc: Scenario, rec: Record | None, who: str, deadline: float) -> None:
    """One visit: "/" by URL, then every page by its sidebar link, interacting where there is an
    interaction. rec None: a warm-up, errors raise."""
    state: dict = {}

    def step(where: str, fn: Callable[[], None]) -> bool:
        if time.monotonic() > deadline:
            raise TimeoutError("the load test ran over its --timeout")
        if rec is None:
            fn()
            return True
        try:
            fn()
            errs = drv.exceptions(page)
            if errs:
                rec.error(f"{who} {where}", f"exception box: {errs[0][:200]}")
            return True
        except Exception as e:  # noqa: BLE001 - a failed step is a measured error, the walk goes on
            rec.error(f"{who} {where}", e)
            return False

    def first() -> None:
        t0 = time.perf_counter()
        page.goto(drv.page_url(base, "/", **sc.params), timeout=STEP_TIMEOUT_MS)
        drv.first_chart_visible(page, timeout_ms=STEP_TIMEOUT_MS)
        dt = time.perf_counter() - t0
        drv.wait_app_ready(page, sc.ready_nav, timeout_ms=STEP_TIMEOUT_MS)
        drv.wait_page(page, sc.pages[0], timeout_ms=STEP_TIMEOUT_MS)
        if rec:
            rec.add("first_paint", dt)

    if not step("first paint", first):
        return
    for i, spec in enumerate(sc.pages):
        if i > 0:
            def switch(spec=spec) -> None:
                dt = drv.click_page(page, spec, timeout_ms=STEP_TIMEOUT_MS)
                if rec:
                    rec.add("page_switch", dt, spec.name)
            if not step(f"open {spec.name}", switch):
                continue
        act = sc.interactions.get(spec.name)
        if act:
            def interact(spec=spec, act=act) -> None:
                dt = act(page, state)
                if rec:
                    rec.add("interaction", dt, spec.name)
                    for name, x in state.pop("extra", []):
                        rec.add("interaction", x, name)
            step(f"interact on {spec.name}", interact)


def run_scenario(sc: Scenario, srv: drv.Server, sessions: int, passes: int, deadline: float) -> dict:
    from playwright.sync_api import sync_playwright

    rec = Record()
    # Warm-up, unmeasured: one visit primes the caches (the first visitor's cold analysis would
    # otherwise dominate p95) and gets past a fresh server's first-load quirks.
    t0 = time.perf_counter()
    with sync_playwright() as pw:
        b = drv.launch_browser(pw)
        try:
            walk(drv.new_page(b, 1280, 1000), srv.url, sc, None, "warm-up", deadline)
        finally:
            b.close()
    warmup_s = time.perf_counter() - t0

    def after_pass() -> None:
        rec.rss_after_pass.append(drv.tree_usage(srv.proc.pid)[0])

    ready = threading.Barrier(sessions, timeout=300)
    pass_done = threading.Barrier(sessions, action=after_pass, timeout=900)

    def session(i: int) -> None:
        who = f"session {i}"
        try:
            with sync_playwright() as pw:
                b = drv.launch_browser(pw)
                try:
                    page = drv.new_page(b, 1280, 1000)
                    ready.wait()
                    for k in range(passes):
                        if time.monotonic() > deadline:
                            rec.error(who, "stopped: the load test ran over its --timeout")
                            pass_done.abort()  # the others must not wait for this session
                            break
                        walk(page, srv.url, sc, rec, f"{who} pass {k + 1}", deadline)
                        try:
                            pass_done.wait()
                        except threading.BrokenBarrierError:
                            pass  # another session failed; RSS per pass is then incomplete
                finally:
                    b.close()
        except Exception as e:  # noqa: BLE001
            rec.error(who, e)
            ready.abort()
            pass_done.abort()
            traceback.print_exc(file=sys.stderr)

    rss0 = drv.tree_usage(srv.proc.pid)[0]
    t0 = time.perf_counter()
    with drv.Sampler(srv.proc.pid, every=0.5) as sampler:
        threads = [threading.Thread(target=session, args=(i,), daemon=True, name=f"{sc.name}-{i}") for i in range(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(1.0, deadline - time.monotonic()) + 120)
        alive = [t.name for t in threads if t.is_alive()]
        if alive:
            rec.error("load test", f"sessions still running at the deadline: {', '.join(alive)}")
    cpu_mean, cpu_peak = sampler.cpu_percent()
    inter = [x for xs in rec.interaction.values() for x in xs]
    rss = rec.rss_after_pass
    return {
        "server": srv.url,
        "warmup_s": warmup_s,
        "wall_s": time.perf_counter() - t0,
        "first_paint": drv.summary(rec.first_paint),
        "page_switch": drv.summary(rec.page_switch),
        "page_switch_by_page": {k: drv.summary(v) for k, v in rec.page_switch_by_page.items()},  # which pages cost the most
        "interaction": drv.summary(inter),
        "interaction_by_page": {k: drv.summary(v) for k, v in sorted(rec.interaction.items())},
        "errors": len(rec.errors),
        "error_messages": rec.errors[:20],
        "rss_start_mb": rss0 / MB,
        "rss_peak_mb": max(sampler.peak_rss, rss0) / MB,
        "rss_after_pass_mb": [r / MB for r in rss],
        "rss_growth_mb": (rss[-1] - rss[0]) / MB if len(rss) >= 2 else None,
        "cpu_mean_pct": cpu_mean,
        "cpu_peak_pct": cpu_peak,
        "samples": len(sampler.samples),
    }


def ratio(a: dict, b: dict, key: str) -> float | None:
    x, y = a[key]["p95_s"], b[key]["p95_s"]
    return x / y if x is not None and y else None


def load_test(sessions: int, passes: int, target: drv.Target, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    servers = {"baseline": drv.start_server(BASELINE.app, env={"GROK_RUNS_DIR": None}),
               "app": drv.start_server(env={**target.env(), "GROK_DEMO": None})}
    out: dict = {"sessions": sessions, "passes": passes, "run": target.run, "note": target.note, "cpus": os.cpu_count()}
    try:
        for s in servers.values():
            s.wait_healthy(timeout=120)
        for sc in (BASELINE, app_scenario(target)):
            out[sc.name] = run_scenario(sc, servers[sc.name], sessions, passes, deadline)
    finally:
        for s in servers.values():
            s.stop()
    app, base = out["app"], out["baseline"]
    out["ratio"] = {k: ratio(app, base, k) for k in ("first_paint", "page_switch", "interaction")}
    out["targets"] = TARGETS
    out["within_targets"] = within_targets(app, base, out["ratio"])
    return out


def within_targets(app: dict, base: dict, ratios: dict) -> dict:
    """Each target met or not: every p95 ratio (first paint, page switch, interaction: the issue's
    first paint, page view and interaction) within 1.5x, no errors, memory peak and growth."""
    r = [v for v in ratios.values() if v is not None]
    return {
        "zero_errors": app["errors"] == 0 and base["errors"] == 0,
        "p95_ratio": bool(r) and max(r) <= TARGETS["p95_ratio_max"],
        "rss_peak": app["rss_peak_mb"] < TARGETS["rss_peak_mb_max"],
        "rss_growth": None if app["rss_growth_mb"] is None else app["rss_growth_mb"] < TARGETS["rss_growth_mb_max"],
    }


def table(r: dict) -> str:
    def ms(s: dict, k: str) -> str:
        return "-" if s[k] is None else f"{1000 * s[k]:.0f}"

    def rat(v) -> str:
        return "-" if v is None else f"{v:.2f}x"

    app, base = r["app"], r["baseline"]
    lines = [f"Load test: {r['sessions']} sessions x {r['passes']} passes, {r['note']} (?run={r['run']}), {r['cpus']} CPUs, "
             f"load average {os.getloadavg()[0]:.1f}",
             f"{'latency (ms)':<22}{'app p50':>9}{'app p95':>9}{'base p50':>9}{'base p95':>9}{'p95 ratio':>11}   (target <= 1.5x)"]
    for k, label in (("first_paint", "first paint"), ("page_switch", "page switch"), ("interaction", "interaction")):
        lines.append(f"{label:<22}{ms(app[k], 'p50_s'):>9}{ms(app[k], 'p95_s'):>9}{ms(base[k], 'p50_s'):>9}{ms(base[k], 'p95_s'):>9}{rat(r['ratio'][k]):>11}")
    for name, s in app.get("page_switch_by_page", {}).items():
        lines.append(f"{'  app open ' + name:<22}{ms(s, 'p50_s'):>9}{ms(s, 'p95_s'):>9}")
    for name, s in app["interaction_by_page"].items():
        lines.append(f"{'  app ' + name:<22}{ms(s, 'p50_s'):>9}{ms(s, 'p95_s'):>9}")
    g = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
    lines += [
        f"{'server':<22}{'app':>12}{'baseline':>12}",
        f"{'errors':<22}{app['errors']:>12}{base['errors']:>12}   (target 0)",
        f"{'RSS start (MB)':<22}{app['rss_start_mb']:>12.0f}{base['rss_start_mb']:>12.0f}",
        f"{'RSS peak (MB)':<22}{app['rss_peak_mb']:>12.0f}{base['rss_peak_mb']:>12.0f}   (target < 1200)",
        f"{'RSS growth (MB)':<22}{g(app['rss_growth_mb']):>12}{g(base['rss_growth_mb']):>12}   (last pass - first pass, target < 50)",
        f"{'CPU mean / peak (%)':<22}{app['cpu_mean_pct']:>6.0f}/{app['cpu_peak_pct']:<5.0f}{base['cpu_mean_pct']:>6.0f}/{base['cpu_peak_pct']:<5.0f}",
        f"{'wall (s)':<22}{app['wall_s']:>12.1f}{base['wall_s']:>12.1f}",
        "within targets: " + ", ".join(f"{k} {'-' if v is None else ('ok' if v else 'NO')}" for k, v in r["within_targets"].items()),
    ]
    for name in ("app", "baseline"):
        for e in r[name]["error_messages"][:5]:
            lines.append(f"  {name} error: {e}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.load", description="Concurrent browser sessions against app.py and a minimal baseline app.")
    ap.add_argument("--sessions", type=int, default=8, help=f"concurrent browser sessions (1..{MAX_SESSIONS}, default 8)")
    ap.add_argument("--passes", type=int, default=3, help=f"walks through every page per session (1..{MAX_PASSES}, default 3)")
    ap.add_argument("--run", default=None, help="sidebar name of the run (default: pretrained mod113, else a demo run)")
    ap.add_argument("--runs-dir", default=None, help="GROK_RUNS_DIR for the app server")
    ap.add_argument("--timeout", type=float, default=1200, help="stop the sessions after this many seconds (default 1200)")
    ap.add_argument("--json", action="store_true", help="also print one JSON object on the last line")
    a = ap.parse_args(argv)
    if not 1 <= a.sessions <= MAX_SESSIONS or not 1 <= a.passes <= MAX_PASSES:
        ap.error(f"--sessions must be 1..{MAX_SESSIONS} and --passes 1..{MAX_PASSES}")
    return drv.report_cli(lambda: load_test(a.sessions, a.passes, drv.default_target(a.run, a.runs_dir), a.timeout), table, a.json)


if __name__ == "__main__":
    sys.exit(main())
