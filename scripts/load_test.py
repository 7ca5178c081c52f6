"""Many visitors at once: browser sessions draw pen digits on the Draw page, with and without a
training job, and the answer times are reported as JSON (medians and p95; machines are noisy).

    python scripts/load_test.py                                     # 1 and 6 sessions, job off and on
    python scripts/load_test.py --sessions 1 --drawings 2 --job off # a smoke run, under a minute
    python scripts/load_test.py --data-dir ~/mnist --out load.json

The script starts the app on a free port (its own user folder, so no real runs are touched) and,
for each configuration, opens that many sessions: separate browser contexts in one headless
Chromium, each with its own Streamlit session. The sessions draw in turn, a held-out writer's pen
digit each (a fraction of a second of mouse strokes), so their answers are computed at the same
time; then each page is waited for, its answer read and its canvas emptied. One untimed warm-up
drawing per session first (the first answer on a page loads its chart library).

Per configuration:
- ``browser``: pen lift of the last stroke to the answer settled on screen, as the page saw it
  (``recognizer.pen_timing``);
- ``server``: the Draw page's own time per rerun that had ink (an answer), from the timing log the
  server writes when ``DIGITS_TIMING_LOG`` is set (``recognizer.timing_log``); reruns stopped by a
  newer one are counted apart;
- ``drawn`` / ``answered``: every drawing must show a "Prediction"; ``read_right`` counts answers
  equal to the writer's label.
``job_effect``: the server's p95 with a training job over without (issue 10's target: at most
1.5). The job (50 epochs of the cnn on all of MNIST, from ``--data-dir`` or ``DIGITS_DATA_DIR``)
is always stopped, and killed if it does not stop, before the script ends.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recognizer import pen_timing  # noqa: E402
from recognizer.paths import PROJECT_ROOT  # noqa: E402
from recognizer.storage import report_json  # noqa: E402
from recognizer.timing_log import LOG_ENV, read_log  # noqa: E402

JOB_TARGET = 1.5  # issue 10: the server's p95 with a job at most this times the p95 without
MAX_STROKES = 3  # digits people draw in one to three strokes


def held_out_digits(count: int, seed: int = 0) -> list[tuple[list[np.ndarray], int]]:
    """``count`` (strokes, label) pen digits of writers no model trained on, in random order."""
    from recognizer.pendigits import default_pen_digits_path, load_pen_digits, writer_split

    path = default_pen_digits_path()
    if path is None:
        raise SystemExit("no pen digits: set DIGITS_PEN_DIGITS to pen_digits_dev.npz")
    pen = load_pen_digits(path)
    held = [i for i in writer_split(pen)[1] if pen.stroke_counts[i] <= MAX_STROKES]
    chosen = np.random.default_rng(seed).permutation(held)
    chosen = np.resize(chosen, count)  # repeats only if more are asked for than there are
    return [(pen.strokes(int(i)), int(pen.labels[i])) for i in chosen]


def open_sessions(browser, url: str, count: int) -> list[tuple[object, dict]]:
    """``count`` fresh sessions on the Draw page: (page, canvas box) each."""
    sessions = []
    for _ in range(count):
        page = pen_timing.new_page(browser)
        sessions.append((page, pen_timing.open_page(page, url)))
    return sessions


def draw_round(sessions, digits) -> list[dict]:
    """Each session draws one digit, all before any is waited for; then each answer is read."""
    from playwright.sync_api import Error as PlaywrightError

    for (page, box), (strokes, _) in zip(sessions, digits, strict=True):
        pen_timing.trace_with_mouse(page, pen_timing.canvas_strokes(strokes), box)
    found = []
    for (page, _), (_, label) in zip(sessions, digits, strict=True):
        try:
            ms = pen_timing.wait_settled(page)
            answer = pen_timing.metric_value(page, "Prediction")
        except PlaywrightError:  # no answer within pen_timing.ANSWER_TIMEOUT_S
            ms, answer = None, None
        found.append({"ms": ms, "answer": answer, "label": label})
    for page, _ in sessions:
        try:
            pen_timing.clear_canvas(page)
        except PlaywrightError:  # a fresh page then: an old answer must not count for the next drawing
            pen_timing.open_page(page, page.url)
    return found


def server_figures(records: list[dict]) -> dict:
    """The Draw page's time per answer (reruns with ink that finished) from the timing log."""
    answers = [r["ms"] for r in records if r.get("ink") and r.get("ok")]
    return {
        **pen_timing.summary(answers),
        "reruns_stopped": sum(not r.get("ok") for r in records),
        "reruns_blank": sum(bool(r.get("ok") and not r.get("ink")) for r in records),
    }


