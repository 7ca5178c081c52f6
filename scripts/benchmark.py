"""Measure inference speed and print JSON figures (medians over repeats; machines are noisy).

    python scripts/benchmark.py                    # the active model
    python scripts/benchmark.py --repeats 7 --calls 300 --out bench.json

Figures (milliseconds unless named otherwise):
- ``predict_proba_1``: one 28x28 image through ``Recognizer.predict_proba`` (p50, p90);
- ``keras_predict_1``: the same image through ``model.predict``, the slow path it avoids;
- ``predict_proba_batch``: images per second for a batch of ``--batch`` test images;
- ``predict_drawing_280``: one 280x280 RGBA canvas drawing through ``Recognizer.predict_drawing``
  (preprocessing + model), and ``preprocess_drawing_280`` for the preprocessing alone;
- ``read_number_700``: a 700x240 canvas with several digits through ``Recognizer.read_number``;
- ``read_number_touching_4`` and ``read_number_spaced_4``: 4-digit numbers of held-out writers'
  pen digits on an 840x280 canvas, touching or apart (``recognizer.compose``), cycling through 20
  of each (left out when the pen-digits file is not at hand).
Each repeat takes the percentile over ``--calls`` calls; the JSON gives the median over repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recognizer.compose import SPACED_GAPS, TOUCHING_GAPS  # noqa: E402
from recognizer.inference import load_recognizer  # noqa: E402
from recognizer.storage import write_json_atomic  # noqa: E402


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
    runs = [time_calls(fn, calls) for _ in range(repeats)]
    return {
        "p50_ms": round(statistics.median(float(np.percentile(r, 50)) for r in runs), 3),
        "p90_ms": round(statistics.median(float(np.percentile(r, 90)) for r in runs), 3),
        "calls_per_repeat": calls,
        "repeats": repeats,
    }


def sample_images(n: int) -> np.ndarray:
    """Real test digits when the data is at hand, else random strokes-like noise."""
    try:
        from recognizer.data import load_mnist

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


def pen_numbers(gaps: tuple[float, float], count: int = 20) -> list[np.ndarray] | None:
    """``count`` 4-digit numbers of held-out writers (None without the pen-digits file)."""
    from recognizer.compose import sample_numbers
    from recognizer.pendigits import default_pen_digits_path, load_pen_digits, writer_split

    path = default_pen_digits_path()
    if path is None or not path.is_file():
        return None
    pen = load_pen_digits(path)
    return [n.image for n in sample_numbers(pen.subset(writer_split(pen)[1]), count, gaps=gaps, seed=0)]


def cycling(images: list[np.ndarray], fn: Callable[[np.ndarray], object]) -> Callable[[], object]:
    """A no-argument call that passes the next of ``images`` to ``fn`` each time."""
    state = {"i": 0}

    def call():
        state["i"] = (state["i"] + 1) % len(images)
        return fn(images[state["i"]])

    return call


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)

    rec = load_recognizer(args.model)
    images = sample_images(args.batch)
    one = images[:1]
    keras_input = one[..., None].astype(np.float32) / 255

    batch_runs = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        rec.predict_proba(images)
        batch_runs.append(len(images) / (time.perf_counter() - start))

    from recognizer.preprocess import ink_from_image, normalize_digit

    digit, number = sample_drawings()
    figures = {
        "model": rec.name,
        "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count()},
        "predict_proba_1": latency(lambda: rec.predict_proba(one), args.calls, args.repeats),
        "keras_predict_1": latency(
            lambda: rec.model.predict(keras_input, verbose=0), max(10, args.calls // 10), args.repeats
        ),
        "predict_drawing_280": latency(lambda: rec.predict_drawing(digit), args.calls, args.repeats),
        "preprocess_drawing_280": latency(lambda: normalize_digit(ink_from_image(digit)), args.calls, args.repeats),
        "read_number_700": latency(lambda: rec.read_number(number), max(10, args.calls // 4), args.repeats),
        **{
            f"read_number_{name}_4": latency(cycling(numbers, rec.read_number), max(20, args.calls // 4), args.repeats)
            for name, numbers in (("touching", pen_numbers(TOUCHING_GAPS)), ("spaced", pen_numbers(SPACED_GAPS)))
            if numbers
        },
        "predict_proba_batch": {
            "batch": len(images),
            "images_per_second": round(statistics.median(batch_runs)),
            "repeats": args.repeats,
        },
    }
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out:
        write_json_atomic(args.out, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
