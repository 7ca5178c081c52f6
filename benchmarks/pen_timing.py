"""How fast a drawing gets its answer in a real browser: Streamlit servers, headless Chromium, pen strokes.

``digits-benchmark`` uses this to time stroke → answer on the app's Draw page and on a bare
page holding only the canvas and a metric (the floor the canvas component allows: it waits 200 ms
after a stroke before it sends), the cold start of the app, and the server's peak memory.

    >>> from benchmarks.pen_timing import start_server, stop_server  # doctest: +SKIP
    >>> server = start_server(PROJECT_ROOT / "app.py")  # doctest: +SKIP
    >>> wait_until_healthy(server); stop_server(server)  # doctest: +SKIP

How a stroke is timed: an init script in every page records, on the page's own clock, when the
pen (mouse or finger) lifts, when the page sends a message to the server, when a message arrives,
and every change of the DOM in the page's main area. Once the page has sent the stroke and been
quiet for a while, the answer time is the last DOM change minus the pen lift: the moment the
answer stopped changing on screen. The canvas itself lives in a shadow root, so the ink is not
counted as a change.

A cold start's first answer is timed on the same clock: the init script notes the frame that first
shows the answer's metric. A Playwright locator waiting for that metric returned only after the
long task that follows it in the app (its first chart loads Plotly's code, most of a second); that
task is reported apart, as the page's busy time after its first answer.

Playwright's Python package and Chromium are needed; nothing here imports streamlit.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CANVAS = 280  # the Draw page's "One digit" canvas, px
DIGIT_HEIGHT = 180.0  # px, as people draw on a 280 px canvas
BRUSH = 18.0  # the page's default brush
QUIET_MS = 600  # a page quiet this long after its answer arrived has settled
ANSWER_TIMEOUT_S = 30.0

# The bare page: the canvas as the Draw page configures it and one metric, nothing else.
BARE_PAGE = '''"""A bare canvas page: the floor of stroke -> answer (written and started by digits-benchmark)."""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

result = st_canvas(
    stroke_width=18,
    stroke_color="#000000",
    background_color="",
    height=280,
    width=280,
    drawing_mode="freedraw",
    update_streamlit=True,
    return_image_data=True,
    key="digit-canvas",
)
st.metric("Strokes", len((result.json_data or {}).get("objects", [])))
'''

# Runs in every page before its own scripts: the page-clock timestamps described above.
INSTRUMENT_JS = """
(() => {
  const b = window.__pen = {lift: 0, sent: 0, received: 0, changes: [], pattern: null, answer: null, long: []};
  try {
    new PerformanceObserver(list => list.getEntries().forEach(e => b.long.push([e.startTime, e.duration])))
      .observe({type: 'longtask'});
  } catch (e) {}
  // The first frame showing a metric that matches b.pattern (set by a cold start): the answer on screen.
  const answered = main => {
    const re = b.re = b.re || new RegExp(b.pattern);  // made once, not at every change of the page
    for (const m of main.querySelectorAll('[data-testid="stMetric"]')) {
      if (re.test(m.textContent)) {
        b.answer = -1;
        requestAnimationFrame(() => { b.answer = performance.now(); });
        return;
      }
    }
  };
  addEventListener('pointerup', () => { b.lift = performance.now(); b.changes = []; }, true);
  const Base = window.WebSocket;
  window.WebSocket = class extends Base {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => { b.received = performance.now(); });
    }
    send(data) { b.sent = performance.now(); return super.send(data); }
  };
  const watch = () => {
    const main = document.querySelector('[data-testid="stMain"]');
    if (!main) { setTimeout(watch, 20); return; }
    new MutationObserver(() => {
      b.changes.push(performance.now());
      if (b.pattern !== null && b.answer === null) answered(main);
    }).observe(main, {subtree: true, childList: true, characterData: true, attributes: true});
  };
  document.readyState === 'loading' ? addEventListener('DOMContentLoaded', watch) : watch();
})();
"""

# Settled: the stroke was sent, an answer came back, and nothing has changed for QUIET_MS.
SETTLED_JS = """quiet => {
  const b = window.__pen, now = performance.now();
  const last = Math.max(b.received, b.changes.length ? b.changes[b.changes.length - 1] : 0);
  return b.sent > b.lift && b.received > b.sent && now - last > quiet;
}"""


def missing_browser() -> str | None:
    """Why the browser parts cannot run here (None: they can)."""
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed"
    return None


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    started: float  # time.perf_counter() when the process was started
    log_path: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(script: Path, log_path: Path, env: dict | None = None) -> Server:
    """Start ``streamlit run script`` on a free port (from the script's folder); does not wait."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)]
    command += ["--server.headless", "true", "--server.fileWatcherType", "none"]
    command += ["--browser.gatherUsageStats", "false"]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    log = open(log_path, "w")  # noqa: SIM115 -- the server writes to it for its whole life
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=script.parent, env=environment, stdout=log, stderr=subprocess.STDOUT)
    log.close()  # the child holds its own copy
    return Server(process, f"http://127.0.0.1:{port}", started, Path(log_path))


