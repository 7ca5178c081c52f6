"""How fast the Explore page's "Inside the network" follows a new drawing: medians in ms.

``activations_ms``: one LiteRT pass that gives every layer (``LayerProbe.run``).
``tiles_ms``: every picture the section draws from them (a grid of feature maps per step, a strip
per dense layer), encoded as PNG. ``probe_build_s``: building and converting the probe, once per
model. ``inside_page`` times the whole section in Chromium: from a click on the test digit's "+"
until the page has settled. Goals (issue 30, deepcnn on a 2-core machine): activations 150 ms at
most, the section 1 s.

    python -m benchmarks.inside_timing                 # the active model
    python -m benchmarks.inside_timing models/deepcnn-mnist-v1
"""

from __future__ import annotations

import itertools
import statistics
import sys
import time

import numpy as np

from recognizer.evaluation.inside import LayerProbe, as_png, map_grid, steps, strip

GOAL_ACTIVATIONS_MS = 150


def _pictures(layers) -> list[bytes]:
    """The pictures the section draws for one image (``app_pages/explore_inside.py``)."""
    pictures = []
    for step in steps(layers):
        last = step[-1]
        if last.kind not in ("dropout", "flatten", "output"):  # those add nothing to picture, or are bars
            pictures.append(as_png(map_grid(last.values) if last.is_maps else strip(last.values)))
    return pictures


def _median_ms(fn, calls: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def inside_timing(rec, calls: int = 20, images: np.ndarray | None = None) -> dict:
    """Medians over ``calls`` new images for ``rec``'s network (an ensemble: its first member)."""
    from recognizer.evaluation.inside import members

    model = rec.model
    started = time.perf_counter()
    probe = LayerProbe((members(model) or [model])[0])
    build_s = time.perf_counter() - started
    if images is None:  # strokes-like noise: the pass's time does not depend on the pixels
        images = np.random.default_rng(0).random((calls, 28, 28)).astype(np.float32)
    images = np.asarray(images, np.float32)
    turn = itertools.count()

    def next_image() -> np.ndarray:
        return images[next(turn) % len(images)]

    layers = probe.run(next_image())
    return {
        "model": rec.name,
        "activations_ms": _median_ms(lambda: probe.run(next_image()), calls),
        "tiles_ms": _median_ms(lambda: _pictures(layers), calls),
        "pictures": len(_pictures(layers)),
        "probe_build_s": round(build_s, 2),
        "calls": calls,
    }


def inside_page(browser, url: str, clicks: int = 8) -> dict:
    """The section in Chromium on the app at ``url``: ms from a click on the test digit index's "+"
    until the page stops changing (``benchmarks.pen_timing.wait_settled``), median of ``clicks``."""
    from benchmarks import pen_timing

    page = pen_timing.new_page(browser)
    try:
        page.goto(f"{url}/explore")
        page.get_by_text("Inside the network", exact=True).click()
        page.get_by_text("MNIST test index").wait_for(timeout=180_000)  # the first visit converts the probe
        page.get_by_text("Reads a").first.wait_for(timeout=180_000)
        pen_timing.wait_settled(page)
        times = []
        for _ in range(clicks):
            page.get_by_test_id("stNumberInputStepUp").first.click()
            times.append(pen_timing.wait_settled(page))
    finally:
        page.context.close()
    settled = [t for t in times if t is not None]
    return {"settled_ms": round(statistics.median(settled), 1) if settled else None, "clicks": clicks}


def main(argv: list[str] | None = None) -> int:
    import json

    from recognizer.reading.recognizer import load_recognizer

    args = sys.argv[1:] if argv is None else argv
    print(json.dumps(inside_timing(load_recognizer(args[0] if args else None, number_reader=False)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
