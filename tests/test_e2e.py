"""End to end in a real browser: `streamlit run app.py`, headless Chromium driven by Playwright.

Pen-written digits of held-out writers are drawn with the mouse on the Draw page's canvas and the
"Prediction" metric must show the right digit; on the Train page a tiny run is started, its
progress seen, and the finished run found in the history.

Without Chromium (or Playwright) these tests skip, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from benchmarks import live_curves, pen_timing

CANVAS = 280
BRUSH = 18  # the Draw page's default brush width, px

# Hang catchers, not time limits: each wait is for the event itself. The Train page's job runs
# idle-class and gives way to everything else, so on a busy machine it may take minutes.
JOB_CAP_MS = 600_000
# A Draw page run waits for the model, which a cold server is still loading.
RUN_CAP_MS = 180_000

pytestmark = pytest.mark.browser


def _canvas_box(page):
    """The canvas that takes the mouse, once the whole of it does (``pen_timing.ready_canvas_box``)."""
    return pen_timing.ready_canvas_box(page)


def _placed(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """Strokes in canvas pixels, scaled to 65 % of the canvas and centred."""
    pts = np.concatenate(strokes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    scale = 0.65 * CANVAS / max(hi - lo)
    offset = CANVAS / 2 - (lo + hi) / 2 * scale
    return [stroke * scale + offset for stroke in strokes]


def _draw_strokes(page, strokes: list[np.ndarray]) -> None:
    """Draw screen-coordinate strokes, scaled to 65 % of the canvas and centred, with the mouse."""
    _trace(page, _placed(strokes), _canvas_box(page))


_trace = pen_timing.trace_with_mouse  # canvas-pixel strokes, pen up between strokes


def _wait_for_metric(page, label: str, expected: str) -> None:
    """Wait until the metric called ``label`` shows ``expected``."""
    page.wait_for_function(
        """([label, expected]) => [...document.querySelectorAll('[data-testid="stMetric"]')]
            .some(m => m.innerText.includes(label) &&
                       m.querySelector('[data-testid="stMetricValue"]').innerText.trim() === expected)""",
        arg=[label, expected],
        timeout=30_000,
    )


def _prediction(page) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text="Prediction")
    metric.wait_for()
    return metric.get_by_test_id("stMetricValue").inner_text().strip()


def _clear_examples(pen, rec, classes):
    """For each class, the first held-out example with few strokes that the model reads surely
    from a canvas rendering: the browser test checks the app's path, not the model's doubts."""
    from recognizer.data.pen import render_digit, writer_split

    _, held = writer_split(pen)
    chosen = []
    for digit in classes:
        for i in held[pen.labels[held] == digit]:
            if pen.stroke_counts[i] > 2:
                continue
            p = rec.predict_drawing(render_digit(pen.strokes(i), brush=18, height=0.65 * CANVAS))
            if p is not None and p.digit == digit and p.confidence > 0.97:
                chosen.append(int(i))
                break
    return chosen


def test_drawn_pen_digits_are_read_in_the_browser(page, app_url, pen, tmp_path):
    from recognizer import load_recognizer

    examples = _clear_examples(pen, load_recognizer(), classes=(0, 1, 3, 4, 7, 8))
    assert len(examples) == 6
    page.goto(app_url)
    page.get_by_text("Draw a digit on the canvas").wait_for()
    for n, i in enumerate(examples):
        if n:  # a fresh page is a clean canvas
            page.reload()
            page.get_by_text("Draw a digit on the canvas").wait_for()
        _draw_strokes(page, pen.strokes(i))
        expected = str(pen.labels[i])
        # Each stroke sends its own update; let the last one arrive before reading the answer.
        page.wait_for_timeout(1500)
        try:
            page.get_by_test_id("stMetric").filter(has_text="Prediction").wait_for()
            _wait_for_metric(page, "Prediction", expected)
        except Exception:
            page.screenshot(path=str(tmp_path / f"digit-{n}.png"), full_page=True)
            raise AssertionError(f"pen digit {i} ({expected}): the page shows {_prediction(page)!r}") from None
        assert _prediction(page) == expected


def _wait_for_run_end(page) -> None:
    """Wait until the app's script run (or fragment run) in progress has finished."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=RUN_CAP_MS)


def test_a_stray_dot_gets_no_prediction(page, app_url):
    from playwright.sync_api import expect

    page.goto(app_url)
    page.get_by_text("Draw a digit on the canvas").wait_for()
    undo = page.locator(".st-key-digit-canvas-undo button")
    expect(undo).to_be_disabled()  # nothing drawn yet
    box = _canvas_box(page)
    page.mouse.click(box["x"] + 200, box["y"] + 60)
    # The server has the dot once a run enables Undo (it holds a stroke). That run goes on to
    # answer, waiting for the model if it still loads: when it has ended, it has said all it would.
    expect(undo).to_be_enabled(timeout=RUN_CAP_MS)
    _wait_for_run_end(page)
    assert page.get_by_test_id("stMetric").filter(has_text="Prediction").count() == 0
    assert page.get_by_test_id("stException").count() == 0  # nor an error instead
    assert page.get_by_text("Draw a digit on the canvas").is_visible()
    assert page.get_by_text("Loading the model").count() == 0


