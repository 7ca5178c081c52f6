"""Real pen-written digits (stroke trajectories) rendered the way the app's canvas draws them.

The pen-digits file holds digits written on tablets by hundreds of writers: the nearest thing to
people drawing on the canvas. ``render_digit`` draws one with a round brush of a given width on a
transparent RGBA canvas (as streamlit-drawable-canvas returns it), at a given size and place.

    >>> from recognizer.data.pen import load_pen_digits, render_digit
    >>> pen = load_pen_digits("../shared/data/pen-digits/pen_digits_dev.npz")  # doctest: +SKIP
    >>> rgba = render_digit(pen.strokes(0), brush=20)  # doctest: +SKIP
    >>> rgba.shape  # doctest: +SKIP
    (280, 280, 4)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from recognizer.core.paths import PROJECT_ROOT

CANVAS_SIZE = 280
_SUBPIXEL_BITS = 4  # cv2 drawing with fixed-point coordinates: 1/16 px precision


@dataclass(frozen=True)
class PenDigits:
    """Stroke data of N digits; ``strokes(i)`` gives digit i's strokes in screen coordinates."""

    points: np.ndarray
    stroke_offsets: np.ndarray
    stroke_counts: np.ndarray
    labels: np.ndarray
    writers: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def first_stroke(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.stroke_counts)[:-1]])

    def strokes(self, i: int) -> list[np.ndarray]:
        """Digit ``i`` as a list of (P, 2) float arrays, x right and y *down* (screen)."""
        start = int(self.first_stroke[i])
        out = []
        for s in range(start, start + int(self.stroke_counts[i])):
            pts = self.points[self.stroke_offsets[s] : self.stroke_offsets[s + 1]].astype(np.float64)
            out.append(np.column_stack([pts[:, 0], -pts[:, 1]]))  # tablets' y grows upward
        return out

    def subset(self, index: np.ndarray) -> PenDigits:
        """A new PenDigits with only the digits at ``index`` (in that order)."""
        index = np.asarray(index)
        first = self.first_stroke
        strokes = [np.arange(first[i], first[i] + self.stroke_counts[i]) for i in index]
        stroke_ids = np.concatenate(strokes) if strokes else np.zeros(0, np.int64)
        lengths = self.stroke_offsets[stroke_ids + 1] - self.stroke_offsets[stroke_ids]
        points = [self.points[self.stroke_offsets[s] : self.stroke_offsets[s + 1]] for s in stroke_ids]
        return PenDigits(
            points=np.concatenate(points) if points else np.zeros((0, 2), np.float32),
            stroke_offsets=np.concatenate([[0], np.cumsum(lengths)]),
            stroke_counts=self.stroke_counts[index],
            labels=self.labels[index],
            writers=self.writers[index],
        )


def load_pen_digits(path: str | os.PathLike) -> PenDigits:
    """Read the pen-digits ``.npz`` (see the data folder's README for its arrays)."""
    return _load_pen(path, labels_as=np.int64)


def load_pen_letters(path: str | os.PathLike) -> PenDigits:
    """Read the pen-letters ``.npz``: the same arrays as the digits, labels are letters (``<U1``)."""
    return _load_pen(path, labels_as=None)


def _load_pen(path: str | os.PathLike, labels_as) -> PenDigits:
    with np.load(Path(path)) as data:
        labels = data["labels"]
        return PenDigits(
            points=data["points"],
            stroke_offsets=data["stroke_offsets"],
            stroke_counts=data["stroke_counts"],
            labels=labels.astype(labels_as) if labels_as is not None else labels,
            writers=data["writer"],
        )


