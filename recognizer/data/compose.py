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
from dataclasses import dataclass, replace

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
    **placing,
) -> tuple[np.ndarray, list[Box]]:
    """Draw ``digits`` (strokes, screen coordinates) left to right: RGBA (H, W, 4) and ink boxes.

    ``gaps[i]`` is the space in px between the ink of digit i and digit i+1 (negative: they
    overlap). ``heights`` scales each digit (factors around 1), ``drops`` shifts each down (px).
    The whole number is centred and, when it would not fit, shrunk to fit. ``placing`` takes
    ``place_digits``' ``brushes`` (one per digit) and ``shift`` (off the centre).
    """
    layers, boxes = compose_layers(digits, gaps, height, brush, size, heights, drops, **placing)
    return to_rgba(np.max(layers, axis=0)), boxes


def compose_layers(digits, gaps, height=180.0, brush=18.0, size=NUMBER_CANVAS, heights=None, drops=None, **placing):
    """``compose_number``, each digit's ink apart: (list of uint8 alpha (H, W), boxes)."""
    placed, boxes, pen_widths = place_digits(digits, gaps, height, brush, size, heights, drops, **placing)
    return [draw_strokes(strokes, width, size) for strokes, width in zip(placed, pen_widths, strict=True)], boxes


def place_digits(
    digits,
    gaps,
    height=180.0,
    brush=18.0,
    size=NUMBER_CANVAS,
    heights=None,
    drops=None,
    brushes: list[float] | None = None,
    shift: tuple[float, float] = (0.0, 0.0),
):
    """Where ``compose_number`` puts each digit: (strokes in canvas px per digit, boxes, brush px per digit).

    ``brushes`` gives each digit its own pen (default ``brush`` for all). ``shift`` moves the
    number off the canvas's centre, as a share (-1..1) of the room left around it on each axis.
    The strokes are what a hand would trace on the canvas (the browser tests draw them).
    """
    factors = heights or [1.0] * len(digits)
    drops = drops or [0.0] * len(digits)
    pens = brushes or [brush] * len(digits)
    shapes = [_scaled(d, height * f) for d, f in zip(digits, factors, strict=True)]
    widths = [float(np.concatenate(s)[:, 0].max()) + pen for s, pen in zip(shapes, pens, strict=True)]
    total = sum(widths) + sum(gaps)
    widest = max(pens)
    tallest = height * max(factors) + widest + 2 * max(abs(d) for d in drops)
    fit = min(1.0, (size[0] - 2 * widest) / total, (size[1] - widest) / tallest)
    x = (size[0] - total * fit) / 2 * (1 + shift[0])
    lift = (size[1] - tallest * fit) / 2 * shift[1]
    placed, boxes = [], []
    for shape, width, factor, drop, gap, pen in zip(shapes, widths, factors, drops, [*gaps, 0.0], pens, strict=True):
        digit_height = height * factor * fit
        top = (size[1] - digit_height) / 2 + drop * fit + lift
        edge = pen * fit / 2
        placed.append([s * fit + np.array([x + edge, top]) for s in shape])
        boxes.append((round(x), round(top - edge), round(width * fit), round(digit_height + 2 * edge)))
        x += (width + gap) * fit
    return placed, boxes, [pen * fit for pen in pens]


@dataclass(frozen=True)
class ComposedNumber:
    image: np.ndarray  # RGBA (H, W, 4)
    labels: list[int]
    boxes: list[Box]
    writer: int


REFERENCE_HEIGHT = 180.0  # px: the number height a Variation's sizes are given for


@dataclass(frozen=True)
class Variation:
    """Ranges a composed number's writing is drawn from; sizes in px of a number 180 px high.

    The defaults are the plain composition: one writer, heights within -8..+4 %, bottoms within
    6 px, no slant, brush 14-25 px, and neighbours 15-40 px apart.
    """

    gaps: tuple[float, float] = SPACED_GAPS  # px between neighbours' ink (negative: overlapping)
    heights: tuple[float, float] = (0.92, 1.04)  # each digit's height factor
    offsets: float = 6 / REFERENCE_HEIGHT  # share of the height each digit moves up or down, at most
    drift: float = 0.0  # share of the height the baseline rises or falls over the number, at most
    slant: float = 0.0  # degrees the hand leans, either way
    brush: tuple[float, float] = BRUSHES  # px
    own_brush: bool = False  # each digit with its own pen (several hands)
    mixed_writers: bool = False  # each digit from a different writer
    lengths: tuple[int, int] = (4, 4)  # digits per number
    anywhere: bool = False  # anywhere on the canvas it fits, not centred

    def problems(self) -> list[str]:
        """Why this variation cannot be drawn (empty when it can)."""
        found = []
        for name in ("gaps", "heights", "brush", "lengths"):
            low, high = getattr(self, name)
            if low > high:
                found.append(f"{name}: {low} > {high}")
        if self.heights[0] <= 0 or self.brush[0] <= 0 or self.lengths[0] < 1:
            found.append("heights, brush and lengths must be positive")
        if not 0 <= self.slant <= 45:
            found.append("slant must be 0-45 degrees")
        return found


PLAIN = Variation()

# One axis at a time, as far as the issue says people go, then all of them together. The gap
# axis widens both ways: spaced numbers up to 60 px apart, touching ones overlapping by 8 px.
AXES = {
    "digit heights x0.55-1.2": {"heights": (0.55, 1.2)},
    "baseline and offsets ±20 %": {"offsets": 0.2, "drift": 0.2},
    "slant ±15°": {"slant": 15.0},
    "brush 6-32 px": {"brush": (6.0, 32.0)},
    "mixed writers, a pen each": {"mixed_writers": True, "own_brush": True},
    "1-10 digits, anywhere": {"lengths": (1, 10), "anywhere": True},
}
WIDE_GAPS = {"spaced": (15.0, 60.0), "touching": (-8.0, 6.0)}
GAP_KINDS = {"spaced": SPACED_GAPS, "touching": TOUCHING_GAPS}


