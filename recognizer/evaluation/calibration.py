"""How far an answer's confidence can be trusted, and where the Draw page starts saying "Not sure".

The threshold is measured, never guessed. On the held-out writers' pen digits (real handwriting,
drawn as the canvas draws it), the answers under the threshold must be right at most half as often
as the answers above it. ``unsure_threshold`` picks the highest threshold that keeps that rule, so
the page warns as often as the rule allows. The measurement is stored in the run's ``metrics.json``
(``calibration``), and ``unsure_below`` reads it back for the page.

    >>> import numpy as np
    >>> confidence = np.array([0.35, 0.42, 0.55, 0.93, 0.97, 0.99])
    >>> correct = np.array([False, False, True, True, True, True])
    >>> float(unsure_threshold(confidence, correct, least=2))
    0.93
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recognizer.data.drawings import renderings
from recognizer.evaluation.curves import answer_reliability, reliability

# Answers under the threshold may be right at most this share as often as those above it.
MOST_RIGHT_BELOW = 0.5
CANDIDATES = np.round(np.arange(0.30, 0.995, 0.01), 2)
LEAST_BELOW = 10  # fewer answers than this under a threshold say nothing about it
RENDERINGS = 3  # random canvas renderings of each held-out digit


def unsure_threshold(confidence: np.ndarray, correct: np.ndarray, least: int = LEAST_BELOW) -> float | None:
    """The highest threshold whose answers under it are right at most half as often as those above.

    Only thresholds with at least ``least`` answers under and one above are considered; None when
    none keeps the rule.
    """
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, bool)
    best = None
    for threshold in CANDIDATES:
        below = confidence < threshold
        if below.sum() < least or below.all():
            continue
        if correct[below].mean() <= MOST_RIGHT_BELOW * correct[~below].mean():
            best = float(threshold)
    return best


def split_at(confidence: np.ndarray, correct: np.ndarray, threshold: float) -> dict[str, dict[str, float]]:
    """Share and accuracy of the answers under and at-or-above ``threshold``."""
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, bool)
    below = confidence < threshold
    return {
        side: {
            "share": float(part.mean()),
            "accuracy": float(correct[part].mean()) if part.any() else None,
            "count": int(part.sum()),
        }
        for side, part in (("below", below), ("above", ~below))
    }


def pen_answers(recognizer, pen, seed: int = 0, copies: int = RENDERINGS) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct) of ``predict_drawing`` on ``copies`` random canvas renderings of ``pen``.

    A drawing read as blank counts as a wrong answer at confidence 0.
    """
    drawings, labels = zip(*renderings(pen, seed, copies), strict=True)
    answers = recognizer.predict_drawings(list(drawings))
    confidence = np.array([0.0 if a is None else a.confidence for a in answers])
    correct = np.array([a is not None and a.digit == label for a, label in zip(answers, labels, strict=True)])
    return confidence, correct


def calibration_report(recognizer, pen_held_out, mnist_labels=None, mnist_proba=None) -> dict[str, Any]:
    """ECE on the held-out pen digits (and MNIST when given), and the measured "Not sure" threshold."""
    confidence, correct = pen_answers(recognizer, pen_held_out)
    threshold = unsure_threshold(confidence, correct)
    report = {
        "pen_ece": answer_reliability(confidence, correct)["ece"],
        "unsure_below": threshold,
        "rule": f"answers under it right at most {MOST_RIGHT_BELOW:.0%} as often as those above",
        "protocol": f"held-out writers, {RENDERINGS} random canvas renderings per digit, seed 0",
        "pen_answers": int(len(correct)),
    }
    if threshold is not None:
        report.update(split_at(confidence, correct, threshold))
    if mnist_labels is not None:
        report["mnist_ece"] = reliability(mnist_labels, mnist_proba)["ece"]
    return report
