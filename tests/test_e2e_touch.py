"""The Draw page on a phone: a 390 px touch screen in headless Chromium, fingers as CDP touch events.

A pen-written digit drawn with a finger gets the right answer, right under the canvas, without the
page scrolling; nothing is wider than the screen; Undo and Clear are buttons a finger can reach
(the canvas's own toolbar shows only on mouse hover) and the answer follows them.

Without Chromium (or Playwright) these tests skip, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import pen_timing

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(browser, app_url):
    page = pen_timing.new_page(browser, touch=True)
    page.goto(app_url)
    page.get_by_text("Draw a digit on the canvas").wait_for()
    yield page
    page.context.close()


def _prediction_is(page, expected: str) -> None:
    page.wait_for_function(
        """expected => [...document.querySelectorAll('[data-testid="stMetric"]')]
            .some(m => m.innerText.includes('Prediction') &&
                       m.querySelector('[data-testid="stMetricValue"]').innerText.trim() === expected)""",
        arg=expected,
        timeout=60_000,
    )


def _surely_read_pen_digit(pen, digit: int):
    """A held-out writer's ``digit`` in at most two strokes that the model reads surely as drawn."""
    from recognizer import load_recognizer
    from recognizer.data.pen import draw_strokes, to_rgba, writer_split

    rec = load_recognizer()
    _, held = writer_split(pen)
    for i in held[pen.labels[held] == digit]:
        if pen.stroke_counts[i] > 2:
            continue
        strokes = pen_timing.canvas_strokes(pen.strokes(int(i)))
        p = rec.predict_drawing(to_rgba(draw_strokes(strokes, pen_timing.BRUSH, (280, 280))))
        if p is not None and p.digit == digit and p.confidence > 0.97:
            return strokes
    raise AssertionError(f"no held-out {digit} the model reads surely")


def test_a_digit_drawn_with_a_finger_is_read_right_under_the_canvas(phone, pen):
    strokes = _surely_read_pen_digit(pen, 3)
    box = pen_timing.canvas_box(phone)
    pen_timing.trace_with_touch(phone, strokes, box)
    _prediction_is(phone, "3")
    metric = phone.get_by_test_id("stMetric").filter(has_text="Prediction").bounding_box()
    canvas_bottom = box["y"] + box["height"]
    assert 0 < metric["y"] - canvas_bottom < 120, "the answer is not right under the canvas"
    # Now the page is longer than the screen: a downward stroke must draw, not scroll the page.
    scrolled = phone.evaluate("window.scrollY")
    box = pen_timing.canvas_box(phone)
    pen_timing.trace_with_touch(phone, [np.array([[40.0, 40.0 + 8 * k] for k in range(25)])], box)
    phone.wait_for_timeout(1000)
    assert phone.evaluate("window.scrollY") == scrolled


def _overflowing(page) -> list[str]:
    """Visible elements of the page's main area that reach past the right edge of the screen."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stMain"] *')]
            .filter(e => { const r = e.getBoundingClientRect();
                           return r.width > 0 && r.height > 0 && r.right > innerWidth + 1; })
            .map(e => e.getAttribute('data-testid') || e.tagName)"""
    )


def _open_pen_popover(page):
    """Tap "Pen" until its brush slider shows; the popover's slider.

    A rerun that lands just after the tap (the canvas reports itself once it has mounted, which on
    a busy machine can come late) draws the popover again, closed; a person would tap again too.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    slider = page.get_by_test_id("stSlider").filter(has_text="Brush width")
    for _ in range(6):
        page.get_by_role("button", name="Pen").tap()
        try:
            slider.wait_for(timeout=10_000)
            return slider
        except PlaywrightTimeout:
            continue
    raise AssertionError("the Pen popover never showed its brush slider")


def test_nothing_on_the_phone_page_is_cut_off(phone):
    assert phone.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert _overflowing(phone) == []
    area = _open_pen_popover(phone).bounding_box()
    assert area["x"] >= 0 and area["x"] + area["width"] <= 390


def _button(page, name: str):
    """The page's own button (not the canvas toolbar's, which has the same names)."""
    return page.get_by_test_id("stBaseButton-secondary").filter(has_text=name)


def test_undo_and_clear_are_buttons_and_the_answer_follows_them(phone):
    from playwright.sync_api import expect

    box = pen_timing.canvas_box(phone)
    bar = np.array([[140.0, 40.0 + 10 * k] for k in range(20)])  # a "1" from the top down
    top = np.array([[60.0 + 10 * k, 40.0] for k in range(9)])  # a bar to its left: a "7"
    pen_timing.trace_with_touch(phone, [bar], box)
    _prediction_is(phone, "1")
    pen_timing.trace_with_touch(phone, [top], box)
    _prediction_is(phone, "7")
    _button(phone, "Undo").tap()
    _prediction_is(phone, "1")
    _button(phone, "Clear").tap()
    phone.get_by_text("Draw a digit on the canvas").wait_for()
    # Streamlit keeps the last run's elements on screen, faded, until the new run replaces them.
    expect(phone.get_by_test_id("stMetric").filter(has_text="Prediction")).to_have_count(0, timeout=30_000)
    expect(_button(phone, "Undo")).to_be_disabled(timeout=30_000)
