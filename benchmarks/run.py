"""Measure how fast the app answers, end to end, and print JSON (medians over repeats; machines are noisy).

    digits-benchmark                      # everything, about 10-15 minutes
    digits-benchmark --quick              # a smoke run of every part (CI), under a minute or so
    digits-benchmark --parts library,browser --out bench.json

Parts (``--parts``, comma-separated; all by default):
- ``browser``: in headless Chromium, pen-written digits of held-out writers drawn with the mouse on
  the app's Draw page and on a bare page holding only the canvas and a metric (written to a temp
  folder and started here): ``pen_to_answer`` gives, for single strokes and multi-stroke digits,
  the median and p95 ms from the last stroke's pen lift to the answer settled on screen, and the
  app / bare-page ratio; the same again while a training job runs (``while_training``). Also
  ``cold_start`` (``streamlit run`` to the canvas taking ink, and to the first answer of a digit
  drawn at once, for each page, and the app / bare ratios) and ``server_memory`` (peak resident
  MB of each server, VmHWM, after ``after_drawings`` drawings); ``inside_the_network_page``, the
  Explore page's "Inside the network" following a new test digit (``inside_timing.inside_page``).
- ``library``: ``predict_drawing`` (as ``load_recognizer()`` answers: LiteRT; and the same model
  through Keras, ``predict_drawing_keras``), ``predict_proba_1``, ``keras_predict_1``, ``preprocess_drawing_280``,
  ``read_number_700``, ``read_number_touching_4`` / ``read_number_spaced_4`` (held-out writers'
  4-digit numbers, 840x280), ``predict_proba_batch`` (images per second); p50 / p90 / p95 ms;
  ``inside_the_network`` (the Explore page's layers: ``benchmarks/inside_timing.py``).
- ``training``: seconds of training to 99.0 % MNIST test accuracy for the fastest preset and for
  the keras.io "Simple MNIST convnet" recipe, in the same run, and their ratio; and what recording
  the training curve costs (``curve_overhead``: the fastest preset with and without it).
A part that cannot run here (no Chromium, no MNIST, no pen digits) says why under ``skipped``.
``targets`` compares the figures with the project's goals (``TARGETS``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.inside_timing import inside_page, inside_timing
from recognizer.core.paths import PROJECT_ROOT
from recognizer.core.storage import report_json
from recognizer.data.compose import SPACED_GAPS, TOUCHING_GAPS
from recognizer.reading.recognizer import Recognizer, load_recognizer

PARTS = ("library", "browser", "training")
# The goals, on this machine, medians: (figure path, the most it may be).
TARGETS = {
    "app_over_bare_single_stroke": (("pen_to_answer", "idle", "ratio", "single"), 1.2),
    "app_over_bare_while_training": (("pen_to_answer", "while_training", "ratio", "single"), 1.5),
    "app_over_bare_first_answer": (("cold_start", "ratio", "first_answer_s"), 1.3),
    "canvas_interactive_s": (("cold_start", "app", "canvas_interactive_s"), 2.5),
    "server_peak_mb": (("server_memory", "app_peak_mb"), 350),
    "predict_drawing_p50_ms": (("predict_drawing", "p50_ms"), 0.8),
    "inside_activations_ms": (("inside_the_network", "activations_ms"), 150),
    "inside_section_ms": (("inside_the_network_page", "settled_ms"), 1000),
    "fastest_preset_over_keras_io": (("training_speed", "ratio"), 0.25),
    "training_with_curve_over_without": (("curve_overhead", "ratio"), 1.01),
}


# ----------------------------------------------------------------------------------------------
# Library calls
# ----------------------------------------------------------------------------------------------


def time_calls(fn: Callable[[], object], calls: int) -> np.ndarray:
    """Milliseconds of each of ``calls`` calls of ``fn`` (after one warm-up call)."""
    fn()
    out = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - start) * 1000
    return out


def latency(fn: Callable[[], object], calls: int, repeats: int) -> dict[str, float]:
    """Percentiles of each repeat's ``calls`` calls, the median over ``repeats``."""
    runs = [time_calls(fn, calls) for _ in range(repeats)]

    def median_of(q: float) -> float:
        return round(statistics.median(float(np.percentile(r, q)) for r in runs), 3)

    return {
        "p50_ms": median_of(50),
        "p90_ms": median_of(90),
        "p95_ms": median_of(95),
        "calls_per_repeat": calls,
        "repeats": repeats,
    }