def stress_variations(kind: str) -> dict[str, Variation]:
    """The stress table's rows for ``kind`` ("spaced" or "touching"): plain, each axis alone, the
    mix of hands and sizes a form filled in by several people shows, and all axes together."""
    plain = replace(PLAIN, gaps=GAP_KINDS[kind])
    rows = {"plain": plain, **{name: replace(plain, **change) for name, change in AXES.items()}}
    rows["mixed writers, sizes and pens"] = replace(plain, heights=(0.55, 1.2), mixed_writers=True, own_brush=True)
    rows["gaps " + ("15-60 px" if kind == "spaced" else "-8..+6 px")] = replace(plain, gaps=WIDE_GAPS[kind])
    everything = {key: value for change in AXES.values() for key, value in change.items()}
    rows["all together"] = replace(plain, gaps=WIDE_GAPS[kind], **everything)
    return rows


def slanted(strokes: list[np.ndarray], degrees: float) -> list[np.ndarray]:
    """Strokes (screen coordinates, y down) sheared so that upright lines lean ``degrees`` right."""
    lean = np.tan(np.radians(degrees))
    return [np.column_stack([s[:, 0] - lean * s[:, 1], s[:, 1]]) for s in strokes]


def varied_layout(rng: np.random.Generator, variation: Variation, length: int, scale: float = 1.0, axes=None) -> dict:
    """``compose_number``'s arguments but the digits, for ``length`` digits drawn from ``variation``.

    Sizes are scaled by ``scale`` (1: the 165-195 px numbers of the number canvas). The plain
    composition's draws come from ``rng`` in its order, so that ``PLAIN`` composes the very numbers
    ``sample_numbers`` always did; each further axis draws, only when it is on, from ``axes``
    (default ``rng``), so that a separate generator there leaves the digits drawn next unchanged.
    """
    axes = axes or rng
    reference = REFERENCE_HEIGHT * scale
    layout = {
        "gaps": list(rng.uniform(*variation.gaps, size=length - 1) * scale),
        "height": float(rng.uniform(*DIGIT_HEIGHT)) * scale,
        "brush": float(rng.uniform(*variation.brush)) * scale,
        "heights": list(rng.uniform(*variation.heights, size=length)),
        "drops": rng.uniform(-1, 1, size=length) * variation.offsets * reference,
    }
    if variation.drift:
        layout["drops"] = layout["drops"] + np.linspace(0, axes.uniform(-1, 1), length) * variation.drift * reference
    layout["drops"] = list(layout["drops"])
    if variation.own_brush:
        layout["brushes"] = list(axes.uniform(*variation.brush, size=length) * scale)
    if variation.anywhere:
        layout["shift"] = tuple(axes.uniform(-1, 1, size=2))
    return layout


def varied_picks(pen: PenDigits, rng: np.random.Generator, variation: Variation, writers: np.ndarray) -> np.ndarray:
    """Which of ``pen``'s digits write one number drawn from ``variation`` (indices, left to right).

    ``writers`` are those with enough digits to lend a whole number.
    """
    low, high = variation.lengths
    length = low if low == high else int(rng.integers(low, high + 1))
    if variation.mixed_writers:
        return rng.choice(len(pen), size=length, replace=False)
    own = np.flatnonzero(pen.writers == rng.choice(writers))
    return rng.choice(own, size=length, replace=len(own) < length)


def lending_writers(pen: PenDigits, length: int) -> np.ndarray:
    """Writers with at least ``length`` digits (all of the most prolific when none has as many)."""
    writers, counts = np.unique(pen.writers, return_counts=True)
    return writers[counts >= min(length, counts.max())]


def sample_varied(
    pen: PenDigits,
    count: int,
    variation: Variation = PLAIN,
    seed: int = 0,
    size: tuple[int, int] = NUMBER_CANVAS,
) -> Iterator[ComposedNumber]:
    """``count`` numbers of ``pen``'s digits written with ``variation``, 165-195 px high on ``size``.

    Variations that differ only in their axes (not in lengths or hands) write the same digits.
    """
    if variation.problems():
        raise ValueError("; ".join(variation.problems()))
    rng, axes = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    writers = lending_writers(pen, variation.lengths[1])
    for _ in range(count):
        picks = varied_picks(pen, rng, variation, writers)
        digits = [pen.strokes(int(i)) for i in picks]
        layout = varied_layout(rng, variation, len(digits), axes=axes)
        if variation.slant:
            digits = [slanted(d, axes.uniform(-variation.slant, variation.slant)) for d in digits]
        image, boxes = compose_number(digits, size=size, **layout)
        yield ComposedNumber(image, [int(pen.labels[i]) for i in picks], boxes, int(pen.writers[picks[0]]))


def sample_numbers(
    pen: PenDigits,
    count: int,
    length: int = 4,
    gaps: tuple[float, float] = TOUCHING_GAPS,
    seed: int = 0,
    size: tuple[int, int] = NUMBER_CANVAS,
) -> Iterator[ComposedNumber]:
    """``count`` plain numbers of ``length`` digits, each from one writer's digits, composed as people write.

    Height 165-195 px (each digit within -8..+4 % of it, dropped by up to 6 px), brush 14-25 px,
    gaps uniform in ``gaps``. Writers with fewer than ``length`` digits lend none.
    """
    return sample_varied(pen, count, replace(PLAIN, gaps=gaps, lengths=(length, length)), seed, size)
