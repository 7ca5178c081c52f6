"""Written numbers composed from real pen-written digits, to measure and train number reading.

A person writing "0134" puts digits of about one height side by side, sometimes apart, sometimes
touching or overlapping when writing fast. ``compose_number`` draws given digits that way on a
wide transparent canvas (as the app's number canvas returns it) and says where each digit is;
``sample_numbers`` picks digits of one writer for each number, so a number looks like one hand.

    >>> import numpy as np
    >>> bar = [np.array([[0.0, 0.0], [0.0, 10.0]])]
    >>> rgba, boxes = compose_number([bar, bar], gaps=[20], height=100, brush=10, size=(400, 200))
    >>> rgba.shape, [b[0] for b in boxes]
    ((200, 400, 4), [180, 210])
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from recognizer.data.pen import PenDigits, draw_strokes, to_rgba

NUMBER_CANVAS = (840, 280)  # width, height: the number canvas the targets are measured on
TOUCHING_GAPS = (-6.0, 6.0)  # px between neighbours' ink: touching or slightly overlapping
SPACED_GAPS = (15.0, 40.0)  # px: written apart
DIGIT_HEIGHT = (165.0, 195.0)  # px, "about 180"
BRUSHES = (14.0, 25.0)  # px

Box = tuple[int, int, int, int]


def _scaled(strokes: list[np.ndarray], height: float) -> list[np.ndarray]:
    """Strokes scaled to ``height`` px tall with their box's top-left at (0, 0)."""
    pts = np.concatenate(strokes)
    lo = pts.min(axis=0)
    scale = height / max(float(np.ptp(pts[:, 1])), 1e-6)
    return [(s - lo) * scale for s in strokes]


def compose_number(
    digits: list[list[np.ndarray]],
    gaps: list[float],
    height: float = 180.0,
    brush: float = 18.0,
    size: tuple[int, int] = NUMBER_CANVAS,
    heights: list[float] | None = None,
    drops: list[float] | None = None,
) -> tuple[np.ndarray, list[Box]]:
    """Draw ``digits`` (strokes, screen coordinates) left to right: RGBA (H, W, 4) and ink boxes.

    ``gaps[i]`` is the space in px between the ink of digit i and digit i+1 (negative: they
    overlap). ``heights`` scales each digit (factors around 1), ``drops`` shifts each down (px).
    The whole number is centred and, when it would not fit, shrunk to fit.
    """
    layers, boxes = compose_layers(digits, gaps, height, brush, size, heights, drops)
    return to_rgba(np.max(layers, axis=0)), boxes


def compose_layers(digits, gaps, height=180.0, brush=18.0, size=NUMBER_CANVAS, heights=None, drops=None):
    """``compose_number``, each digit's ink apart: (list of uint8 alpha (H, W), boxes)."""
    placed, boxes, pen_width = place_digits(digits, gaps, height, brush, size, heights, drops)
    return [draw_strokes(strokes, pen_width, size) for strokes in placed], boxes


def place_digits(digits, gaps, height=180.0, brush=18.0, size=NUMBER_CANVAS, heights=None, drops=None):
    """Where ``compose_number`` puts each digit: (strokes in canvas px per digit, boxes, brush px).

    The strokes are what a hand would trace on the canvas (the browser tests draw them).
    """
    factors = heights or [1.0] * len(digits)
    drops = drops or [0.0] * len(digits)
    shapes = [_scaled(d, height * f) for d, f in zip(digits, factors, strict=True)]
    widths = [float(np.concatenate(s)[:, 0].max()) + brush for s in shapes]
    total = sum(widths) + sum(gaps)
    tallest = height * max(factors) + brush + 2 * max(abs(d) for d in drops)
    fit = min(1.0, (size[0] - 2 * brush) / total, (size[1] - brush) / tallest)
    x = (size[0] - total * fit) / 2
    placed, boxes = [], []
    for shape, width, factor, drop, gap in zip(shapes, widths, factors, drops, [*gaps, 0.0], strict=True):
        digit_height = height * factor * fit
        top = (size[1] - digit_height) / 2 + drop * fit
        offset = np.array([x + brush * fit / 2, top])
        placed.append([s * fit + offset for s in shape])
        edge = brush * fit / 2
        boxes.append((round(x), round(top - edge), round(width * fit), round(digit_height + 2 * edge)))
        x += (width + gap) * fit
    return placed, boxes, brush * fit


@dataclass(frozen=True)
class ComposedNumber:
    image: np.ndarray  # RGBA (H, W, 4)
    labels: list[int]
    boxes: list[Box]
    writer: int


def sample_numbers(
    pen: PenDigits,
    count: int,
    length: int = 4,
    gaps: tuple[float, float] = TOUCHING_GAPS,
    seed: int = 0,
    size: tuple[int, int] = NUMBER_CANVAS,
) -> Iterator[ComposedNumber]:
    """``count`` numbers of ``length`` digits, each from one writer's digits, composed as people write.

    Height 165-195 px (each digit within -8..+4 % of it, dropped by up to 6 px), brush 14-25 px,
    gaps uniform in ``gaps``. Writers with fewer than ``length`` digits lend none.
    """
    rng = np.random.default_rng(seed)
    writers, counts = np.unique(pen.writers, return_counts=True)
    writers = writers[counts >= min(length, counts.max())]
    for _ in range(count):
        own = np.flatnonzero(pen.writers == rng.choice(writers))
        picks = rng.choice(own, size=length, replace=len(own) < length)
        image, boxes = compose_number(
            [pen.strokes(i) for i in picks],
            gaps=list(rng.uniform(*gaps, size=length - 1)),
            height=float(rng.uniform(*DIGIT_HEIGHT)),
            brush=float(rng.uniform(*BRUSHES)),
            size=size,
            heights=list(rng.uniform(0.92, 1.04, size=length)),
            drops=list(rng.uniform(-6, 6, size=length)),
        )
        yield ComposedNumber(image, [int(pen.labels[i]) for i in picks], boxes, int(pen.writers[picks[0]]))
