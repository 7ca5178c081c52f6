"""Ink that is not one digit, in MNIST format: the 11th class a model can answer ("not a digit").

A classifier trained only on digits reads anything as a digit, confidently. Shown what is *not*
one digit, it can say so, and a number reader can score candidate cuts with it: a piece that is
half a digit, or a digit with a sliver of its neighbour, is "not one digit". The examples:

- real pen-written letters that do not look like digits (``NEGATIVE_LETTERS``; O, l, I, S, Z, B,
  b, g, q ... look like digits and are left out);
- two or three digits written side by side, apart, touching or overlapping;
- fragments: a digit cut short, or a digit with part of its neighbour;
- scribbles: random smooth pen paths.

    >>> from recognizer.data.negatives import scribbles
    >>> scribbles(3, seed=0).shape
    (3, 28, 28)
"""

from __future__ import annotations

import numpy as np

from recognizer.core.preprocess import ink_from_image, normalize_digit, to_unit
from recognizer.data.compose import compose_layers, sample_numbers
from recognizer.data.pen import CANVAS_SIZE, PenDigits, draw_strokes, random_rendering

# Letters that clearly are not digits: the set "not a digit" is measured on.
CLEAR_LETTERS = "EFHKMNRVWXYhkmnruvwx"
# What training shows as "not a digit": those, plus letters rarely mistaken for a digit.
NEGATIVE_LETTERS = CLEAR_LETTERS + "ACUacdeft"


def _mnist_format(ink: np.ndarray) -> np.ndarray | None:
    prepared = normalize_digit(ink)
    return None if prepared is None else np.round(prepared[0] * 255).astype(np.uint8)


def stack_images(images: list) -> np.ndarray:
    """The images that are not None, stacked: uint8 (M, 28, 28), (0, 28, 28) when none are."""
    kept = [im for im in images if im is not None]
    return np.stack(kept) if kept else np.zeros((0, 28, 28), np.uint8)


def letters(pen_letters: PenDigits, which: str = NEGATIVE_LETTERS, per_letter: int = 400, seed: int = 0) -> np.ndarray:
    """Up to ``per_letter`` canvas renderings of each letter in ``which``: uint8 (M, 28, 28)."""
    rng = np.random.default_rng(seed)
    images = []
    for letter in which:
        index = np.flatnonzero(pen_letters.labels == letter)
        for i in rng.permutation(index)[:per_letter]:
            images.append(_mnist_format(ink_from_image(random_rendering(pen_letters.strokes(int(i)), rng))))
    return stack_images(images)


def _random_layers(pen: PenDigits, length: int, rng: np.random.Generator, gaps=(-10.0, 50.0)):
    """A random number of ``length`` digits: each digit's ink (float (H, W) 0..1) and boxes."""
    picks = rng.choice(len(pen), size=length)
    layers, boxes = compose_layers(
        [pen.strokes(int(i)) for i in picks],
        gaps=list(rng.uniform(*gaps, size=length - 1)),
        height=float(rng.uniform(120, 200)),
        brush=float(rng.uniform(10, 30)),
        heights=list(rng.uniform(0.9, 1.05, size=length)),
        drops=list(rng.uniform(-8, 8, size=length)),
    )
    return [to_unit(layer) for layer in layers], boxes, pen.labels[picks]


def digit_groups(pen: PenDigits, count: int, seed: int = 0) -> np.ndarray:
    """``count`` drawings of two (a fifth: three) digits side by side: uint8 (M, 28, 28)."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        layers, _, _ = _random_layers(pen, 2 + (rng.random() < 0.2), rng)
        images.append(_mnist_format(np.max(layers, axis=0)))
    return stack_images(images)


def fragments(pen: PenDigits, count: int, seed: int = 0) -> np.ndarray:
    """``count`` wrong cuts of touching numbers: a digit cut short, or a digit and part of the next.

    A cut that keeps (or adds) less than a fifth of a digit's ink is no wrong cut and is dropped.
    """
    rng = np.random.default_rng(seed)
    images = []
    while len(images) < count:
        (first, second), ((x0, _, w0, _), (x1, _, w1, _)), labels = _random_layers(pen, 2, rng, gaps=(-8.0, 8.0))
        if rng.random() < 0.5:  # the first digit and 20-50 % of the second
            left, right, cut = x0, x1 + int(rng.uniform(0.2, 0.5) * w1), second
        else:  # 35-65 % of a digit (not a 1, whose parts are 1s), from either side
            k = int(rng.random() < 0.5)
            if labels[k] == 1:
                continue
            x, w, cut = (x0, w0, first) if k == 0 else (x1, w1, second)
            at = x + int(rng.uniform(0.35, 0.65) * w)
            left, right = (x, at) if rng.random() < 0.5 else (at, x + w)
        share = cut[:, left:right].sum() / max(cut.sum(), 1e-6)
        if not 0.2 <= share <= 0.8:
            continue
        piece = np.zeros_like(first)
        piece[:, left:right] = np.maximum(first, second)[:, left:right]
        images.append(_mnist_format(piece))
    return stack_images(images)


def scribbles(count: int, seed: int = 0) -> np.ndarray:
    """``count`` random smooth pen paths (one or two strokes): uint8 (M, 28, 28)."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        strokes = []
        for _ in range(1 + (rng.random() < 0.3)):
            control = rng.uniform(40, CANVAS_SIZE - 40, size=(int(rng.integers(7, 13)), 2))
            t = np.linspace(0, len(control) - 1, 20 * len(control))
            strokes.append(np.column_stack([np.interp(t, np.arange(len(control)), control[:, k]) for k in (0, 1)]))
        alpha = draw_strokes([_smooth(s) for s in strokes], float(rng.uniform(10, 30)), (CANVAS_SIZE, CANVAS_SIZE))
        images.append(_mnist_format(to_unit(alpha)))
    return stack_images(images)


def _smooth(path: np.ndarray, passes: int = 12) -> np.ndarray:
    kernel = np.ones(9) / 9
    for _ in range(passes):
        padded = np.pad(path, ((4, 4), (0, 0)), mode="edge")
        path = np.column_stack([np.convolve(padded[:, k], kernel, mode="valid") for k in (0, 1)])
    return path


def not_digit_examples(pen: PenDigits, pen_letters: PenDigits | None, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """The training set of class ``NOT_DIGIT``: letters, digit groups, fragments and scribbles."""
    parts = [
        digit_groups(pen, int(6000 * scale), seed),
        fragments(pen, int(6000 * scale), seed + 1),
        scribbles(int(2000 * scale), seed + 2),
    ]
    if pen_letters is not None:
        parts.append(letters(pen_letters, per_letter=max(1, int(450 * scale)), seed=seed + 3))
    return np.concatenate(parts)


def two_digit_drawings(pen: PenDigits, count: int, seed: int = 0) -> list[np.ndarray]:
    """Two digits of one writer drawn on the one-digit canvas (280 px), apart or touching: RGBA."""
    numbers = sample_numbers(pen, count, length=2, gaps=(-6.0, 40.0), seed=seed, size=(CANVAS_SIZE, CANVAS_SIZE))
    return [n.image for n in numbers]