def _server_home(tmp_path_factory, app_url: str):
    """The user data folder (DIGITS_HOME) of the server at ``app_url``: the ``app_url`` fixture's
    folder whose server log names that URL."""
    logs = {log.resolve() for log in tmp_path_factory.getbasetemp().glob("browser-home*/server.log")}  # and *current
    homes = [log.parent for log in logs if f"URL: {app_url}" in map(str.strip, log.read_text().splitlines())]
    assert len(homes) == 1, f"no single server log names {app_url}: {homes}"
    return homes[0]


def _model_input(strokes: list[np.ndarray]) -> np.ndarray:
    """The 28x28 image the model gets from ``strokes`` drawn as ``_draw_strokes`` draws them."""
    from recognizer.core.preprocess import ink_from_image, normalize_digit
    from recognizer.data.pen import draw_strokes, to_rgba

    return normalize_digit(ink_from_image(to_rgba(draw_strokes(_placed(strokes), BRUSH, (CANVAS, CANVAS)))))[0]


def test_correction_is_saved_from_the_page(page, app_url, pen, tmp_path_factory):
    from recognizer.data.corrections import FeedbackStore

    store = FeedbackStore(_server_home(tmp_path_factory, app_url) / "corrections")
    before = set(store.files())
    first = {digit: pen.strokes(int(np.flatnonzero(pen.labels == digit)[0])) for digit in range(10)}
    page.goto(app_url)
    page.get_by_text("Draw a digit on the canvas").wait_for()
    _draw_strokes(page, first[3])
    shown = _prediction(page)
    page.get_by_text("0 corrections saved").wait_for()
    page.get_by_test_id("stSelectbox").filter(has_text="Wrong? It is").click()
    page.get_by_role("option", name="5", exact=True).click()
    page.get_by_role("button", name="Save correction").click()
    page.get_by_text("1 corrections saved").wait_for()

    saved = [path for path in store.files() if path not in before]
    assert len(saved) == 1, saved
    with np.load(saved[0]) as correction:
        image, label, predicted = correction["image"], int(correction["label"]), int(correction["predicted"])
    assert label == 5  # the digit picked, not the model's answer
    assert str(predicted) == shown  # and what the page answered
    # The image is the model's 28x28 input of the drawing: ink where the drawn 3 is, not elsewhere.
    assert image.shape == (28, 28) and image.dtype == np.uint8
    ink = image / 255 > 0.5

    def overlap(digit: int) -> float:  # of the ink with a digit's model input drawn offline
        drawn = _model_input(first[digit]) > 0.5
        return (ink & drawn).sum() / (ink | drawn).sum()

    drawn, others = overlap(3), max(overlap(digit) for digit in range(10) if digit != 3)
    assert drawn > 0.8 and drawn > others + 0.2, (drawn, others)  # others: how alike other digits' inputs come


# Every 100 ms while the job trains, the number of points of the live chart's first series (the
# raw training loss), read as benchmarks.live_curves reads the page.
COUNT_LIVE_POINTS = f"""() => {{
    window.livePoints = [];
    const read = {live_curves.READ_PAGE};
    setInterval(() => {{
        const state = read();
        if (state.points && !state.done) window.livePoints.push(state.points);
    }}, 100);
}}"""


def test_train_page_runs_a_tiny_job_and_lists_it(page, app_url, mnist):  # the job trains from MNIST
    page.goto(f"{app_url}/train")
    page.get_by_role("heading", name="Train a model").wait_for()
    page.get_by_text("Quick", exact=True).click()
    page.get_by_role("spinbutton", name="Epochs", exact=True).fill("3")
    page.get_by_text("Advanced settings", exact=True).click()  # the subset is an advanced setting
    page.get_by_role("spinbutton", name="MNIST images to use", exact=True).fill("12000")
    page.get_by_role("spinbutton", name="MNIST images to use", exact=True).press("Tab")
    page.get_by_role("button", name="Start training").click()
    page.evaluate(COUNT_LIVE_POINTS)
    started = page.get_by_text(re.compile(r"Started job \S+"))
    started.wait_for()
    job_id = re.search(r"Started job (\S+?)\.?$", started.inner_text().strip()).group(1).strip("`")
    # Live progress: the bar names the epoch and batch while it trains.
    page.get_by_text(re.compile(r"Epoch [123] of 3 · batch \d+ of \d+")).wait_for(timeout=JOB_CAP_MS)
    page.get_by_text(f"Last job {job_id} finished").wait_for(timeout=JOB_CAP_MS)
    # The curve was drawn while the job trained, and grew between the page's refreshes.
    seen = sorted(set(page.evaluate("window.livePoints")))
    assert len(seen) >= 2 and seen[0] < seen[-1], seen
    # The finished run is in the run history: the table (drawn on a canvas) and its run picker.
    # The page redraws once more as the job ends, which can close an open dropdown: retry.
    page.get_by_test_id("stDataFrame").first.wait_for()
    option = page.get_by_role("option", name=re.compile(re.escape(job_id)))
    for _ in range(5):
        page.get_by_test_id("stSelectbox").filter(has_text="Run").first.click()
        try:
            option.wait_for(timeout=5_000)
            break
        except Exception:
            page.keyboard.press("Escape")
    assert option.is_visible(), page.get_by_role("option").all_inner_texts()