def sample_images(n: int) -> np.ndarray:
    """Real test digits when the data is at hand, else random strokes-like noise."""
    try:
        from recognizer.data.mnist import load_mnist

        _, (x_test, _) = load_mnist(download=False)
        return x_test[:n]
    except Exception:  # the benchmark measures speed; any 28x28 uint8 input will do
        return np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def sample_drawings() -> tuple[np.ndarray, np.ndarray]:
    """A 280x280 canvas with one drawn digit and a 700x240 canvas with four."""
    import cv2

    digit_ink = np.zeros((280, 280), np.uint8)
    cv2.polylines(digit_ink, [np.int32([[80, 60], [200, 60], [120, 230]])], False, 255, 18, cv2.LINE_AA)
    number_ink = np.zeros((240, 700), np.uint8)
    for x in (100, 420):  # two ones and two zeros
        cv2.line(number_ink, (x, 40), (x, 200), 255, 14, cv2.LINE_AA)
        cv2.circle(number_ink, (x + 160, 120), 60, 255, 14, cv2.LINE_AA)
    digit, number = (np.dstack([np.zeros((*a.shape, 3), np.uint8), a]) for a in (digit_ink, number_ink))
    return digit, number


def pen_digits():
    """The pen-digits data set (None without its file)."""
    from recognizer.data.pen import default_pen_digits_path, load_pen_digits

    path = default_pen_digits_path()
    return load_pen_digits(path) if path is not None and path.is_file() else None


def pen_numbers(pen, gaps: tuple[float, float], count: int = 20) -> list[np.ndarray] | None:
    """``count`` 4-digit numbers of held-out writers (None without the pen-digits file)."""
    from recognizer.data.compose import sample_numbers
    from recognizer.data.pen import writer_split

    if pen is None:
        return None
    return [n.image for n in sample_numbers(pen.subset(writer_split(pen)[1]), count, gaps=gaps, seed=0)]


def cycling(images: list[np.ndarray], fn: Callable[[np.ndarray], object]) -> Callable[[], object]:
    """A no-argument call that passes the next of ``images`` to ``fn`` each time."""
    state = {"i": 0}

    def call():
        state["i"] = (state["i"] + 1) % len(images)
        return fn(images[state["i"]])

    return call


