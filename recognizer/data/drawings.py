"""Pen-written digits drawn as the app's canvas draws them, and through the app's preprocessing.

``renderings`` draws every digit of a ``PenDigits`` set with a random brush, size and place
(optionally written another way first, ``styles.restyled``, or reshaped, ``pen.distorted``);
``as_mnist`` turns those drawings into exactly the 28x28 images the model sees when a person
draws the same digits.

    >>> from recognizer.data.pen import load_pen_digits
    >>> pen = load_pen_digits("../shared/data/pen-digits/pen_digits_dev.npz")  # doctest: +SKIP
    >>> images, labels = as_mnist(pen.subset(range(10)), seed=0)  # doctest: +SKIP
    >>> images.shape  # doctest: +SKIP
    (10, 28, 28)
"""

from __future__ import annotations

import numpy as np

from recognizer.core.preprocess import ink_from_image, normalize_digit
from recognizer.data.pen import PenDigits, distorted, random_rendering
from recognizer.data.styles import restyled


def renderings(pen: PenDigits, seed: int = 0, copies: int = 1, style_share: float = 0.0, distort_share: float = 0.0):
    """Yield ``(rgba, label)`` for ``copies`` random canvas renderings of every digit.

    ``style_share`` of the 0s, 1s and 7s are written another way first (``styles.restyled``), and
    ``distort_share`` of all digits reshaped as another writer might (``distorted``).
    """
    rng = np.random.default_rng(seed)
    for _ in range(copies):
        for i in range(len(pen)):
            strokes, label = pen.strokes(i), int(pen.labels[i])
            if style_share and rng.random() < style_share:
                strokes = restyled(strokes, label, rng)
            if distort_share and rng.random() < distort_share:
                strokes = distorted(strokes, rng)
            yield random_rendering(strokes, rng), label


def as_mnist(
    pen: PenDigits, seed: int = 0, copies: int = 1, style_share: float = 0.0, distort_share: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Random canvas renderings through the app's own preprocessing: (uint8 (M,28,28), labels (M,)).

    These are exactly what the model sees when a person draws the same digit on the canvas.
    """
    images, labels = [], []
    for rgba, label in renderings(pen, seed, copies, style_share, distort_share):
        prepared = normalize_digit(ink_from_image(rgba))
        if prepared is not None:
            images.append(np.round(prepared[0] * 255).astype(np.uint8))
            labels.append(label)
    return np.stack(images), np.array(labels, np.int64)
