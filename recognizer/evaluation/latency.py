"""How long a recognizer takes to answer one image (the Explore page's model comparison)."""

from __future__ import annotations

import statistics
import time

import numpy as np

from recognizer.reading.recognizer import Recognizer


def measure_latency(recognizer: Recognizer, calls: int = 50) -> float:
    """Median milliseconds of one-image ``predict_proba`` calls, after a warm-up call."""
    if not isinstance(calls, int) or calls < 1:
        raise ValueError(f"calls must be a positive integer, got {calls!r}")
    image = np.zeros((1, 28, 28), np.float32)
    recognizer.predict_proba(image)
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        recognizer.predict_proba(image)
        timings.append((time.perf_counter() - started) * 1000)
    return float(statistics.median(timings))