def writer_split(pen: PenDigits, holdout: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held out) such that no writer appears on both sides."""
    writers = np.unique(pen.writers)
    held = np.random.default_rng(seed).choice(writers, size=round(len(writers) * holdout), replace=False)
    is_held = np.isin(pen.writers, held)
    return np.flatnonzero(~is_held), np.flatnonzero(is_held)


# The pen digits come from four collections, each written on its own kind of tablet; the file does
# not name them, but writer ids run collection by collection, and each tablet leaves its mark in
# a digit's size in its units and in how far apart it samples the pen.
LARGE_UNITS = 50.0  # a digit's median height in tablet units above this: a high-resolution tablet
SPARSE_SAMPLING = 3.0  # median distance between points above this: a tablet that samples sparsely


def tablet_signature(pen: PenDigits, writer: int) -> tuple[bool, bool]:
    """(high-resolution units, sparse sampling) of ``writer``'s tablet, from the median digit."""
    heights, steps = [], []
    for i in np.flatnonzero(pen.writers == writer):
        points = np.concatenate(pen.strokes(int(i)))
        heights.append(np.ptp(points[:, 1]))
        steps.extend(np.linalg.norm(np.diff(s, axis=0), axis=1) for s in pen.strokes(int(i)) if len(s) > 1)
    step = float(np.median(np.concatenate(steps))) if steps else 0.0
    return float(np.median(heights)) > LARGE_UNITS, step > SPARSE_SAMPLING


def collections_of(pen: PenDigits) -> np.ndarray:
    """Each digit's source collection (0, 1, ...): a new one wherever, in writer-id order, the
    tablet's signature changes."""
    writers = np.unique(pen.writers)
    signatures = [tablet_signature(pen, w) for w in writers]
    changes = [a != b for a, b in zip(signatures, signatures[1:], strict=False)]
    collection = np.concatenate([[0], np.cumsum(changes)]).astype(np.int64)
    return collection[np.searchsorted(writers, pen.writers)]


