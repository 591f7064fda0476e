"""Every page in headless Chromium, as a visitor sees it: no exception box, the charts drawn,
a screenshot (tests/artifacts/screenshots/<page>.png; GROK_SCREENSHOTS=docs/screenshots refreshes the README's), one person-like interaction per
main page, and bad links that warn instead of failing."""
from __future__ import annotations

import re

import pytest

from tools import appdriver as drv

PAGES = {s.name: s for s in drv.APP_PAGES}
MAX_PNG = 400_000  # bytes: README screenshots stay small
VIEWPORTS = ((1400, 1800), (1200, 1500), (1000, 1250))  # tried in order until the PNG is small enough


def no_exception(page) -> None:
    errs = drv.exceptions(page)
    assert not errs, f"exception on {page.url}: {errs[0]}"


def screenshot(page, path) -> int:
    """Viewport screenshot (not the whole scroll height), shrunk until it is under MAX_PNG."""
    for w, h in VIEWPORTS:
        page.set_viewport_size({"width": w, "height": h})
        page.wait_for_timeout(300)  # charts with width="stretch" re-lay out to the new width
        drv.wait_idle(page)
        page.screenshot(path=str(path), type="png")
        size = path.stat().st_size
        if size <= MAX_PNG:
            return size
    return size


@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_charts_and_screenshot(name, open_page, screenshots_dir):
    spec = PAGES[name]
    page = open_page(name)
    no_exception(page)
    n = drv.drawn_count(page)  # Vega charts, images and the components' drawings
    assert n >= spec.min_charts, f"{name}: {n} charts or drawings, expected at least {spec.min_charts}"
    charts = page.locator(f"{drv.MAIN} [data-testid='stVegaLiteChart']")
    if charts.count():
        drawn = charts.first.locator("svg.marks, canvas.marks")
        assert drawn.count() == 1 and drawn.first.is_visible()
        box = drawn.first.bounding_box()
        assert box and box["width"] > 50 and box["height"] > 50, box  # a real drawing, not an empty frame
    if name != "home":  # the sidebar shows the session's run
        page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.wait_for(state="visible", timeout=10_000)
    out = screenshots_dir / f"{name}.png"
    size = screenshot(page, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert size <= MAX_PNG, f"{out}: {size} bytes even at {VIEWPORTS[-1]}"


def test_ask_five_plus_seven(open_page):
    page = open_page("ask")
    drv.ask(page, 5, 7)
    no_exception(page)
    labels = [t.strip() for t in page.locator(f"{drv.MAIN} [data-testid='stMetricLabel']").all_inner_texts()]
    values = drv.metric_values(page)
    assert re.fullmatch(r"5 \+ 7 mod \d+", labels[0]), labels
    assert values[0] == "12"  # the true answer
    assert labels[1] == "Model says" and values[1] == "12"  # the session's run has grokked
    assert "x=5" in page.url and "y=7" in page.url  # the link reopens this question
    # the clocks (one SVG per key frequency, components/clocks.py) follow the question: x, y and the answer on each
    clocks = page.locator(f"{drv.MAIN} svg.ck")
    clocks.first.wait_for(state="visible", timeout=10_000)
    said = [clocks.nth(i).get_attribute("aria-label") for i in range(clocks.count())]
    assert said and all(re.search(r"\bx 5 at .*\by 7 at .*model's answer 12 at ", s) for s in said), said
    box = clocks.first.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, box  # drawn at its size, not collapsed
    # the votes (components/votes.py): a line per clock, their sum, the true answer's rule; a hover reads all at one c
    votes = page.locator(f"{drv.MAIN} .vt-root")
    assert votes.locator("path.vt-line").count() == clocks.count() and votes.locator("path.vt-total").count() == 1
    assert "true answer 12" in votes.locator("svg").get_attribute("aria-label")
    plot = votes.locator(".vt-plot").bounding_box()
    page.mouse.move(plot["x"] + plot["width"] / 2, plot["y"] + plot["height"] / 2)
    tip = votes.locator(".vt-tip")
    tip.wait_for(state="visible", timeout=5_000)
    assert re.match(r"c = \d+", tip.inner_text()) and "sum:" in tip.inner_text() and tip.inner_text().count("k = ") == clocks.count()


def test_home_curves_read_every_line_at_one_step(open_page):
    """Home's loss and accuracy (components/curves.py, SVG): a line per series and run, the
    sidebar step's marker, a hover that reads every line at one step, the linear step axis."""
    page = open_page("home")
    charts = page.locator(f"{drv.MAIN} .cv-root")
    assert charts.count() == 2
    loss = charts.first
    lines = loss.locator("path.cv-line").count()
    runs = loss.locator(".cv-head .cv-si, .cv-head .cv-di").count()  # the run legend: only with the contrast run shown
    assert lines == 2 * max(runs, 1) and loss.locator("path.cv-dash").count() == (2 if runs == 2 else 0)
    assert loss.locator("line.cv-marker").count() == 1
    said = loss.locator("svg").get_attribute("aria-label")
    assert said.startswith("Loss over step (log): train") and " ends at " in said, said
    box = loss.locator("svg").bounding_box()
    assert box and box["width"] > 200 and box["height"] > 200, box
    plot = loss.locator(".cv-plot").bounding_box()
    page.mouse.move(plot["x"] + plot["width"] * 0.8, plot["y"] + plot["height"] / 2)
    tip = loss.locator(".cv-tip")
    tip.wait_for(state="visible", timeout=5_000)
    text = tip.inner_text()
    assert re.match(r"step [\d,]+", text) and text.count(":") == lines, text  # one "series: value" line per drawn line
    page.locator(f"{drv.MAIN} [data-testid='stButtonGroup'] button", has_text="linear").click()
    page.wait_for_function("() => { const r = [...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(Boolean)"
                           ".flatMap(s => [...s.querySelectorAll('svg.cv-svg')]); return r.length === 2 && r.every(s =>"
                           " s.getAttribute('aria-label').includes(' over step: ')); }", timeout=20_000)
    no_exception(page)


def test_ablation_toggle_changes_accuracy(open_page):
    page = open_page("ablations")
    # the page is drawn (its charts are) and idle; wait for what this test reads too: once, in a full suite, the
    # metrics were not yet in the DOM when the charts were
    page.locator(f"{drv.MAIN} [data-testid='stMetricValue']").first.wait_for(timeout=drv.TIMEOUT_MS)
    drv.wait_idle(page)
    before = drv.metric_values(page)[0]  # train accuracy with every key frequency removed
    toggle = drv.FrequencyToggle()
    toggle(page)  # take one key frequency out of the removed set
    no_exception(page)
    after = drv.metric_values(page)[0]
    assert re.fullmatch(r"\d+\.\d%", after), after
    assert after != before, f"train accuracy stayed {before} after un-removing k = {toggle.removed}"
    assert "freqs=" in page.url and toggle.removed.split()[0] not in page.url.split("freqs=")[1].split("&")[0].split("%2C")


def test_replay_scrubber_moves_the_marker(open_page):
    """One keyboard step of the Replay player moves the loss chart's marker and the step readout
    (in the browser; tests/browser/test_replay_scrub.py checks there is no round trip)."""
    page = open_page("replay")
    page.wait_for_function("() => !!(window.__grokReplay && window.__grokReplay.input)", timeout=60_000)
    marker = drv.replay_marker(page)
    assert marker is not None, "no step marker on the Replay loss chart"
    readout = page.locator("[data-testid='replayReadout']")
    step_before = readout.inner_text()
    drv.replay_step(page)
    no_exception(page)
    assert drv.replay_marker(page) != marker
    assert readout.inner_text() != step_before


@pytest.mark.parametrize("name, params", [
    ("ask", {"x": "999"}),
    ("home", {"run": "nope"}),
    ("ablations", {"step": "banana"}),
    ("ablations", {"freqs": "0,abc"}),
    ("replay", {"frame_step": "-5"}),
    ("neurons", {"neuron": "99999"}),
])
def test_bad_query_params_warn(name, params, open_page):
    page = open_page(name, **params)
    no_exception(page)
    warnings = page.locator("[data-testid='stAlertContentWarning']")
    assert warnings.count() >= 1, f"no warning for {params}"
    (key, value), = params.items()
    assert any(f"?{key}={value}" in t for t in warnings.all_inner_texts()), warnings.all_inner_texts()


def test_neurons_small_spectrum_names_sit_beside_their_cells(open_page):
    """The compact 2-D spectrum is a grid image with its basis names written beside the rows and
    above the columns (components/grid.py, show_names): each name must line up with its cell."""
    page = open_page("neurons")
    no_exception(page)
    g = page.locator(f"{drv.MAIN} .grid-named").first
    g.wait_for(state="visible", timeout=10_000)
    rows, cols = g.locator(".grid-rn span"), g.locator(".grid-cn span")
    n = rows.count()
    assert n >= 3 and cols.count() == n  # the constant and the cos / sin rows of at least one frequency, square
    assert rows.first.inner_text() == "const" and rows.nth(1).inner_text().startswith("cos ")
    img = g.locator(".grid-img").bounding_box()
    assert img["width"] > 5 * n and abs(img["width"] - img["height"]) < 2  # scaled up from one pixel per cell, square cells
    cell = img["height"] / n
    for i in (0, n - 1):
        r, c = rows.nth(i).bounding_box(), cols.nth(i).bounding_box()
        assert abs(r["y"] + r["height"] / 2 - (img["y"] + (i + 0.5) * cell)) < cell / 2, (i, r, img)  # row name beside row i
        assert abs(c["x"] + c["width"] / 2 - (img["x"] + (i + 0.5) * cell)) < cell / 2, (i, c, img)  # column name above column i
        assert r["x"] + r["width"] <= img["x"] + 1 and c["y"] + c["height"] <= img["y"] + 1  # left of and above the cells
