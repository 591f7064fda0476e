"""The Circuit page in headless Chromium: no exception box, its charts and grid images drawn,
a pair change answered, and screenshots at 1440 px and 390 px (circuit.png, circuit-phone.png
under tests/artifacts/screenshots, or docs/screenshots with GROK_SCREENSHOTS=docs/screenshots)."""
from __future__ import annotations

from tools import appdriver as drv

MAX_PNG = 400_000
SPEC = drv.PageSpec("circuit", "/circuit", "Circuit", "Circuit", 6)  # the attention maps are grid images


def test_circuit_page(app, browser, target, screenshots_dir):
    for name, (w, h) in {"circuit": (1440, 1800), "circuit-phone": (390, 1600)}.items():
        page = drv.new_page(browser, w, h)
        try:
            drv.goto_page(page, app.url, SPEC, timeout_ms=240_000, run=target.run)
            assert not drv.exceptions(page), drv.exceptions(page)
            # step 1's circles, each head's spectrum and the two line charts are SVG components (their shadow DOM)
            n = page.locator(f"{drv.MAIN} svg.nc").count()  # a plane per frequency
            assert n >= 1
            assert page.locator(f"{drv.MAIN} svg.bk-svg").count() == 4  # a spectrum per head
            assert page.locator(f"{drv.MAIN} svg.vt-svg").count() == 3  # the clusters' votes, the logits against the clock, pruning
            marked = page.locator(f"{drv.MAIN} svg.nc circle[data-mark]").evaluate_all("els => els.map(e => e.dataset.mark)")
            assert sorted(marked) == ["x"] * n + ["y"] * n  # x and y marked once on every plane
            assert drv.drawn_count(page) >= 6
            if name == "circuit":  # one person-like interaction: change x, the walk follows
                box = drv.number_inputs(page).first
                box.fill("5")
                box.press("Enter")
                page.wait_for_timeout(500)
                drv.wait_idle(page)
                assert not drv.exceptions(page)
                assert "5 + " in page.inner_text("[data-testid='stMain']")
                labels = page.locator(f"{drv.MAIN} svg.nc").evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
                assert labels and all("; x = 5 at angle" in a for a in labels), labels  # the circles follow the pair
            page.wait_for_timeout(500)
            out = screenshots_dir / f"{name}.png"
            page.screenshot(path=str(out), type="png")
            if out.stat().st_size > MAX_PNG:  # the attention maps are colourful: 256 colours keep it small
                from PIL import Image

                Image.open(out).convert("RGB").quantize(256).save(out, optimize=True)
        finally:
            page.context.close()