def test_clicking_a_confusion_cell_shows_its_samples(page, app_url, shipped_mnist_answers):
    fresh_confusion = shipped_mnist_answers["matrix"]
    from recognizer.core.runs import active_model_dir, shipped_active_dir

    run = active_model_dir()
    assert run == shipped_active_dir()  # the server's active model too: its user data folder is fresh
    errors = fresh_confusion - np.diag(np.diag(fresh_confusion))
    true, predicted = (int(n) for n in np.unravel_index(errors.argmax(), errors.shape))
    count = int(errors[true, predicted])
    page.goto(f"{app_url}/explore")
    page.get_by_text("Click a cell to see its test samples").wait_for()
    chart = page.locator(f".st-key-explore_cm_{run.name} .js-plotly-plot")
    chart.scroll_into_view_if_needed()
    area = chart.locator(".nsewdrag").first.bounding_box()
    # Axes run 0..9 left to right (predicted) and top to bottom (true).
    x = area["x"] + (predicted + 0.5) / 10 * area["width"]
    y = area["y"] + (true + 0.5) / 10 * area["height"]
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    heading = page.get_by_text(re.compile(rf"True {true}, predicted {predicted}: \d+ test samples"))
    heading.wait_for()
    shown = int(re.search(r": (\d+) test samples", heading.inner_text()).group(1))
    assert abs(shown - count) <= shipped_mnist_answers["edge"], (shown, count)
    grid_images = page.get_by_test_id("stImage")
    deadline = time.monotonic() + 30  # the grid's images arrive one by one
    while grid_images.count() < min(shown, 8) and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    assert grid_images.count() >= min(shown, 8)


def test_the_run_header_shows_every_metric_whole(page, app_url):
    page.goto(f"{app_url}/explore")
    page.get_by_text("Click a cell to see its test samples").wait_for()
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stMetricValue\"]').length === 4")
    page.evaluate("document.fonts.ready.then(() => true)")  # widths are measured in the page's own font
    values = page.get_by_test_id("stMetricValue")
    # A value wider than its column is cut with an ellipsis ("42 min …"): an inner box overflows.
    clipped = values.evaluate_all(
        """els => els.filter(e => [e, ...e.querySelectorAll('*')].some(box => box.scrollWidth > box.clientWidth))
                     .map(e => e.innerText)"""
    )
    assert clipped == [], clipped


NUMBER_CANVAS = (700, 240)  # the Draw page's "A number" canvas


def _touching_number(pen, rec):
    """Three held-out digits of one writer composed touching (as the page's number canvas would
    get them) that the model reads right offline, with their placed strokes."""
    from recognizer.core.preprocess import ink_from_image
    from recognizer.data.compose import compose_number, place_digits
    from recognizer.data.pen import writer_split
    from recognizer.reading.segment import digit_masks

    _, held = writer_split(pen)
    rng = np.random.default_rng(11)
    for _ in range(200):
        writer = rng.choice(np.unique(pen.writers[held]))
        own = held[pen.writers[held] == writer]
        picks = rng.choice(own, size=3, replace=False) if len(own) >= 3 else own
        if len(picks) < 3 or sum(pen.stroke_counts[picks]) > 5:
            continue
        args = ([pen.strokes(int(i)) for i in picks], [-3.0, 2.0], 150.0, 18.0, NUMBER_CANVAS)
        rgba, _ = compose_number(*args)
        labels = [int(pen.labels[i]) for i in picks]
        touching = len(digit_masks(ink_from_image(rgba))) < 3
        if touching and [p.digit for p in rec.read_number(rgba)] == labels:
            return place_digits(*args)[0], "".join(map(str, labels))
    raise AssertionError("no touching number the model reads offline")