def render_digit(
    strokes: list[np.ndarray],
    brush: float = 20,
    canvas: int = CANVAS_SIZE,
    height: float | None = None,
    center: tuple[float, float] | None = None,
    color: tuple[int, int, int] = (0, 0, 0),
) -> np.ndarray:
    """Draw strokes as the canvas would: RGBA uint8 (canvas, canvas, 4), transparent background.

    ``height`` is the digit's height in canvas pixels (default 60 % of the canvas; a wide digit is
    limited to the canvas width), ``center`` where its box's centre goes (default the middle).
    Strokes are polylines with round caps and joins, anti-aliased, ``brush`` px wide.
    """
    pts = np.concatenate(strokes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    height = 0.6 * canvas if height is None else height
    scale = min(height / span[1], (canvas - brush) / span[0])
    cx, cy = center if center is not None else (canvas / 2, canvas / 2)
    offset = np.array([cx, cy]) - (lo + hi) / 2 * scale
    alpha = draw_strokes([s * scale + offset for s in strokes], brush, (canvas, canvas))
    return to_rgba(alpha, color)


def draw_strokes(strokes: list[np.ndarray], brush: float, size: tuple[int, int]) -> np.ndarray:
    """Strokes already in canvas pixels -> uint8 alpha (height, width); ``size`` is (width, height).

    Polylines with round caps and joins, anti-aliased, ``brush`` px wide, like the canvas draws.
    """
    alpha = np.zeros((size[1], size[0]), np.uint8)
    thickness = max(1, int(round(brush)))
    for stroke in strokes:
        fixed = np.round(stroke * (1 << _SUBPIXEL_BITS)).astype(np.int32)
        if len(fixed) == 1 or np.all(fixed == fixed[0]):
            cv2.circle(alpha, tuple(fixed[0]), (thickness << _SUBPIXEL_BITS) // 2, 255, -1, cv2.LINE_AA, _SUBPIXEL_BITS)
        else:
            cv2.polylines(alpha, [fixed], False, 255, thickness, cv2.LINE_AA, _SUBPIXEL_BITS)
    return alpha


def to_rgba(alpha: np.ndarray, color: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """An alpha mask as the canvas returns drawings: RGBA uint8, ``color`` ink on transparency."""
    rgba = np.zeros((*alpha.shape, 4), np.uint8)
    rgba[..., :3] = color
    rgba[..., 3] = alpha
    return rgba


def random_rendering(strokes: list[np.ndarray], rng: np.random.Generator, canvas: int = CANVAS_SIZE) -> np.ndarray:
    """One rendering as a person might draw it: brush 10-30 px, height 25-90 % of the canvas,
    anywhere it fits."""
    brush = float(rng.uniform(10, 30))
    height = float(rng.uniform(0.25, 0.9)) * canvas
    pts = np.concatenate(strokes)
    span = np.maximum(pts.max(axis=0) - pts.min(axis=0), 1e-6)
    width = min(height * span[0] / span[1], canvas - brush)
    height = min(height, width * span[1] / span[0]) if span[0] > 0 else height
    margin_x = (width + brush) / 2
    margin_y = (height + brush) / 2
    cx = rng.uniform(margin_x, max(margin_x, canvas - margin_x))
    cy = rng.uniform(margin_y, max(margin_y, canvas - margin_y))
    return render_digit(strokes, brush=brush, canvas=canvas, height=height, center=(cx, cy))


def distorted(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """The same digit as another writer might shape it: slant, width, smooth warp, strokes shifted.

    Works on the trajectory, before rendering, so the brush stays round and the ink as wide as
    drawn (an image warp would stretch both). Sizes are relative to the digit's height:
    a slant of up to 0.3 (about 17 degrees), width x0.75-1.3, rotation up to 8 degrees, a warp
    of a few percent that bends strokes (two random waves each way), and every stroke after the
    first shifted by about 4 % (a 4's or a 5's strokes never meet quite the same way twice).
    """
    pts = np.concatenate(strokes)
    centre = (pts.min(axis=0) + pts.max(axis=0)) / 2
    size = max(float(np.ptp(pts[:, 1])), float(np.ptp(pts[:, 0])), 1e-6)
    turn = np.radians(rng.uniform(-8, 8))
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    shape = rotation @ np.array([[np.exp(rng.uniform(-0.29, 0.26)), rng.uniform(-0.3, 0.3)], [0.0, 1.0]])
    waves = [
        (rng.normal(0, 0.025, 2), rng.uniform(0.4, 1.2, 2) * rng.choice([-1, 1], 2), rng.uniform(0, 2 * np.pi))
        for _ in range(2)
    ]

    def reshape(unit: np.ndarray) -> np.ndarray:
        warp = sum(amp * np.sin(2 * np.pi * (unit @ freq) + phase)[:, None] for amp, freq, phase in waves)
        return (unit + warp) @ shape.T

    shifts = [np.zeros(2)] + [rng.normal(0, 0.04, 2) for _ in strokes[1:]]
    return [centre + size * (reshape((s - centre) / size) + shift) for s, shift in zip(strokes, shifts, strict=True)]


def default_pen_digits_path() -> Path | None:
    """``DIGITS_PEN_DIGITS`` if set, else the development copy beside the project, else None."""
    return _default_data_path("DIGITS_PEN_DIGITS", "pen-digits/pen_digits_dev.npz")


def default_pen_letters_path() -> Path | None:
    """``DIGITS_PEN_LETTERS`` if set, else the development copy beside the project, else None."""
    return _default_data_path("DIGITS_PEN_LETTERS", "pen-letters/pen_letters_dev.npz")


def _default_data_path(variable: str, dev_name: str) -> Path | None:
    override = os.environ.get(variable)
    if override:
        return Path(override)

    dev_copy = PROJECT_ROOT.parent / "shared" / "data" / dev_name
    return dev_copy if dev_copy.is_file() else None


def pen_digits_file(pen_path: str | Path | None) -> Path | None:
    """``pen_path``, else the pen-digits file found by default; None when there is no such file."""
    pen_path = pen_path or default_pen_digits_path()
    return Path(pen_path) if pen_path is not None and Path(pen_path).is_file() else None


def pen_letters_of(writers: int):
    """The pen letters of the training (0) or held-out (1) writers; None without the letters file."""
    letters_path = default_pen_letters_path()
    if letters_path is None or not letters_path.is_file():
        return None
    letters = load_pen_letters(letters_path)
    return letters.subset(writer_split(letters)[writers])
