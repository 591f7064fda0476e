"""Browser fixtures: one `streamlit run app.py` per session on a free loopback port and one
headless Chromium, driven through tools/appdriver.py (the same waits the benchmark uses).

The app shows pretrained/mod113 when it is shipped, else a small grokked run made for the
session (tools.appdriver.demo_run) and selected by ?run=. Without /usr/bin/chromium the tests
skip locally, but FAIL in CI (CI=true): a browser suite that silently skips tests nothing.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tools import appdriver as drv


@pytest.fixture(scope="session")
def target(tmp_path_factory, require_chromium) -> drv.Target:
    require_chromium()
    t = drv.default_target()
    if t.runs_dir is None:  # the shipped run: keep runs/ (being trained, maybe) out of the sidebar
        t = drv.Target(t.run, tmp_path_factory.mktemp("noruns"), t.note)
    return t


@pytest.fixture(scope="session")
def server(target):
    srv = drv.start_server(env={**target.env(), "GROK_DEMO": None})
    try:
        srv.wait_healthy(timeout=120)
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def browser(require_chromium):
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = drv.launch_browser(pw)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def app(server, browser, target):
    """The server after one full load of "/": on a fresh server the first load can show the
    auto-discovered file names before st.navigation arrives, and deep links can misbehave."""
    page = drv.new_page(browser)
    try:
        page.goto(drv.page_url(server.url, "/", run=target.run), timeout=120_000)
        drv.wait_app_ready(page, timeout_ms=120_000)
        drv.wait_page(page, drv.APP_PAGES[0], timeout_ms=120_000)
    finally:
        page.context.close()
    return server


@pytest.fixture
def page(app, browser):
    pg = drv.new_page(browser)
    yield pg
    pg.context.close()


@pytest.fixture
def open_page(page, app, target):
    """open_page(name, **params) -> the page, loaded by URL with the session's run selected."""
    specs = {s.name: s for s in drv.APP_PAGES}

    def go(name: str, **params):
        drv.goto_page(page, app.url, specs[name], **{"run": target.run, **params})
        return page

    return go


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    """tests/artifacts/screenshots by default, so a test run leaves the repository clean;
    GROK_SCREENSHOTS=docs/screenshots refreshes the README's pictures."""
    import os

    d = drv.ROOT / os.environ.get("GROK_SCREENSHOTS", "tests/artifacts/screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d