def batch_throughput(rec, images: np.ndarray, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        rec.predict_proba(images)
        runs.append(len(images) / (time.perf_counter() - start))
    return {"batch": len(images), "images_per_second": round(statistics.median(runs)), "repeats": repeats}


def library_figures(args, pen) -> dict:
    """Every library figure: one image, one drawing, numbers, a batch."""
    from recognizer.core.preprocess import ink_from_image, normalize_digit

    rec = load_recognizer(args.model)  # as the app reads: LiteRT
    keras = Recognizer(rec.model, rec.run_dir, rec.number_reader)  # the same model through Keras, to compare
    images = sample_images(args.batch)
    one = images[:1]
    keras_input = one[..., None].astype(np.float32) / 255
    digit, number = sample_drawings()
    calls, repeats = args.calls, args.repeats
    numbers = {name: pen_numbers(pen, gaps) for name, gaps in (("touching", TOUCHING_GAPS), ("spaced", SPACED_GAPS))}
    return {
        "model": rec.name,
        "predict_drawing": {**latency(lambda: rec.predict_drawing(digit), calls, repeats), "path": "litert"},
        "predict_drawing_keras": {**latency(lambda: keras.predict_drawing(digit), calls, repeats), "path": "keras"},
        "predict_proba_1": latency(lambda: rec.predict_proba(one), calls, repeats),
        "keras_predict_1": latency(lambda: rec.model.predict(keras_input, verbose=0), max(5, calls // 10), repeats),
        "preprocess_drawing_280": latency(lambda: normalize_digit(ink_from_image(digit)), calls, repeats),
        "read_number_700": latency(lambda: rec.read_number(number), max(5, calls // 4), repeats),
        **{
            f"read_number_{name}_4": latency(cycling(found, rec.read_number), max(5, calls // 4), repeats)
            for name, found in numbers.items()
            if found
        },
        "predict_proba_batch": batch_throughput(rec, images, repeats),
        "inside_the_network": inside_timing(rec, max(5, calls // 10), images[:50].astype(np.float32) / 255),
    }


# ----------------------------------------------------------------------------------------------
# In the browser
# ----------------------------------------------------------------------------------------------


def held_out_digits(pen, count: int) -> dict[str, list]:
    """``count`` single-stroke and ``count`` multi-stroke digits of held-out writers (strokes)."""
    from recognizer.data.pen import writer_split

    held = writer_split(pen)[1]
    rng = np.random.default_rng(0)
    singles = rng.permutation([i for i in held if pen.stroke_counts[i] == 1])[:count]
    multis = rng.permutation([i for i in held if 2 <= pen.stroke_counts[i] <= 3])[:count]
    return {"single": [pen.strokes(int(i)) for i in singles], "multi": [pen.strokes(int(i)) for i in multis]}


def stroke_round(browser, urls: dict[str, str], digits: dict[str, list], warm_up: bool = True) -> dict:
    """Stroke → answer on each page for each kind of digit, and the app / bare ratios."""
    from benchmarks import pen_timing

    out = {}
    for name, url in urls.items():
        page = pen_timing.new_page(browser)
        try:
            out[name] = {
                kind: pen_timing.summary(pen_timing.time_digits(page, url, found, warm_up))
                for kind, found in digits.items()
            }
        finally:
            page.context.close()
    out["ratio"] = {kind: _ratio(out["app"][kind]["median_ms"], out["bare"][kind]["median_ms"]) for kind in digits}
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def cold_starts(browser, scripts: dict[str, Path], folder: Path, strokes, repeats: int, env: dict):
    """Median over ``repeats`` cold starts of each server (each a fresh process), and the servers
    of the last start, left running for the stroke timings (the caller stops them).

    The servers start in turn (app, bare page, app, ...), so a drift of a shared machine's load
    falls on both; ``answer_after_canvas_s`` is the part of the first answer after the canvas
    took ink, the page's own share (the server's start and Streamlit's front end come before)."""
    from benchmarks import pen_timing

    runs: dict[str, list[dict]] = {name: [] for name in scripts}
    servers = {}
    for n in range(repeats):
        for name, script in scripts.items():
            log = folder / f"{name}-{n}.log"
            answer = pen_timing.ANSWERS[name]
            found, server = pen_timing.cold_start(browser, script, log, strokes, env, answer, keep=n == repeats - 1)
            if found["first_answer_s"] is not None:
                found["answer_after_canvas_s"] = found["first_answer_s"] - found["canvas_interactive_s"]
            runs[name].append(found)
            servers[name] = server
    figures = {}
    for name, found in runs.items():
        figures[name] = {
            key: round(statistics.median(r[key] for r in found), 2) for key in found[0] if found[0].get(key) is not None
        }
        figures[name]["repeats"] = repeats
    figures["ratio"] = {
        key: _ratio(figures["app"].get(key), figures["bare"].get(key))
        for key in ("canvas_interactive_s", "first_answer_s", "answer_after_canvas_s")
    }
    return figures, servers


def browser_figures(args, pen) -> dict:
    """Stroke → answer (idle and while training), cold starts and the servers' peak memory."""
    from playwright.sync_api import sync_playwright

    from benchmarks import pen_timing

    digits = held_out_digits(pen, args.strokes)
    with tempfile.TemporaryDirectory(prefix="digits-bench-") as tmp, sync_playwright() as playwright:
        folder = Path(tmp)
        env = {"DIGITS_HOME": str(folder / "home")}
        scripts = {"app": args.app, "bare": pen_timing.write_bare_page(folder)}
        browser = pen_timing.launch_browser(playwright)
        servers = {}
        try:
            cold, servers = cold_starts(browser, scripts, folder, digits["single"][0], args.cold_starts, env)
            urls = {name: server.url for name, server in servers.items()}
            idle = stroke_round(browser, urls, digits, warm_up=not args.quick)
            memory = {f"{name}_peak_mb": pen_timing.peak_memory_mb(s.process.pid) for name, s in servers.items()}
            # The cold start's digit, then each kind's digits (and a first one, untimed, unless quick).
            memory["after_drawings"] = 1 + len(digits) * (args.strokes + (0 if args.quick else 1))
            training = while_training(browser, urls, digits, folder / "home", args.quick)
            inside = inside_page(browser, urls["app"], clicks=2 if args.quick else 8)
        finally:
            for server in servers.values():
                pen_timing.stop_server(server)
            browser.close()
    return {
        "pen_to_answer": {
            "idle": idle,
            "while_training": training,
            "input": "mouse, held-out pen digits, 280 px canvas",
        },
        "cold_start": cold,
        "server_memory": memory,
        "inside_the_network_page": inside,
    }


def while_training(browser, urls: dict[str, str], digits: dict[str, list], home: Path, quick: bool) -> dict:
    """``stroke_round`` while a training job runs (or why it could not)."""
    from benchmarks import training_job
    from recognizer.data.mnist import DataError, find_mnist_dir
    from recognizer.ops.job_state import job_status
    from recognizer.training.config import TrainConfig

    try:
        find_mnist_dir(download=False)
    except DataError as exc:
        return {"skipped": f"no MNIST for the training job ({exc})"}
    config = TrainConfig(architecture="deepcnn", epochs=50, train_subset=2_000 if quick else None)
    job = training_job.start_long_job(home / "runs", ready_within=5 if quick else 120, config=config)
    try:
        figures = stroke_round(browser, urls, digits, warm_up=not quick)
        # Read before it is stopped: a job killed after the grace is "failed", yet trained throughout.
        during = job_status(job.job_dir).get("status", "?")
    finally:
        ended = training_job.end_job(job, grace=3 if quick else 60)
    return {
        **figures,
        "job": {
            "architecture": config.architecture,
            "train_subset": config.train_subset,
            "status_when_measured": during,
            "status_after_stop": ended,
        },
    }


# ----------------------------------------------------------------------------------------------
# Training speed
# ----------------------------------------------------------------------------------------------


def training_figures(args) -> dict:
    """Seconds to the target test accuracy: the fastest preset, the keras.io recipe, their ratio."""
    from benchmarks import training_speed
    from recognizer.data.mnist import load_mnist

    mnist = load_mnist(download=False)
    name = training_speed.fastest_preset()
    small, checks = {}, training_speed.CHECKS_PER_EPOCH
    if args.quick:  # a smoke run of the whole path: one epoch on 2,000 images, 1,000 test images
        (x_train, y_train), (x_test, y_test) = mnist
        mnist, small, checks = (
            ((x_train, y_train), (x_test[:1000], y_test[:1000])),
            {"epochs": 1, "train_subset": 2_000},
            1,
        )
    preset = training_speed.preset_run(name, mnist, args.target, checks, **small)
    keras_io = training_speed.keras_io_run(mnist, args.target, checks, **small)
    both = preset["reached"] and keras_io["reached"]
    return {
        "training_speed": {
            "target_accuracy": args.target,
            "fastest_preset": preset,
            "keras_io": keras_io,
            "ratio": round(preset["seconds"] / keras_io["seconds"], 2) if both else None,
        },
        "curve_overhead": training_speed.curve_overhead(name, mnist, repeats=1 if args.quick else 3, **small),
    }


# ----------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------


def why_not(part: str, pen) -> str | None:
    """Why ``part`` cannot run here; None when it can."""
    from benchmarks.pen_timing import missing_browser
    from recognizer.data.mnist import DataError, find_mnist_dir

    if part == "browser":
        return missing_browser() or (None if pen is not None else "no pen-digits file (DIGITS_PEN_DIGITS)")
    if part == "training":
        try:
            find_mnist_dir(download=False)
        except DataError as exc:
            return f"no MNIST at hand ({exc})"
    return None


def targets(figures: dict) -> dict:
    """Each goal of issue 11 with the measured value; ``met`` is None when it was not measured."""
    out = {}
    for name, (path, limit) in TARGETS.items():
        value = figures
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        out[name] = {"value": value, "at_most": limit, "met": None if value is None else value <= limit}
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="for the library figures (default: the active model)")
    parser.add_argument("--app", type=Path, default=PROJECT_ROOT / "app.py", help="the app script the browser times")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--quick", action="store_true", help="a smoke run: every part, tiny counts")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--strokes", type=int, default=12, help="digits of each kind drawn on each page")
    parser.add_argument("--cold-starts", type=int, default=3)
    parser.add_argument("--target", type=float, default=0.99, help="test accuracy the training recipes race to")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        print(f"unknown parts: {', '.join(sorted(unknown))} (of {', '.join(PARTS)})", file=sys.stderr)
        return 2
    if args.quick:
        args.calls, args.repeats, args.batch, args.strokes, args.cold_starts = 20, 1, 200, 1, 1
    pen = pen_digits()
    figures: dict = {"machine": {"python": platform.python_version(), "cpu_count": os.cpu_count()}, "quick": args.quick}
    skipped = {}
    run = {
        "library": lambda: library_figures(args, pen),
        "browser": lambda: browser_figures(args, pen),
        "training": lambda: training_figures(args),
    }
    for part in parts:
        reason = why_not(part, pen)
        if reason:
            skipped[part] = reason
            continue
        started = time.perf_counter()
        # Keras prints while it converts to TFLite; stdout carries only the JSON.
        with contextlib.redirect_stdout(sys.stderr):
            figures.update(run[part]())
        figures.setdefault("part_seconds", {})[part] = round(time.perf_counter() - started, 1)
    figures["skipped"] = skipped
    figures["targets"] = targets(figures)
    report_json(figures, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
