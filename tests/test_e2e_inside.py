"""End to end in Chromium: draw on the Draw page, follow "See inside the network", find the layers.

Without Chromium (or Playwright) it skips, except under CI, where it fails.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import pen_timing

pytestmark = pytest.mark.browser

# A seven in canvas pixels (280 px canvas): the bar, then the slanted stem.
SEVEN = [np.array([[80.0, 70.0], [200.0, 70.0]]), np.array([[200.0, 70.0], [150.0, 150.0], [120.0, 220.0]])]
# A Draw page run waits for the model, and the Explore page for TensorFlow's import: a cold server takes a while.
LOAD_MS = 180_000


def test_a_drawing_followed_inside_the_network(page, app_url, tmp_path):
    page.goto(app_url)
    page.get_by_text("Draw a digit on the canvas").wait_for(timeout=LOAD_MS)
    pen_timing.trace_with_mouse(page, SEVEN, pen_timing.ready_canvas_box(page))
    link = page.get_by_role("link", name="See inside the network")
    try:
        link.wait_for(timeout=LOAD_MS)
        answer = page.get_by_test_id("stMetric").filter(has_text="Prediction").get_by_test_id("stMetricValue")
        drawn = answer.inner_text().strip()
        link.click()
        first = page.get_by_text("conv2d → batch_normalization → activation", exact=False).first
        first.wait_for(timeout=LOAD_MS)
    except Exception:
        page.screenshot(path=str(tmp_path / "inside.png"), full_page=True)
        raise
    assert "section=" not in page.url  # the link's request was followed once, then dropped
    assert page.get_by_text("· 28×28×32").first.is_visible()
    # The first layer's maps: the picture after the input, its 32 maps of 56 px (and a 2 px gap), 16 a row.
    grid = page.locator("[data-testid='stImage'] img").nth(1)
    grid.wait_for()
    assert grid.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [16 * 58, 2 * 58]
    assert page.get_by_text("Your latest drawing").first.is_visible()
    if drawn != "?":  # "?": the Draw page doubted it is a digit; the layers still read one
        assert page.get_by_text(f"Reads a {drawn}").first.is_visible()
