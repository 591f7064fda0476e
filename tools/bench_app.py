"""App benchmark: `python -m tools.bench_app [--json] [--runs N] [--run NAME] [--runs-dir DIR]`.

Measures the app's budgets from ../shared/DESIGN.md in headless Chromium, never asserted in tests:
- first paint: from launching `streamlit run app.py` until the Home page's first chart is
  visible (Chromium is started beforehand: a visitor's browser is already open);
- warm latency (median / p95 over N repeats, after one unmeasured warm-up each) of the main
  interactions: ask (type x on /ask, Enter), ablation toggle (take a frequency out of / back
  into the multiselect on /ablations), replay step (one keyboard step of the scrubber on /replay).
  An interaction is timed from the input event until Streamlit's script state is back to
  notRunning AND the element it changes has changed (tools/appdriver.py).

The run is --run (with --runs-dir as GROK_RUNS_DIR), else the shipped pretrained/mod113, else a
small demo run (p = 23) made for the purpose, which is much cheaper than the real thing: the
report names the run so numbers are never compared across runs by mistake.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time

from . import appdriver as drv

FIRST_PAINT_BUDGET_S = 5.0
INTERACTION_BUDGET_MS = 300.0
PAGES = {s.name: s for s in drv.APP_PAGES}
KEYS = ("run", "note", "repeats", "server_health_s", "first_paint_s", "ask", "ablation", "replay", "targets", "within_targets")


def stats_ms(xs: list[float]) -> dict:
    ms = [1000 * x for x in xs]
    return {"n": len(ms), "median_ms": statistics.median(ms), "p95_ms": drv.percentile(ms, 95), "max_ms": max(ms)}


def measure(n: int, target: drv.Target, timeout_s: float = 600) -> dict:
    from playwright.sync_api import sync_playwright

    deadline = time.monotonic() + timeout_s
    out: dict = {"run": target.run, "note": target.note, "repeats": n}
    with sync_playwright() as pw:
        browser = drv.launch_browser(pw)
        page = drv.new_page(browser)
        page.goto("about:blank")
        srv = drv.start_server(env=target.env())
        stage = "server start"
        try:
            out["server_health_s"] = srv.wait_healthy(timeout=120)
            stage = "first paint"
            page.goto(drv.page_url(srv.url, "/", run=target.run), timeout=120_000)
            drv.first_chart_visible(page, timeout_ms=120_000)
            out["first_paint_s"] = time.perf_counter() - srv.started
            drv.wait_app_ready(page, timeout_ms=120_000)

            def repeat(name: str, act, warmups: int) -> dict:
                for _ in range(warmups):
                    act()
                xs = []
                for _ in range(n):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"benchmark ran over {timeout_s:g} s during {name}")
                    xs.append(act())
                errs = drv.exceptions(page)
                if errs:
                    raise RuntimeError(f"exception on {name}: {errs[0]}")
                return stats_ms(xs)

            stage = "ask"
            drv.goto_page(page, srv.url, PAGES["ask"], run=target.run)
            xs = iter(range(10**6))
            out["ask"] = repeat("ask", lambda: drv.ask(page, 5 + next(xs) % 2), warmups=1)

            stage = "ablation toggle"
            drv.goto_page(page, srv.url, PAGES["ablations"], run=target.run)
            toggle = drv.FrequencyToggle()
            out["ablation"] = repeat("ablation", lambda: toggle(page), warmups=2)  # both states cached

            stage = "replay step"
            # a run without replay.safetensors shows a "Build replay" button and no charts
            drv.goto_page(page, srv.url, dataclasses.replace(PAGES["replay"], min_charts=0), run=target.run)
            if drv.replay_slider(page).count():
                drv.wait_page(page, PAGES["replay"])
                out["replay"] = repeat("replay", lambda: drv.replay_step(page), warmups=2)
            else:
                out["replay"] = None
                out["note"] += "; this run has no replay, so no replay step"
        except Exception as e:
            raise RuntimeError(f"the benchmark failed during {stage}: {e}\n--- server log ---\n{srv.log_tail()}") from e
        finally:
            srv.stop()
            browser.close()
    out["targets"] = {"first_paint_s": FIRST_PAINT_BUDGET_S, "interaction_ms": INTERACTION_BUDGET_MS}
    out["within_targets"] = {
        "first_paint": out["first_paint_s"] < FIRST_PAINT_BUDGET_S,
        **{k: out[k]["p95_ms"] < INTERACTION_BUDGET_MS for k in ("ask", "ablation", "replay") if out[k]},
    }
    return out


def table(r: dict) -> str:
    ok = lambda b: "ok" if b else "OVER"  # noqa: E731
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"grok-explorer app benchmark: {r['note']} (?run={r['run']}), {r['repeats']} repeats, "
        f"{os.cpu_count()} CPUs, load average {load:.1f}",
        f"{'':<26}{'median':>10}{'p95':>10}{'target':>12}",
        f"{'server health':<26}{r['server_health_s']:>9.2f}s{'':>10}",
        f"{'first paint (launch→chart)':<26}{r['first_paint_s']:>9.2f}s{'':>10}{'< 5 s':>12}  {ok(r['within_targets']['first_paint'])}",
    ]
    for key, label in (("ask", "ask (x on /ask)"), ("ablation", "ablation toggle"), ("replay", "replay step")):
        s = r[key]
        if s is None:
            lines.append(f"{label:<26}{'n/a':>10}")
            continue
        lines.append(f"{label:<26}{s['median_ms']:>8.0f}ms{s['p95_ms']:>8.0f}ms{'< 300 ms':>12}  {ok(r['within_targets'][key])}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.bench_app", description="First paint and warm interaction latency of the Streamlit app.")
    ap.add_argument("--runs", type=int, default=10, help="measured repeats per interaction (default 10)")
    ap.add_argument("--run", default=None, help="the sidebar name of the run to drive (default: pretrained mod113, else a demo run)")
    ap.add_argument("--runs-dir", default=None, help="GROK_RUNS_DIR for the server (where --run lives, if not in pretrained/)")
    ap.add_argument("--timeout", type=float, default=600, help="give up after this many seconds (default 600)")
    ap.add_argument("--json", action="store_true", help="also print one JSON object on the last line")
    a = ap.parse_args(argv)
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    return drv.report_cli(lambda: measure(a.runs, drv.default_target(a.run, a.runs_dir), a.timeout), table, a.json)


if __name__ == "__main__":
    sys.exit(main())