def run_configuration(browser, url: str, log_path: Path, count: int, rounds: int, warm_up: int, digits) -> dict:
    """``count`` sessions drawing ``rounds`` timed digits each (after ``warm_up`` untimed ones)."""
    sessions = open_sessions(browser, url, count)
    try:
        warm = [d for _ in range(warm_up) for d in draw_round(sessions, [digits.pop() for _ in sessions])]
        _, offset = read_log(log_path)
        timed = [d for _ in range(rounds) for d in draw_round(sessions, [digits.pop() for _ in sessions])]
        records, _ = read_log(log_path, offset)
    finally:
        for page, _ in sessions:
            page.context.close()
    every = warm + timed
    return {
        "sessions": count,
        "drawn": len(every),
        "answered": sum(d["answer"] is not None for d in every),
        "read_right": sum(d["answer"] == str(d["label"]) for d in every),
        "browser": pen_timing.summary([d["ms"] for d in timed if d["ms"] is not None and d["answer"] is not None]),
        "server": server_figures(records),
    }


def job_effect(configurations: dict, counts: list[int]) -> dict:
    """Per session count: p95 with the job over p95 without, for the server and the browser."""
    effect = {}
    for count in counts:
        without, with_job = configurations.get(f"sessions_{count}"), configurations.get(f"sessions_{count}_job")
        if not (without and with_job):
            continue
        ratios = {}
        for side in ("server", "browser"):
            a, b = with_job[side]["p95_ms"], without[side]["p95_ms"]
            ratios[f"{side}_p95_ratio"] = round(a / b, 2) if a is not None and b else None
        ratio = ratios["server_p95_ratio"]
        effect[f"sessions_{count}"] = {**ratios, "target": JOB_TARGET, "met": ratio is not None and ratio <= JOB_TARGET}
    return effect


def mnist_for_job(data_dir: Path | None) -> tuple[Path | None, str | None]:
    """The MNIST folder the job trains on, or why there is none."""
    from recognizer.data import DataError, find_mnist_dir

    try:
        return find_mnist_dir(data_dir, download=False), None
    except DataError as exc:
        return None, f"no MNIST for the training job ({exc})"


def with_job(args, home: Path, measure) -> tuple[dict, dict]:
    """``measure()`` while a training job runs, and how the job fared; the job is ended whatever
    happens (figures empty and the reason when there is no MNIST to train on)."""
    from recognizer.jobs import job_status

    data_dir, reason = mnist_for_job(args.data_dir)
    if reason:
        return {}, {"skipped": reason}
    job = pen_timing.start_long_job(home / "runs", data_dir)
    try:
        before = job_status(job.job_dir)  # training already, not importing TensorFlow
        figures = measure()
        after = job_status(job.job_dir)  # still training, or the figures are not "with a job"
    finally:
        final = pen_timing.end_job(job)
    seen = {
        f"{when}_{key}": state.get("progress", {}).get(key)
        for when, state in (("start", before), ("end", after))
        for key in ("phase", "epoch")
    }
    return figures, {"id": job.job_id, **seen, "status_at_end": after.get("status"), "final_status": final}


def measure(args) -> dict:
    """Start the app and a browser, run every configuration, stop everything."""
    from playwright.sync_api import sync_playwright

    counts = [int(n) for n in args.sessions.split(",")]
    phases = {"off": [False], "on": [True], "both": [False, True]}[args.job]
    digits = held_out_digits(sum(counts) * (args.drawings + args.warm_up) * len(phases))
    configurations, job = {}, None
    with tempfile.TemporaryDirectory(prefix="digits-load-") as tmp, sync_playwright() as playwright:
        folder = Path(tmp)
        log_path = folder / "timing.jsonl"
        env = {"DIGITS_HOME": str(folder / "home"), LOG_ENV: str(log_path)}
        server = pen_timing.start_server(args.app, folder / "server.log", env)
        browser = pen_timing.launch_browser(playwright)
        try:
            pen_timing.wait_until_healthy(server)

            def run_all(suffix: str) -> dict:
                return {
                    f"sessions_{n}{suffix}": run_configuration(
                        browser, server.url, log_path, n, args.drawings, args.warm_up, digits
                    )
                    for n in counts
                }

            for on in phases:
                found, job = with_job(args, folder / "home", lambda: run_all("_job")) if on else (run_all(""), job)
                configurations.update(found)
        finally:
            browser.close()
            pen_timing.stop_server(server)
    return {"configurations": configurations, "job": job, "job_effect": job_effect(configurations, counts)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", default="1,6", help="comma-separated session counts (default 1,6)")
    parser.add_argument("--drawings", type=int, default=4, help="timed drawings per session and configuration")
    parser.add_argument("--warm-up", type=int, default=1, help="untimed drawings per session first")
    parser.add_argument("--job", choices=("both", "off", "on"), default="both", help="with a training job or not")
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST for the job (default: DIGITS_DATA_DIR)")
    parser.add_argument("--app", type=Path, default=PROJECT_ROOT / "app.py")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    reason = pen_timing.missing_browser()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    load_before, started = os.getloadavg(), time.perf_counter()
    figures = measure(args)
    figures["all_answered"] = all(c["answered"] == c["drawn"] for c in figures["configurations"].values())
    figures["machine"] = {
        "cpu_count": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "seconds": round(time.perf_counter() - started, 1),
    }
    report_json(figures, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
