"""The Replay in headless Chromium: scrubbing and playing happen in the browser.

Checked as a visitor would see it: the player's readout, the titles of every panel of the one
Vega chart (each names its step), and the websocket: while scrubbing (keys, the slider, jump
buttons) and playing, the page sends nothing to the server; once paused it reports the step
once, and the other pages then show that same shared step.
"""
from __future__ import annotations

import re

import pytest

from tools import appdriver as drv

READY = "() => !!(window.__grokReplay && window.__grokReplay.input && window.__grokReplay.input.isConnected)"
# every step the chart shows: the header ("Step 6,050  (frame ...") and each panel title ("... at step 6,050")
CHART_STEPS = """() => [...document.querySelectorAll('.st-key-replay_chart svg text')].map(t => t.textContent)
  .map(t => (t.match(/^Step ([\\d,]+) /) || t.match(/ at step ([\\d,]+)$/) || [])[1]).filter(Boolean)"""
READOUT = "[data-testid='replayReadout']"


def readout(page) -> tuple[int, int, int]:
    """(step, frame 1-based, frames) from the player's 'step 6,050 — frame 123 of 218'."""
    m = re.fullmatch(r"step ([\d,]+) \u2014 frame (\d+) of (\d+)", page.locator(READOUT).inner_text().strip())
    assert m, page.locator(READOUT).inner_text()
    return int(m[1].replace(",", "")), int(m[2]), int(m[3])


def same_frame(page) -> int:
    """Wait until every panel shows the player's step; return it."""
    step = readout(page)[0]
    want = f"{step:,}"
    page.wait_for_function(f"() => {{ const s = ({CHART_STEPS})(); return s.length >= 10 && s.every(x => x === {want!r}); }}",
                           timeout=20_000, polling="raf")
    shown = page.evaluate(CHART_STEPS)
    assert len(shown) >= 10 and set(shown) == {want}, shown
    return step


@pytest.fixture
def replay(page, app, target):
    """The Replay page, loaded, with the player attached to the chart; returns (page, sent frames)."""
    sent: list = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    page.goto(drv.page_url(app.url, "/replay", run=target.run), timeout=drv.TIMEOUT_MS)
    page.wait_for_function(READY, timeout=drv.TIMEOUT_MS, polling=200)
    drv.wait_idle(page)
    assert not drv.exceptions(page)
    page.evaluate("() => { window.__grokReplay.idleMs = 600000; }")  # no report while the test scrubs (restored below)
    page.wait_for_timeout(500)
    return page, sent


def test_scrub_and_play_send_nothing_and_every_panel_shows_the_frame(replay):
    page, sent = replay
    before = len(sent)
    step, frame, frames = readout(page)
    assert frame == frames and step == same_frame(page)  # opens at the shared step: the final one by default
    page.locator(".grok-player").focus()
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    assert readout(page)[1] == frames - 3
    same_frame(page)
    page.evaluate("() => { const s = document.querySelector('.grok-player .gp-slider'); s.value = '10';"
                  " s.dispatchEvent(new Event('input', { bubbles: true })); }")  # as a drag does
    assert readout(page)[1] == 11
    same_frame(page)
    page.locator("[data-testid='stMain'] h1").click()  # focus outside the player: the arrow keys still step
    page.keyboard.press("ArrowRight")
    assert readout(page)[1] == 12
    jumps = page.evaluate("() => window.__grokReplay.data.jumps")
    grok = next(j for j in jumps if j["label"] == "grokking")
    if grok["frame"] is not None:
        page.locator(".grok-player .gp-jumps button", has_text="grokking").click()
        assert readout(page)[1] == grok["frame"] + 1
        steps = page.evaluate("() => window.__grokReplay.data.steps")
        assert readout(page)[0] == steps[grok["frame"]]  # the frame nearest the phase boundary
        assert min(steps, key=lambda s: abs(s - grok["step"])) == steps[grok["frame"]]
        same_frame(page)
    page.locator(".grok-player .gp-speed").select_option("15")
    start = readout(page)[1]
    page.locator(".grok-player .gp-play").click()
    page.wait_for_function(f"() => window.__grokReplay.frame + 1 >= {start + 3}", timeout=20_000, polling="raf")
    page.locator(".grok-player .gp-play").click()  # pause
    assert readout(page)[1] >= start + 3  # Play advanced frames
    same_frame(page)
    assert len(sent) == before, f"{len(sent) - before} websocket frames sent while scrubbing / playing"


