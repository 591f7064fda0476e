"""The explorable in headless Chromium (issue 10): every page of app.py's navigation at a
desktop (1440 x 900) and a phone (390 x 844) width with nothing drawn past the viewport's
right edge, screenshots of each (<page>.png, <page>-phone.png under the screenshots folder,
GROK_SCREENSHOTS=docs/screenshots for the README's), and the links between views: a click on
a cell of the Ask table selects that (x, y); a click on a bar of the excluded-loss spectrum
toggles that frequency in the ablation set."""
from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from tools import appdriver as drv

VIEWPORTS = {"": (1440, 900), "-phone": (390, 844)}

# Everything that draws: charts, images, equations, grid components, tables. Each must end
# inside the viewport (1 px of rounding allowed).
_OVERFLOW = """(vw) => {
  const sel = "[data-testid='stVegaLiteChart'], [data-testid='stImage'] img, .katex-display, .katex, .grid-root, "
            + "[data-testid='stDataFrame'], [data-testid='stMetric'], [data-testid='stMarkdownContainer'] table, canvas, svg.marks";
  const out = [];
  const roots = [document];
  document.querySelectorAll('*').forEach(e => { if (e.shadowRoot) roots.push(e.shadowRoot); });
  for (const r of roots) for (const e of r.querySelectorAll(sel)) {
    const b = e.getBoundingClientRect();
    if (b.width === 0 || b.height === 0) continue;
    if (e.closest && e.closest("[data-testid='stSidebar']")) continue;
    const name = e.getAttribute('data-testid') || (typeof e.className === 'string' ? e.className : e.tagName);
    if (b.right > vw + 1) out.push(`${name}: right edge ${Math.round(b.right)} px`);
    // a box that fits but whose content is wider is cut off (KaTeX displays and charts scroll inside)
    else if (!e.matches("[data-testid='stDataFrame'], [data-testid='stMetric']") && e.scrollWidth > e.clientWidth + 2)
      out.push(`${name}: content ${e.scrollWidth} px wide in a ${e.clientWidth} px box`);
  }
  return out;
}"""


def nav_pages(page, base: str, run: str) -> list[tuple[str, str]]:
    """(name, path) of every page in app.py's navigation, read from the sidebar's links."""
    page.goto(drv.page_url(base, "/", run=run))
    drv.wait_app_ready(page)
    hrefs = page.locator(drv.NAV_LINK).evaluate_all("els => els.map(e => e.getAttribute('href'))")
    out = []
    for h in hrefs:
        path = urlparse(h).path.rstrip("/")
        name = path.rsplit("/", 1)[-1] or "home"
        out.append((name, "/" + path.rsplit("/", 1)[-1] if name != "home" else "/"))
    assert len(out) >= 6, out
    return out


def wait_settled(page) -> None:
    drv.wait_idle(page)
    page.wait_for_timeout(1500)  # charts with width="stretch" re-lay out; Vega draws after the script ends
    drv.wait_idle(page)


def test_every_page_fits_desktop_and_phone(app, browser, target, screenshots_dir):
    probe = drv.new_page(browser)
    try:
        pages = nav_pages(probe, app.url, target.run)
    finally:
        probe.context.close()
    problems = {}
    for suffix, (w, h) in VIEWPORTS.items():
        pg = drv.new_page(browser, w, h)
        try:
            for name, path in pages:
                pg.goto(drv.page_url(app.url, path, run=target.run))
                pg.wait_for_selector(f"{drv.MAIN} h1", timeout=drv.TIMEOUT_MS)
                wait_settled(pg)
                errs = drv.exceptions(pg)
                assert not errs, f"{name}{suffix}: {errs[0]}"
                bad = pg.evaluate(_OVERFLOW, w)
                if bad:
                    problems[f"{name}{suffix}"] = bad[:5]
                pg.screenshot(path=str(screenshots_dir / f"{name}{suffix}.png"), type="png")
                full = drv.ROOT / "tests" / "artifacts" / "full-page"  # the whole scroll height, to look at (not committed)
                full.mkdir(parents=True, exist_ok=True)
                tall = pg.evaluate("() => Math.max(...[...document.querySelectorAll('[data-testid=stMain] *')].slice(0, 4000).map(e => e.scrollHeight))")
                pg.set_viewport_size({"width": w, "height": min(int(tall) + 100, 12000)})
                wait_settled(pg)
                pg.screenshot(path=str(full / f"{name}{suffix}.png"), type="png")
                pg.set_viewport_size({"width": w, "height": h})
        finally:
            pg.context.close()
    assert not problems, problems


