"""The classes a model answers: the ten digits, and optionally an 11th, "not one digit".

A model trained with ``TrainConfig.not_digit`` gives 11 scores; the last says the ink is not one
digit (a letter, a scribble, several digits). ``split_not_digit`` turns either kind of output into
the ten digit probabilities and the probability that the ink is one digit at all.

    >>> import numpy as np
    >>> proba, one_digit = split_not_digit(np.array([[0.2, 0.2] + [0.0] * 8 + [0.6]]))
    >>> proba[0, :2].tolist(), round(float(one_digit[0]), 2)
    ([0.5, 0.5], 0.4)
"""

from __future__ import annotations

import numpy as np

NUM_CLASSES = 10  # the digits 0-9
NOT_DIGIT = 10  # the class index of "not one digit"
NUM_CLASSES_WITH_NOT_DIGIT = NOT_DIGIT + 1
# A drawing is "one digit" when the model gives "not one digit" less than half its probability.
IS_DIGIT_THRESHOLD = 0.5


def split_not_digit(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw model output (N, 10 or 11) -> (digit probabilities (N, 10) summing to 1, P(one digit) (N,))."""
    scores = np.asarray(scores, dtype=np.float32)
    if scores.shape[-1] != NUM_CLASSES_WITH_NOT_DIGIT:
        return scores, np.ones(len(scores), np.float32)
    digits = scores[:, :NOT_DIGIT]
    total = digits.sum(axis=1, keepdims=True)
    return digits / np.maximum(total, 1e-12), np.clip(1.0 - scores[:, NOT_DIGIT], 0.0, 1.0)
