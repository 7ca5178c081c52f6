"""Test-time augmentation: read each image in a few slightly turned and scaled views, average the answers.

A study tool, not the app's path: it costs one model call per view. ``scripts/evaluate.py --tta``
shows what it gives on MNIST and the held-out pen digits.

    >>> import numpy as np
    >>> views(np.zeros((2, 28, 28), np.float32)).shape   # 5 views of 2 images
    (5, 2, 28, 28)
"""

from __future__ import annotations

import cv2
import numpy as np

from recognizer.preprocess import to_unit

# (degrees, scale) of each view; the first is the image as it is.
VIEWS: tuple[tuple[float, float], ...] = ((0.0, 1.0), (5.0, 1.0), (-5.0, 1.0), (0.0, 0.93), (0.0, 1.07))
_CENTRE = (13.5, 13.5)  # the middle of a 28x28 image, in pixel coordinates


def views(images: np.ndarray, chosen: tuple[tuple[float, float], ...] = VIEWS) -> np.ndarray:
    """Every view of ``images`` (N, 28, 28) floats 0..1: (views, N, 28, 28)."""
    out = np.empty((len(chosen), *images.shape), np.float32)
    for v, (degrees, scale) in enumerate(chosen):
        matrix = cv2.getRotationMatrix2D(_CENTRE, degrees, scale)
        for i, image in enumerate(images):
            out[v, i] = cv2.warpAffine(image, matrix, (28, 28), flags=cv2.INTER_LINEAR)
    return out


def tta_proba(recognizer, images: np.ndarray, chosen: tuple[tuple[float, float], ...] = VIEWS) -> np.ndarray:
    """Digit probabilities (N, 10) averaged over the ``chosen`` views of ``images`` (uint8 or 0..1)."""
    images = np.asarray(images)
    unit = to_unit(images.astype(np.float32)) if images.dtype == np.uint8 else images.astype(np.float32)
    return np.mean([recognizer.predict_proba(view) for view in views(unit, chosen)], axis=0)
