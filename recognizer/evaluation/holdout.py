"""How the model reads real handwriting it never saw: the held-out writers' pen digits.

Every measure goes through the public drawing path (RGBA canvas -> preprocessing -> model), so it
measures what a person drawing these digits would get:
- ``evaluate_drawings``: accuracy on random canvas renderings of pen digits;
- ``styled_report``: every common way of writing 1, 7 and 0 (``recognizer.data.styles``);
- ``evaluate_not_digit``: how often letters, digit pairs and digits are flagged "not a digit";
- ``pen_holdout_report``, ``not_digit_holdout_report``, ``calibration_holdout_report``: the
  figures a run's ``metrics.json`` records, on the held-out writers (``pen.writer_split``).

    >>> report = pen_holdout_report(load_recognizer(), None)  # doctest: +SKIP
    >>> report["accuracy"]  # doctest: +SKIP
    0.9885...
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recognizer.data.drawings import renderings
from recognizer.data.negatives import CLEAR_LETTERS, two_digit_drawings
from recognizer.data.pen import (
    PenDigits,
    load_pen_digits,
    pen_digits_file,
    pen_letters_of,
    random_rendering,
    writer_split,
)
from recognizer.data.styles import VARIANTS, styled
from recognizer.evaluation.calibration import calibration_report
from recognizer.evaluation.metrics import classification_report


def evaluate_drawings(recognizer, pen: PenDigits, seed: int = 0, copies: int = 1, batch: int = 256) -> dict:
    """Accuracy of ``recognizer.predict_drawing`` on random canvas renderings of ``pen``.

    Goes through the public drawing path (RGBA canvas -> preprocessing -> model), so it measures
    what a person drawing these digits would get. A drawing read as blank counts as wrong.
    Returns the ``classification_report`` keys plus ``blank_count``.
    """
    labels, proba, blanks = [], [], 0
    pending_images, pending_labels = [], []

    def flush():
        nonlocal blanks
        for prediction, label in zip(recognizer.predict_drawings(pending_images), pending_labels, strict=True):
            if prediction is None:
                blanks += 1
            else:
                labels.append(label)
                proba.append(prediction.probabilities)
        pending_images.clear()
        pending_labels.clear()

    for rgba, label in renderings(pen, seed, copies):
        pending_images.append(rgba)
        pending_labels.append(label)
        if len(pending_images) == batch:
            flush()
    if pending_images:
        flush()
    report = classification_report(np.array(labels), np.array(proba).reshape(-1, 10))
    total = len(labels) + blanks
    report["accuracy"] = (report["accuracy"] * len(labels)) / total if total else 0.0
    report["num_samples"], report["blank_count"] = total, blanks
    report["error_count"] += blanks
    return report


def styled_report(recognizer, pen_held_out: PenDigits, seed: int = 0) -> dict[str, dict]:
    """Accuracy of ``predict_drawing`` on every variant of the held-out 1s, 7s and 0s.

    One random canvas rendering (brush 10-30 px, any size and place) per digit and variant.
    """
    rng = np.random.default_rng(seed)
    report = {}
    for variant, (digit, _) in VARIANTS.items():
        index = np.flatnonzero(pen_held_out.labels == digit)
        drawings = [random_rendering(styled(pen_held_out.strokes(int(i)), variant, rng), rng) for i in index]
        answers = recognizer.predict_drawings(drawings)
        right = sum(p is not None and p.digit == digit for p in answers)
        report[variant] = {"accuracy": right / max(1, len(index)), "count": int(len(index))}
    return report


def _flagged(recognizer, drawings: list[np.ndarray]) -> float:
    answers = [
        p for start in range(0, len(drawings), 256) for p in recognizer.predict_drawings(drawings[start : start + 256])
    ]
    return float(np.mean([p is not None and not p.is_digit for p in answers])) if answers else 0.0


def evaluate_not_digit(recognizer, pen_held_out: PenDigits, letters_held_out: PenDigits | None, seed: int = 0) -> dict:
    """Shares flagged "not a digit" by ``predict_drawing`` among held-out writers' drawings.

    ``digits_flagged`` (single digits; should be low), ``letters_flagged`` (the clearly-not-digit
    letters ``CLEAR_LETTERS``), ``two_digits_flagged`` (two digits on the one-digit canvas).
    """
    rng = np.random.default_rng(seed)
    digits = [random_rendering(pen_held_out.strokes(i), rng) for i in range(len(pen_held_out))]
    report = {
        "digits_flagged": _flagged(recognizer, digits),
        "digits": len(digits),
        "two_digits_flagged": _flagged(recognizer, two_digit_drawings(pen_held_out, 1000, seed)),
        "two_digit_drawings": 1000,
    }
    if letters_held_out is not None:
        index = np.flatnonzero(np.isin(letters_held_out.labels, list(CLEAR_LETTERS)))
        drawings = [random_rendering(letters_held_out.strokes(int(i)), rng) for i in index]
        report["letters_flagged"], report["letters"] = _flagged(recognizer, drawings), len(drawings)
    report["protocol"] = "held-out writers, one random canvas rendering each (brush 10-30 px), seed 0"
    return report


def pen_holdout_report(recognizer, pen_path: str | Path | None) -> dict | None:
    """How the model reads the held-out writers' pen digits drawn on the canvas (None: no data).

    ``styled`` reads their 1s, 7s and 0s in each common way of writing them (``recognizer.data.styles``).
    """
    held_out = _held_out_pen(pen_path)
    if held_out is None:
        return None
    report = evaluate_drawings(recognizer, held_out, seed=0, copies=1)
    report["writers"] = int(len(np.unique(held_out.writers)))
    report["protocol"] = "one random canvas rendering per digit: brush 10-30 px, height 25-90 % of 280 px, seed 0"
    report["styled"] = styled_report(recognizer, held_out)
    return report


def not_digit_holdout_report(recognizer, pen_path: str | Path | None) -> dict | None:
    """How often held-out writers' letters, digit pairs and digits are flagged "not a digit"."""
    held_out = _held_out_pen(pen_path)
    return None if held_out is None else evaluate_not_digit(recognizer, held_out, pen_letters_of(1))


def calibration_holdout_report(recognizer, pen_path, labels=None, proba=None) -> dict | None:
    """ECE and the measured "Not sure" threshold on the held-out pen digits (``recognizer.evaluation.calibration``).

    ``labels`` and ``proba`` (the MNIST test set's) add the MNIST ECE.
    """
    held_out = _held_out_pen(pen_path)
    return None if held_out is None else calibration_report(recognizer, held_out, labels, proba)


def _held_out_pen(pen_path: str | Path | None):
    """The held-out writers' pen digits (``pendigits.writer_split``); None without the file."""
    pen_path = pen_digits_file(pen_path)
    if pen_path is None:
        return None
    pen = load_pen_digits(pen_path)
    return pen.subset(writer_split(pen)[1])
