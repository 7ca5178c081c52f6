"""Test-time augmentation: read each image in a few slightly turned and scaled views, average the answers.

Every ``Recognizer`` reads this way where its network is unsure (``scores_with_views``, under
``READ_VIEWS_BELOW``): a sure answer costs one model call, an unsure one a call per view.
``tta_proba`` reads every image in every view, to study what that gives (``digits-evaluate --tta``).

    >>> import numpy as np
    >>> views(np.zeros((2, 28, 28), np.float32)).shape   # 5 views of 2 images
    (5, 2, 28, 28)
"""

from __future__ import annotations

import cv2
import numpy as np

from recognizer.core.classes import split_not_digit
from recognizer.core.preprocess import to_unit

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
    return np.mean([recognizer.predict_proba(view, views=False) for view in views(unit, chosen)], axis=0)


# Views are read only for answers under this confidence: few answers are that unsure, and reading
# just those gives all that reading every image in every view gives, at a fraction of the cost; a
# sure answer costs nothing more (docs/models.md).
READ_VIEWS_BELOW = 0.97


def scores_with_views(score, x: np.ndarray, below: float = READ_VIEWS_BELOW, panel: tuple = ()) -> np.ndarray:
    """``score(x)`` (N, classes), each answer under ``below`` replaced by its mean over every view.

    ``score`` takes model input (N, 28, 28, 1) and gives raw scores (softmax, "not one digit"
    included); the confidence is that of the digit the scores name (``inference.split_not_digit``).
    ``panel``: more such functions (other networks, see ``Recognizer.panel``); an unsure answer is
    then the mean of every network's mean over the views, ``score``'s included.
    """
    scores = score(x)
    unsure = np.flatnonzero(split_not_digit(scores)[0].max(axis=1) < below)
    if unsure.size:
        others = views(x[unsure, ..., 0], VIEWS[1:]).reshape(-1, *x.shape[1:])
        extra = score(others).reshape(len(VIEWS) - 1, unsure.size, -1)
        mean = (scores[unsure] + extra.sum(axis=0)) / len(VIEWS)
        if panel:
            every = np.concatenate([x[unsure], others])  # view-major, as ``views`` orders them
            means = [member(every).reshape(len(VIEWS), unsure.size, -1).mean(axis=0) for member in panel]
            mean = np.mean([mean, *means], axis=0)
        scores[unsure] = mean
    return scores
