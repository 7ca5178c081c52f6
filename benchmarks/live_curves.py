"""How soon the Train page draws a job's learning curves: a job started from the page, watched.

    python -m benchmarks.live_curves --preset quick --shots docs/images/train-quick

Starts ``streamlit run app.py`` with a user data folder of its own, presses Start with the preset
in headless Chromium, and every 0.2 s reads the live chart (how many points its first series has)
and the progress bar. Prints JSON: seconds from the press to the first drawn curve, how far the
first epoch was then (from the bar's "batch N of M"), and the points seen over time. With
``--shots``, screenshots of the curves ``--shot-after`` seconds after they first show and, for a
job that ends within ``--watch`` seconds, of its final curves. A job still running after
``--watch`` seconds is ended (killed): only its first seconds are measured.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import pen_timing
from recognizer.core.paths import PROJECT_ROOT

# The number of points of the live (or last) chart's first series, and the progress bar's text.
READ_PAGE = """() => {
    const fresh = ':not([data-stale="true"])';  // Streamlit keeps a replaced element a moment, stale
    const chart = document.querySelector(
        `.st-key-live-curves${fresh} .js-plotly-plot, .st-key-last-curves${fresh} .js-plotly-plot`);
    const bar = document.querySelector('[data-testid="stProgress"]');
    return {points: chart && chart.data && chart.data.length ? chart.data[0].x.length : 0,
            bar: bar ? bar.innerText : "", done: !!document.querySelector('.st-key-last-curves')};
}"""
FRESH = ':not([data-stale="true"])'
BATCH = re.compile(r"Epoch (\d+) of \d+ · batch (\d+) of (\d+)")


def epoch_done(bar: str) -> float | None:
    """The share of the current epoch the progress bar reports, or None before training."""
    found = BATCH.search(bar)
    return int(found.group(2)) / int(found.group(3)) if found else None


def start_job(page, url: str, preset: str) -> None:
    page.goto(f"{url}/train")
    page.get_by_role("heading", name="Train a model").wait_for()
    page.get_by_text(preset.capitalize(), exact=True).click()
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"Started job \S+")).wait_for()


def watch(page, watch_seconds: float, shots: Path | None, shot_after: float) -> dict:
    """Poll the page until the job's final curves show or ``watch_seconds`` pass."""
    started, first, seen, shot = time.perf_counter(), None, [], False
    while time.perf_counter() - started < watch_seconds:
        state = page.evaluate(READ_PAGE)
        now = round(time.perf_counter() - started, 2)
        if state["points"] and first is None:
            first = {"seconds": now, "points": state["points"], "epoch_done": epoch_done(state["bar"])}
        if state["points"] and (not seen or seen[-1][1] != state["points"]):
            seen.append((now, state["points"]))
        if shots and first and not shot and now >= first["seconds"] + shot_after:
            page.locator(f".st-key-live-curves{FRESH}").first.screenshot(path=f"{shots}-live.png")
            shot = True
        if state["done"]:
            if shots:
                page.locator(f".st-key-last-curves{FRESH}").first.screenshot(path=f"{shots}-end.png")
            return {"first_curve": first, "points_over_time": seen, "ended_seconds": now}
        time.sleep(0.2)
    return {"first_curve": first, "points_over_time": seen, "ended_seconds": None}


def end_running_job(home: Path) -> None:
    """Kill the job a watch left running (its run is not wanted)."""
    os.environ["DIGITS_HOME"] = str(home)
    from recognizer.core import paths
    from recognizer.core.storage import read_json_or
    from recognizer.ops import job_state

    current = read_json_or(paths.runs_dir() / job_state.CURRENT_NAME, {})
    if current.get("job_id"):
        job_state.kill_job(paths.runs_dir() / job_state.JOBS_DIR / current["job_id"])


def measure(preset: str, watch_seconds: float, shots: Path | None, shot_after: float) -> dict:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        server = pen_timing.start_server(PROJECT_ROOT / "app.py", home / "server.log", {"DIGITS_HOME": str(home)})
        try:
            pen_timing.wait_until_healthy(server)
            with sync_playwright() as playwright:
                browser = pen_timing.launch_browser(playwright)
                page = pen_timing.new_page(browser)
                start_job(page, server.url, preset)
                figures = watch(page, watch_seconds, shots, shot_after)
                browser.close()
        finally:
            end_running_job(home)
            pen_timing.stop_server(server)
    return {"preset": preset, **figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="quick", help="the Train page's preset to start")
    parser.add_argument("--watch", type=float, default=300.0, help="seconds to watch the job at most")
    parser.add_argument("--shots", type=Path, help="path prefix of the screenshots (…-live.png, …-end.png)")
    parser.add_argument("--shot-after", type=float, default=3.0, help="seconds after the first curve")
    args = parser.parse_args(argv)
    missing = pen_timing.missing_browser()
    if missing:
        print(missing, file=sys.stderr)
        return 2
    print(json.dumps(measure(args.preset, args.watch, args.shots, args.shot_after), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