def _inputs(page) -> tuple[int, int]:
    vals = drv.number_inputs(page).evaluate_all("els => els.map(e => e.value)")
    return int(vals[0]), int(vals[1])


def test_clicking_a_cell_of_the_ask_table_selects_that_pair(open_page):
    page = open_page("ask", x=5, y=7)
    assert _inputs(page) == (5, 7)
    grid = page.locator(f"{drv.MAIN} .grid-root").first
    grid.wait_for(state="visible")
    grid.scroll_into_view_if_needed()
    rows = int(grid.get_attribute("data-rows"))
    box = grid.locator("img").bounding_box()
    r, c = min(20, rows - 1), min(30, rows - 1)
    grid.hover(position={"x": (c + 0.5) * box["width"] / rows, "y": (r + 0.5) * box["height"] / rows})
    tip = grid.locator(".grid-tip")
    m = re.fullmatch(rf"x = {r}, y = {c}: model says (\d+)", tip.inner_text().strip())
    assert tip.is_visible() and m, tip.inner_text()  # decoded in the browser from the packed answers
    grid.click(position={"x": (c + 0.5) * box["width"] / rows, "y": (r + 0.5) * box["height"] / rows})
    page.wait_for_function("""([r, c]) => { const i = [...document.querySelectorAll("[data-testid='stMain'] [data-testid='stNumberInput'] input")];
        const a = document.querySelector("[data-testid='stApp']");
        return a.dataset.testScriptState === 'notRunning' && i.length >= 2 && +i[0].value === r && +i[1].value === c; }""",
                           arg=[r, c], timeout=drv.TIMEOUT_MS)
    assert _inputs(page) == (r, c)
    label = page.locator(f"{drv.MAIN} [data-testid='stMetricLabel']").first.inner_text()
    assert label.startswith(f"{r} + {c} mod"), label
    says = page.locator(f"{drv.MAIN} [data-testid='stMetric']").filter(has_text="Model says").locator("[data-testid='stMetricValue']").inner_text()
    assert says.strip() == m.group(1)  # the tooltip's answer is the one the page then reports
    assert grid.get_attribute("data-hl") == f"{r},{c}"  # the outline moved to the clicked cell
    box, hl = grid.locator("img").bounding_box(), grid.locator(".grid-hl").bounding_box()  # and is drawn over it, one cell big
    assert int((hl["y"] + hl["height"] / 2 - box["y"]) / box["height"] * rows) == r
    assert int((hl["x"] + hl["width"] / 2 - box["x"]) / box["width"] * rows) == c
    assert hl["width"] == pytest.approx(box["width"] / rows, abs=1)
    assert not drv.exceptions(page)


def _chips(page) -> list[int]:
    """The pressed frequency keys on /ablations (the ablation set as the page drew it)."""
    return drv.chosen_keys(page)


_CHIPS_ARE = """(want) => { const a = document.querySelector("[data-testid='stApp']");
    let n = 0;  // the keys live in their component's shadow DOM
    for (const h of document.querySelectorAll("[data-testid='stMain'] [data-testid='stBidiComponentIsolated']"))
      if (h.shadowRoot) n += h.shadowRoot.querySelectorAll('.fk-k.on').length;
    return a.dataset.testScriptState === 'notRunning' && n === want; }"""


def test_a_frequency_key_toggles_the_ablation_and_the_link(open_page):
    """A click on a key takes its frequency out of the set: the result, the link and the
    chart's outlined bars follow, and a second click puts it back."""
    page = open_page("ablations", site="logits", mode="remove")
    before = _chips(page)
    heading = page.locator(f"{drv.MAIN} h3", has_text="Result:").first
    key = page.locator(f"{drv.MAIN} .fk-root .fk-k[data-k='{before[0]}']")
    assert key.get_attribute("aria-pressed") == "true"
    key.click()
    page.wait_for_function("""(k) => { const a = document.querySelector("[data-testid='stApp']");
        const h = [...document.querySelectorAll("[data-testid='stMain'] h3")].find(e => e.innerText.startsWith('Result:'));
        return a.dataset.testScriptState === 'notRunning' && !!h && !h.innerText.split('at the')[0].split(/[ ,]+/).includes(String(k)); }""",
                           arg=before[0], timeout=drv.TIMEOUT_MS)
    assert _chips(page) == before[1:] and key.get_attribute("aria-pressed") == "false"
    assert f"freqs={'%2C'.join(map(str, before[1:]))}" in page.url
    key.click()
    page.wait_for_function(_CHIPS_ARE, arg=len(before), timeout=drv.TIMEOUT_MS)
    page.wait_for_function("(want) => location.search.includes(want)", arg=f"freqs={'%2C'.join(map(str, before))}", timeout=drv.TIMEOUT_MS)
    assert _chips(page) == before and str(before[0]) in heading.inner_text()
    assert not drv.exceptions(page)