def wait_until_healthy(server: Server, timeout: float = 60.0) -> float:
    """Seconds from the server's start until it answers its health check."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2).read() == b"ok":
                return time.perf_counter() - server.started
        except OSError:
            if time.monotonic() > deadline or server.process.poll() is not None:
                raise RuntimeError(f"streamlit did not start:\n{server.log_path.read_text()[-3000:]}") from None
            time.sleep(0.02)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def peak_memory_mb(pid: int) -> float | None:
    """The process's peak resident memory (VmHWM) in MB; None where /proc does not tell."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) * 1024 / 1e6, 1)
    except OSError:
        return None
    return None


def write_bare_page(folder: Path) -> Path:
    """The bare canvas page as a script in ``folder``."""
    script = Path(folder) / "bare_canvas.py"
    script.write_text(BARE_PAGE)
    return script


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def new_page(browser, touch: bool = False):
    """A fresh instrumented page: a laptop window, or a 390 px phone with touch."""
    if touch:
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True, has_touch=True
        )
    else:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(INSTRUMENT_JS)
    page = context.new_page()
    page.set_default_timeout(60_000)
    return page


def canvas_strokes(strokes: list[np.ndarray], canvas: int = CANVAS) -> list[np.ndarray]:
    """A pen digit's strokes placed as a person draws on the canvas: about 180 px tall, centred."""
    from recognizer.data.compose import place_digits

    placed, _, _ = place_digits([strokes], [], height=DIGIT_HEIGHT, brush=BRUSH, size=(canvas, canvas))
    return placed[0]


def canvas_box(page) -> dict:
    """Where the drawing canvas is on screen (fabric puts an 'upper' canvas over the drawn one)."""
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for()
    return canvas.bounding_box()


# What the mouse would hit at a point: the canvas lives in a shadow root, so look through shadow hosts.
HIT_AT = """([x, y]) => {
    let e = document.elementFromPoint(x, y);
    while (e && e.shadowRoot) {
        const inner = e.shadowRoot.elementFromPoint(x, y);
        if (!inner || inner === e) break;
        e = inner;
    }
    return e ? e.tagName : null;
}"""


def ready_canvas_box(page, timeout: float = 20.0) -> dict:
    """``canvas_box`` once the whole canvas takes the mouse: not clipped by a narrow column, and set
    up (a new canvas sizes its parts as it starts, and ink drawn before that is lost).
    ``AssertionError`` names what covers its bottom-right corner after ``timeout`` seconds."""
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for()
    page.mouse.move(0, 0)  # the canvas's toolbar shows while the mouse is over it
    deadline = time.monotonic() + timeout
    while True:
        box = canvas.bounding_box()
        hit = page.evaluate(HIT_AT, [box["x"] + box["width"] - 10, box["y"] + box["height"] - 10])
        if hit == "CANVAS":
            return box
        if time.monotonic() > deadline:
            raise AssertionError(f"the canvas's bottom-right corner is covered by {hit}")
        page.wait_for_timeout(200)


def trace_with_mouse(page, strokes: list[np.ndarray], box: dict) -> None:
    """Draw canvas-pixel strokes with the mouse, pen up between strokes."""
    for stroke in strokes:
        xy = stroke + [box["x"], box["y"]]
        page.mouse.move(*xy[0])
        page.mouse.down()
        for x, y in xy[1:]:
            page.mouse.move(x, y, steps=2)
        page.mouse.up()


def trace_with_touch(page, strokes: list[np.ndarray], box: dict) -> None:
    """Draw canvas-pixel strokes with one finger through CDP touch events (as a phone sends them)."""
    cdp = page.context.new_cdp_session(page)
    try:
        for stroke in strokes:
            xy = stroke + [box["x"], box["y"]]
            cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [_touch_point(*xy[0])]})
            for x, y in xy[1:]:
                cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [_touch_point(x, y)]})
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()


def _touch_point(x: float, y: float) -> dict:
    return {"x": float(x), "y": float(y), "id": 1, "radiusX": 4, "radiusY": 4, "force": 1}


def wait_settled(page, timeout: float = ANSWER_TIMEOUT_S) -> float | None:
    """Wait until the page answered the last stroke; milliseconds from pen lift to its last change.

    None when the page changed nothing on screen after the stroke.
    """
    page.wait_for_function(SETTLED_JS, arg=QUIET_MS, timeout=timeout * 1000, polling=50)
    pen = page.evaluate("window.__pen")
    changes = [t for t in pen["changes"] if t >= pen["sent"]]
    return round(changes[-1] - pen["lift"], 1) if changes else None


