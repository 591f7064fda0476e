"""What one page view costs, page by page: `python -m tools.page_cost [--views N] [--json]`.

Why: under the load test (tools/load) eight headless Chromiums share the server's two cores, so
a page switch there mostly measures how much the BROWSER has to draw. This measures that
directly, on a quiet machine, for every page of the app and of the load test's minimal baseline
app in the same run: after two unmeasured walks (warm caches), each page is opened N times with
its sidebar link (from another page), and each view reports
- wall: click to the page drawn (tools/appdriver.click_page, the load test's own wait);
- renderer: the page's main-thread time (Chrome's Performance.getMetrics TaskDuration, of which
  script and style + layout are shown too), from the click until 300 ms after it was drawn;
- server: the server process tree's CPU seconds over the same span.
Medians per page, and each page's renderer time as a ratio to the baseline pages' median: the
load test's page-switch ratio follows these. Never asserted in tests (a measurement).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from tools import appdriver as drv
from tools.load import BASELINE_APP, BASELINE_PAGES

SETTLE_MS = 300  # after the page is drawn: late work (a chart's second layout pass) still counts


def _views(app, pages, ready_nav: str, n: int, env: dict, params: dict, browser) -> dict:
    srv = drv.start_server(app=app, cwd=app.parent, env=env)
    try:
        srv.wait_healthy(timeout=120)
        page = drv.new_page(browser, 1280, 1000)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")

        def metrics() -> tuple[float, float, float]:
            m = {d["name"]: d["value"] for d in cdp.send("Performance.getMetrics")["metrics"]}
            return m["TaskDuration"], m["ScriptDuration"], m["LayoutDuration"] + m["RecalcStyleDuration"]

        page.goto(drv.page_url(srv.url, "/", **params), timeout=120_000)
        drv.wait_app_ready(page, ready_nav, timeout_ms=120_000)
        for _ in range(2):  # warm: every page's caches and the browser's chunks
            for spec in pages[1:] + pages[:1]:
                drv.click_page(page, spec)
        out = {}
        for spec in pages:
            rows = []
            for _ in range(n):
                drv.click_page(page, pages[1] if spec is pages[0] else pages[0])
                page.wait_for_timeout(SETTLE_MS)
                t0, s0, l0 = metrics()
                c0 = drv.tree_usage(srv.proc.pid)[1]
                wall = drv.click_page(page, spec)
                page.wait_for_timeout(SETTLE_MS)
                t1, s1, l1 = metrics()
                c1 = drv.tree_usage(srv.proc.pid)[1]
                rows.append((wall, t1 - t0, s1 - s0, l1 - l0, c1 - c0))
            med = [statistics.median(r[i] for r in rows) for i in range(5)]
            out[spec.name] = {"wall_ms": 1000 * med[0], "renderer_ms": 1000 * med[1], "script_ms": 1000 * med[2],
                              "style_layout_ms": 1000 * med[3], "server_cpu_ms": 1000 * med[4], "n": n}
        page.context.close()
        return out
    finally:
        srv.stop()


def measure(n: int = 4, target: drv.Target | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    target = target or drv.default_target()
    with sync_playwright() as pw:
        browser = drv.launch_browser(pw)
        try:
            t0 = time.perf_counter()
            base = _views(BASELINE_APP, BASELINE_PAGES, "Page 2", n, {"GROK_RUNS_DIR": None}, {}, browser)
            app = _views(drv.APP, drv.APP_PAGES, drv.READY_NAV, n, {**target.env(), "GROK_DEMO": None}, {"run": target.run}, browser)
        finally:
            browser.close()
    floor = statistics.median(v["renderer_ms"] for v in base.values())
    for v in app.values():
        v["renderer_ratio"] = v["renderer_ms"] / floor if floor else None
    return {"run": target.run, "note": target.note, "views": n, "app": app, "baseline": base,
            "baseline_renderer_ms": floor, "wall_s": time.perf_counter() - t0}


def table(r: dict) -> str:
    lines = [f"Page view cost: {r['note']} (?run={r['run']}), median of {r['views']} views per page",
             f"{'page':<14}{'wall':>8}{'renderer':>10}{'script':>8}{'style+layout':>14}{'server CPU':>12}{'renderer / baseline':>21}"]
    for who in ("baseline", "app"):
        for name, v in r[who].items():
            ratio = f"{v['renderer_ratio']:.2f}x" if v.get("renderer_ratio") else ""
            lines.append(f"{(who + ' ' + name)[:14]:<14}{v['wall_ms']:>6.0f}ms{v['renderer_ms']:>8.0f}ms{v['script_ms']:>6.0f}ms"
                         f"{v['style_layout_ms']:>12.0f}ms{v['server_cpu_ms']:>10.0f}ms{ratio:>21}")
    lines.append(f"baseline pages' median renderer time: {r['baseline_renderer_ms']:.0f} ms")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.page_cost", description="Browser and server cost of one page view, page by page.")
    ap.add_argument("--views", type=int, default=4, help="views per page (default 4)")
    ap.add_argument("--run", default=None, help="sidebar name of the run (default: pretrained mod113, else a demo run)")
    ap.add_argument("--json", action="store_true", help="also print one JSON object on the last line")
    a = ap.parse_args(argv)
    if not 1 <= a.views <= 50:
        ap.error("--views must be 1..50")
    return drv.report_cli(lambda: measure(a.views, drv.default_target(a.run)), table, a.json)


if __name__ == "__main__":
    sys.exit(main())