def _draw_number(page, placed: list[np.ndarray], tmp_path) -> None:
    """Draw ``placed`` on the number canvas once it takes ink.

    A new canvas loads its (empty) starting drawing asynchronously, and that load replaces whatever
    was drawn before it finished. A person sees the ink vanish and draws again; so does this test,
    once, when the server got no stroke of the first try.
    """
    from playwright.sync_api import expect

    undo = page.locator(".st-key-number-canvas-undo button")
    for attempt in range(2):
        _wait_for_run_end(page)
        box = _canvas_box(page)
        assert box["width"] >= NUMBER_CANVAS[0] - 1
        _trace(page, placed[0], box)
        try:
            expect(undo).to_be_enabled(timeout=15_000)  # the server holds the first digit's ink
            break
        except AssertionError:
            page.screenshot(path=str(tmp_path / f"no-ink-{attempt}.png"), full_page=True)
            if attempt:
                raise AssertionError("the number canvas took no ink, twice") from None
    for digit in placed[1:]:
        _trace(page, digit, box)


def _write_a_number(page, app_url, placed: list[np.ndarray], tmp_path) -> None:
    """Open the Draw page, switch to "A number" and draw ``placed`` there, up to its last update."""
    page.goto(app_url)
    page.get_by_text("Draw a digit on the canvas").wait_for()
    page.get_by_role("radio", name="A number").click()
    page.get_by_text("No digits found yet").wait_for()
    _draw_number(page, placed, tmp_path)
    page.wait_for_timeout(1500)  # the last stroke's update


def test_touching_digits_are_read_as_a_number(page, app_url, pen, tmp_path):
    from recognizer import load_recognizer

    placed, expected = _touching_number(pen, load_recognizer())
    _write_a_number(page, app_url, placed, tmp_path)
    try:
        _wait_for_metric(page, "Number", expected)
    except Exception:
        page.screenshot(path=str(tmp_path / "number.png"), full_page=True)
        metric = page.get_by_test_id("stMetric").filter(has_text="Number")
        shown = metric.get_by_test_id("stMetricValue").inner_text() if metric.count() else None
        raise AssertionError(f"touching {expected}: the page shows {shown!r}") from None


# The x ranges of the rectangles of every Plotly chart on the page (the number's digit boxes).
CHART_BOXES = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .map(d => ((d.layout && d.layout.shapes) || []).map(s => [s.x0, s.x1]))
    .filter(boxes => boxes.length > 0)"""


def test_digits_kept_apart_by_a_gap_show_their_own_boxes(page, app_url, parted_number, tmp_path):
    from recognizer.core.preprocess import ink_from_image
    from recognizer.reading.gaps import column_groups

    placed, image, expected = parted_number  # test_gaps checks that the rule parts its reading
    groups = column_groups(ink_from_image(image))
    _write_a_number(page, app_url, placed, tmp_path)
    try:
        _wait_for_metric(page, "Number", expected)
        page.wait_for_function(f"({CHART_BOXES})().length > 0", timeout=15_000)
    except Exception:
        page.screenshot(path=str(tmp_path / "parted.png"), full_page=True)
        raise
    (boxes,) = page.evaluate(CHART_BOXES)
    assert len(boxes) == 3
    for (x0, x1), (start, end) in zip(sorted(boxes), groups, strict=True):
        assert abs(x0 - start) <= 12 and abs(x1 - end) <= 12, (boxes, groups)  # each box over its own ink


def _clear_letter(rec, letters):
    """A held-out writer's clearly-not-digit letter that the model flags offline."""
    from recognizer.data.negatives import CLEAR_LETTERS
    from recognizer.data.pen import render_digit, writer_split

    _, held = writer_split(letters)
    for i in held:
        if letters.labels[i] in CLEAR_LETTERS and letters.stroke_counts[i] <= 3:
            p = rec.predict_drawing(render_digit(letters.strokes(int(i)), brush=18, height=0.65 * CANVAS))
            image = render_digit(letters.strokes(int(i)), brush=18, height=0.65 * CANVAS)
            if p is not None and p.digit_probability < 0.1 and rec.digits_in(image) == 0:
                return letters.strokes(int(i)), str(letters.labels[i])
    raise AssertionError("no held-out letter the model flags")


def test_a_letter_is_not_a_digit(page, app_url, pen_letters):
    from recognizer import load_recognizer

    strokes, letter = _clear_letter(load_recognizer(), pen_letters)
    page.goto(app_url)
    page.get_by_text("Draw a digit on the canvas").wait_for()
    _draw_strokes(page, strokes)
    page.get_by_text("That doesn't look like a digit").wait_for(timeout=30_000)
    assert _prediction(page) == "?", f"letter {letter}"
    page.get_by_test_id("stPlotlyChart").first.wait_for()  # the bars still show
