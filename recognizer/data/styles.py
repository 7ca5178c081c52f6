"""Common ways of writing 1, 7 and 0, made from real writers' strokes, to measure each one.

MNIST is mostly American handwriting: plain 1s, plain 7s, plain 0s. People also write a 1 with a
long flag (an upstroke from lower left to the top) and a foot, a 7 crossed in the middle, a 0
slashed or dotted. ``styled`` adds that stroke to a writer's own digit; ``styled_report`` reads
every variant of the held-out writers' 1s, 7s and 0s drawn on the canvas.

    >>> import numpy as np
    >>> one = [np.array([[0.0, 0.0], [0.0, 10.0]])]
    >>> len(styled(one, "1 flag and foot", np.random.default_rng(0)))
    3
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Strokes = list[np.ndarray]


def _line(x0: float, y0: float, x1: float, y1: float, n: int = 12) -> np.ndarray:
    return np.column_stack([np.linspace(x0, x1, n), np.linspace(y0, y1, n)])


def _extent(strokes: Strokes):
    pts = np.concatenate(strokes)
    (left, top), (right, bottom) = pts.min(axis=0), pts.max(axis=0)
    return pts, left, top, max(right - left, 1e-6), max(bottom - top, 1e-6)


def _long_flag(strokes: Strokes, rng: np.random.Generator) -> Strokes:
    """An upstroke from well down the left side to the top of the stem (the continental 1)."""
    pts, _, top, _, h = _extent(strokes)
    high = pts[np.argmin(pts[:, 1])]
    start = (high[0] - rng.uniform(0.3, 0.45) * h, top + rng.uniform(0.35, 0.55) * h)
    return [_line(*start, *high), *strokes]


def _foot(strokes: Strokes, rng: np.random.Generator) -> Strokes:
    pts, _, top, _, h = _extent(strokes)
    low = pts[np.argmax(pts[:, 1])]
    half = rng.uniform(0.15, 0.3) * h
    return [*strokes, _line(low[0] - half, top + h, low[0] + half, top + h)]


def _cross(strokes: Strokes, rng: np.random.Generator) -> Strokes:
    pts, _, top, w, h = _extent(strokes)
    y = top + rng.uniform(0.45, 0.6) * h
    near = pts[np.argmin(np.abs(pts[:, 1] - y))]  # where the stem crosses that height
    half = rng.uniform(0.2, 0.35) * max(w, 0.5 * h)
    return [*strokes, _line(near[0] - half, y, near[0] + half, y + rng.uniform(-0.03, 0.03) * h)]


def _slash(strokes: Strokes, rng: np.random.Generator) -> Strokes:
    """A stroke from upper right to lower left through the 0, about as long as its box's diagonal.

    It leans 35-65 degrees, and crosses the 0's own long axis at 30 degrees or more: a slash along a
    narrow, slanted 0 would merge with it into a thick 1.
    """
    pts, left, top, w, h = _extent(strokes)
    tilt = _long_axis_degrees(pts)
    angle = rng.uniform(35, 65)
    if abs(angle - tilt) < 30:
        angle = tilt - 30 if tilt > 50 else tilt + 30
    half = 0.5 * np.hypot(w, h) * rng.uniform(0.95, 1.2)
    dx, dy = half * np.cos(np.radians(angle)), half * np.sin(np.radians(angle))
    cx, cy = left + 0.5 * w, top + 0.5 * h
    return [*strokes, _line(cx + dx, cy - dy, cx - dx, cy + dy)]


def _long_axis_degrees(pts: np.ndarray) -> float:
    """The angle of the points' long axis from the horizontal as it looks (y up): 90 upright, 45 for "/"."""
    if len(pts) < 3:
        return 90.0
    ax, ay = np.linalg.eigh(np.cov((pts - pts.mean(axis=0)).T))[1][:, -1]
    return float(np.degrees(np.arctan2(abs(ay), -ax * (np.sign(ay) or 1.0))))


def _dot(strokes: Strokes, rng: np.random.Generator) -> Strokes:
    _, left, top, w, h = _extent(strokes)
    centre = (left + w * rng.uniform(0.45, 0.55), top + h * rng.uniform(0.45, 0.55))
    return [*strokes, np.array([centre])]


def _plain(strokes: Strokes, rng: np.random.Generator) -> Strokes:
    return strokes


# variant name -> (digit, how its strokes are changed)
VARIANTS: dict[str, tuple[int, Callable[[Strokes, np.random.Generator], Strokes]]] = {
    "1 plain": (1, _plain),
    "1 long flag": (1, _long_flag),
    "1 flag and foot": (1, lambda s, rng: _foot(_long_flag(s, rng), rng)),
    "7 plain": (7, _plain),
    "7 crossed": (7, _cross),
    "0 plain": (0, _plain),
    "0 slashed": (0, _slash),
    "0 dotted": (0, _dot),
}


def styled(strokes: Strokes, variant: str, rng: np.random.Generator) -> Strokes:
    """``strokes`` (screen coordinates) written the way ``variant`` names (see ``VARIANTS``)."""
    return VARIANTS[variant][1](strokes, rng)


def restyled(strokes: Strokes, digit: int, rng: np.random.Generator) -> Strokes:
    """``strokes`` of ``digit`` written one of its other ways, picked at random (unchanged for 2-6, 8, 9)."""
    others = [name for name, (of, change) in VARIANTS.items() if of == digit and change is not _plain]
    return styled(strokes, others[rng.integers(len(others))], rng) if others else strokes