def open_page(page, url: str) -> dict:
    """Load ``url`` and wait until the page has drawn itself; the canvas's box."""
    page.goto(url)
    box = canvas_box(page)
    page.wait_for_function(
        "quiet => { const c = window.__pen.changes; return c.length && performance.now() - c[c.length - 1] > quiet; }",
        arg=QUIET_MS,
        polling=50,
    )
    return box


def clear_canvas(page) -> None:
    """Empty the canvas with its own toolbar button and wait for the page to follow."""
    page.get_by_role("button", name="Reset canvas & history").click()
    wait_settled(page)


def time_digits(page, url: str, digits: list[list[np.ndarray]], warm_up: bool = True) -> list[float]:
    """Stroke → answer (ms) for each digit, drawn on an emptied canvas and timed from its last stroke.

    One page for all: a person draws many digits on one page load. The first digit drawn on a
    new page also loads the page's chart library; ``warm_up`` draws one first, untimed.
    """
    box = open_page(page, url)
    times = []
    for n, strokes in enumerate([digits[0], *digits] if warm_up else digits):
        trace_with_mouse(page, canvas_strokes(strokes), box)
        answer = wait_settled(page)
        if answer is not None and (n or not warm_up):
            times.append(answer)
        clear_canvas(page)
    return times


def summary(times: list[float]) -> dict:
    """Median and p95 of trial times in ms (None without trials)."""
    if not times:
        return {"median_ms": None, "p95_ms": None, "trials": 0}
    return {
        "median_ms": round(float(np.median(times)), 1),
        "p95_ms": round(float(np.percentile(times, 95)), 1),
        "trials": len(times),
    }


def metric_value(page, label: str) -> str | None:
    """The value the metric called ``label`` shows, None when there is none."""
    metric = page.get_by_test_id("stMetric").filter(has_text=label)
    if not metric.count():
        return None
    return metric.first.get_by_test_id("stMetricValue").inner_text().strip()


# What each page shows once it has answered a stroke: the app its prediction, the bare page its count.
ANSWERS = {"app": re.compile(r"Prediction"), "bare": re.compile(r"Strokes\s*[1-9]")}


def cold_start(
    browser,
    script: Path,
    log_path: Path,
    strokes: list[np.ndarray],
    env: dict | None = None,
    answer: re.Pattern | None = ANSWERS["app"],
    keep: bool = False,
) -> tuple[dict, Server | None]:
    """Seconds from ``streamlit run`` to the canvas taking ink, and (``answer``: the text of the
    metric that shows it) to the answer of a digit drawn as soon as it does: the app's may wait for
    the model to load.

    ``first_answer_s`` is the frame that shows the answer, on the page's clock, and
    ``busy_after_answer_ms`` the longest task the page ran after it (the app's first chart).
    The figures, and the server still running when ``keep`` (the caller stops it), else None.
    """
    page = new_page(browser)
    if answer is not None:
        page.add_init_script(f"window.__pen.pattern = {json.dumps(answer.pattern)};")
    server = start_server(script, log_path, env)
    shown = {}
    try:
        healthy = wait_until_healthy(server)
        page.goto(server.url, wait_until="commit")
        box = canvas_box(page)
        interactive = time.perf_counter() - server.started
        if answer is not None:
            trace_with_mouse(page, canvas_strokes(strokes), box)
            page.wait_for_function("() => window.__pen.answer > 0", timeout=ANSWER_TIMEOUT_S * 2000, polling=50)
            shown = _answer_on_screen(page, server)
    except BaseException:
        stop_server(server)
        raise
    finally:
        page.context.close()
    if not keep:
        stop_server(server)
    figures = {
        "healthy_s": round(healthy, 2),
        "canvas_interactive_s": round(interactive, 2),
        "first_answer_s": None,
        "busy_after_answer_ms": None,
        **shown,
    }
    return figures, server if keep else None


BUSY_WINDOW_S = 2.0  # the long tasks a first answer sets off start within this


def _answer_on_screen(page, server: Server) -> dict:
    """When the page showed its answer, in seconds since the server started (the page's clock is
    the system's: ``performance.timeOrigin`` is epoch milliseconds), and the longest task it ran
    in the ``BUSY_WINDOW_S`` after."""
    page.wait_for_timeout(BUSY_WINDOW_S * 1000)  # a long task is reported once it has ended
    origin, shown, tasks = page.evaluate("[performance.timeOrigin, window.__pen.answer, window.__pen.long]")
    server_started = time.time() - (time.perf_counter() - server.started)
    after = [
        duration for start, duration in tasks if shown <= start + duration and start <= shown + BUSY_WINDOW_S * 1000
    ]
    return {
        "first_answer_s": round((origin + shown) / 1000 - server_started, 2),
        "busy_after_answer_ms": round(max(after, default=0.0)),
    }