def test_pausing_reports_the_step_once_and_other_pages_follow(replay):
    page, sent = replay
    page.evaluate("() => { window.__grokReplay.idleMs = 500; }")
    page.locator(".grok-player").focus()
    before = len(sent)
    for _ in range(5):
        page.keyboard.press("ArrowLeft")
    step = same_frame(page)
    page.wait_for_function("(n) => window.__grokReplay.reported === n", arg=step, timeout=20_000)
    page.wait_for_url(re.compile(rf"[?&]step={step}(&|$)"), timeout=20_000)  # the shared step, in the link too
    drv.wait_idle(page)
    assert len(sent) - before == 1, f"{len(sent) - before} websocket frames for one pause (expected one report)"
    assert not drv.exceptions(page)
    side = page.locator("[data-testid='stSidebar'] [data-testid='stMarkdownContainer']", has_text="set by the replay player")
    assert side.first.inner_text().startswith(f"Step {step:,}")  # the sidebar's step line follows the player
    spec = {s.name: s for s in drv.APP_PAGES}["ask"]
    drv.click_page(page, spec)
    assert re.search(rf"[?&]step={step}(&|$)", page.url), page.url
    thumb = page.locator("[data-testid='stSidebar'] [data-testid='stSliderThumbValue']")
    if thumb.count():  # the sidebar's step slider on the other pages
        assert thumb.first.inner_text().replace(",", "") == str(step)


def test_side_by_side_opens_on_demand_and_follows_the_player(replay):
    """The compared runs' charts are not drawn until the visitor opens the section (a page view
    mounts one Vega view, not two); once open, the compared run's chart sits at its frame nearest
    the player's step and follows a scrub with no websocket frame sent."""
    page, sent = replay
    header = page.locator(".st-key-replay_side summary")
    if not header.count():
        pytest.skip("no other run with a replay to compare with")
    cmp_inputs = "[class*='st-key-replay_cmp_'] .vega-bindings input[type=range]"
    assert page.locator(cmp_inputs).count() == 0  # nothing drawn while the section is closed
    header.click()
    page.locator(cmp_inputs).first.wait_for(state="attached", timeout=drv.TIMEOUT_MS)
    drv.wait_idle(page)
    followers = page.evaluate("() => window.__grokReplay.data.followers")

    def in_step() -> None:  # every compared chart at its frame nearest the player's step
        step = readout(page)[0]
        for f in followers:
            want = min(range(len(f["steps"])), key=lambda i: (abs(f["steps"][i] - step), i))
            page.wait_for_function("([sel, v]) => { const e = document.querySelector(sel + ' .vega-bindings input[type=range]');"
                                   " return !e || e.value === String(v); }", arg=[f["target"], want], timeout=20_000)
            shown = page.evaluate("(sel) => { const e = document.querySelector(sel + ' .vega-bindings input[type=range]'); return e && e.value; }", f["target"])
            assert shown in (None, str(want)), (f["target"], shown, want)
        assert any(page.evaluate("(sel) => !!document.querySelector(sel + ' .vega-bindings input')", f["target"]) for f in followers)

    in_step()
    before = len(sent)
    page.locator(".grok-player").focus()
    for _ in range(4):
        page.keyboard.press("ArrowLeft")
    in_step()
    assert len(sent) == before, f"{len(sent) - before} websocket frames sent while the compared runs followed a scrub"