def _outlined_bars(page) -> list[int]:
    """The k of the excluded-loss chart's outlined bars (components/bars.py, in its shadow DOM)."""
    return sorted(int(g.get_attribute("data-k")) for g in page.locator(f"{drv.MAIN} .bk-root .bk-bar").all()
                  if "bk-on" in (g.locator("rect").nth(1).get_attribute("class") or ""))


def test_clicking_a_spectrum_bar_toggles_that_frequency(open_page):
    page = open_page("ablations", site="logits", mode="remove")
    before = _chips(page)
    assert _outlined_bars(page) == before  # the set, outlined on the chart
    k = next(j for j in range(1, 200) if j not in before)
    bar = page.locator(f"{drv.MAIN} .bk-root .bk-bar[data-k='{k}']")
    bar.scroll_into_view_if_needed()
    bar.hover()
    assert f"k = {k} (" in bar.locator("title").text_content() and "click to add it" in bar.locator("title").text_content()
    bar.click()
    page.wait_for_function(_CHIPS_ARE, arg=len(before) + 1, timeout=drv.TIMEOUT_MS)
    assert _chips(page) == sorted(before + [k]) == _outlined_bars(page)
    heading = page.locator(f"{drv.MAIN} h3", has_text="Result:").first.inner_text()
    assert str(k) in heading
    bar.click()  # the same bar again: out of the set
    page.wait_for_function(_CHIPS_ARE, arg=len(before), timeout=drv.TIMEOUT_MS)
    assert _chips(page) == before == _outlined_bars(page)
    box = page.locator(f"{drv.MAIN} .bk-root svg").bounding_box()
    assert box["width"] > 250 and box["height"] >= 290  # drawn at the column's width and its height
    assert not drv.exceptions(page)


def test_a_bar_of_the_neurons_spectrum_joins_the_ablation_set(open_page):
    page = open_page("neurons")
    link = page.locator(f"{drv.MAIN} [data-testid='stPageLink']", has_text="Ablation set").first
    before = sorted(int(t) for t in re.findall(r"\d+", link.inner_text().split("k =")[1]))
    chart = page.locator(f"{drv.MAIN} .bk-root", has=page.locator(".bk-name", has_text="Embedding W_E")).first  # SVG bars
    k = next(j for j in range(1, 200) if j not in before)
    bar = chart.locator(f".bk-bar[data-k='{k}']")
    bar.scroll_into_view_if_needed()
    assert "click to add it to the ablation set" in bar.locator("title").text_content()
    bar.click()
    page.wait_for_function("""(k) => { const a = document.querySelector("[data-testid='stApp']");
        const l = [...document.querySelectorAll("[data-testid='stMain'] [data-testid='stPageLink']")].find(e => e.innerText.includes('Ablation set'));
        return a.dataset.testScriptState === 'notRunning' && !!l && l.innerText.split('k =')[1].split(',').map(s => +s.trim()).includes(k); }""",
                           arg=k, timeout=drv.TIMEOUT_MS)
    link.click()
    drv.wait_page(page, next(s for s in drv.APP_PAGES if s.name == "ablations"))
    page.wait_for_function(_CHIPS_ARE, arg=len(before) + 1, timeout=drv.TIMEOUT_MS)  # the page's own widgets, not the old page's
    assert _chips(page) == sorted(before + [k])
    assert not drv.exceptions(page)


def test_the_neurons_w_l_spectrum_reads_out_but_does_not_toggle(open_page):
    page = open_page("neurons")
    chart = page.locator(f"{drv.MAIN} .bk-root", has=page.locator(".bk-name", has_text="W_L over the output c")).first
    bar = chart.locator(".bk-bar[data-k='1']")
    tip = bar.locator("title").text_content()
    assert tip.startswith("k = 1 (") and "norm in W_L" in tip and "click" not in tip  # a read-out, not a control
    link = page.locator(f"{drv.MAIN} [data-testid='stPageLink']", has_text="Ablation set").first
    before = link.inner_text()
    bar.click()
    page.wait_for_timeout(500)
    drv.wait_idle(page)
    assert link.inner_text() == before and not drv.exceptions(page)
