"""One shared step in headless Chromium: after moving the sidebar's step on a page, every page
(opened by its sidebar link, as a visitor does) shows that step, and ?step= carries it."""
from __future__ import annotations

import dataclasses

import pytest

from tools import appdriver as drv

PAGES = {s.name: s for s in drv.APP_PAGES}


@pytest.mark.parametrize("start", ["home", "ablations", "train"])  # no weights needed / weights / no run view
def test_every_page_shows_the_step_moved_on_any_page(start, open_page):
    page = open_page(start)
    final = drv.shared_step_text(page)
    step = drv.move_step(page, "ArrowLeft")  # the frame before the final one: no saved weights there
    assert step and step != final, (step, final)
    # the address bar follows the run's end message, which can land a moment after the script goes idle on a busy machine
    page.wait_for_function("(s) => location.href.includes(s)", arg=f"step={step}", timeout=15_000)
    for spec in drv.APP_PAGES:
        if spec.name == start:
            continue
        drv.click_page(page, dataclasses.replace(spec, min_charts=0))  # the step, not the charts, is under test
        errs = drv.exceptions(page)
        assert not errs, f"{spec.name}: {errs[0]}"
        assert drv.shared_step_text(page) == step, f"{spec.name} shows step {drv.shared_step_text(page)}, not {step}"
        assert f"step={step}" in page.url, f"{spec.name}: {page.url}"
        if spec.name == "replay":  # the player is the control there: no second slider in the sidebar
            assert drv.step_slider(page).count() == 0
