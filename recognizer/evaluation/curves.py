"""Curves from labels and probabilities: ROC per class, reliability (calibration), confidence.

Pure NumPy, so the tests check them by hand.

    >>> import numpy as np
    >>> y = np.array([0, 0, 1, 1])
    >>> proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.7, 0.3], [0.2, 0.8]])
    >>> roc_curves(y, proba)[1]["auc"]
    0.75
    >>> reliability(y, proba, bins=2)["count"]
    [0, 4]
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _checked(y_true: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels as int64 (N,) and probabilities as float64 (N, C), or ``ValueError``."""
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"proba must be (N, classes) with at least 2 classes, got shape {p.shape}")
    if y.ndim != 1 or len(y) != len(p):
        raise ValueError(f"y_true must be (N,) with N={len(p)} to match proba, got shape {y.shape}")
    if len(y) == 0:
        raise ValueError("need at least one sample")
    if not np.all(np.isfinite(p)):
        raise ValueError("proba holds NaN or infinite values")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(f"y_true must hold integer labels in 0..{p.shape[1] - 1}")
    return y.astype(np.int64), p


def _check_bins(bins: int) -> None:
    if not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")


def trapezoid_area(x: np.ndarray, y: np.ndarray) -> float:
    """Area under the piecewise-linear curve through (x, y)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def roc_curve(is_positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct score threshold, from (0, 0) to (1, 1).

    Tied scores cross the threshold together, so ties give a diagonal step, not a staircase.
    """
    order = np.argsort(-scores, kind="stable")
    scores, is_positive = scores[order], is_positive[order]
    true_pos = np.cumsum(is_positive)
    false_pos = np.cumsum(~is_positive)
    # The last position of each run of equal scores: the counts once that threshold is passed.
    group_ends = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tpr = np.r_[0.0, true_pos[group_ends] / true_pos[-1]]
    fpr = np.r_[0.0, false_pos[group_ends] / false_pos[-1]]
    return fpr, tpr


def roc_curves(y_true: np.ndarray, proba: np.ndarray) -> dict[int, dict[str, Any]]:
    """One-vs-rest ROC of every class: ``{k: {"fpr": [...], "tpr": [...], "auc": float}}``.

    A class absent from ``y_true`` (or the only one present) has no ROC: empty lists, ``auc`` None.
    """
    y, p = _checked(y_true, proba)
    curves = {}
    for k in range(p.shape[1]):
        is_positive = y == k
        if is_positive.all() or not is_positive.any():
            curves[k] = {"fpr": [], "tpr": [], "auc": None}
            continue
        fpr, tpr = roc_curve(is_positive, p[:, k])
        curves[k] = {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "auc": trapezoid_area(fpr, tpr)}
    return curves


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value for bins [e0, e1), [e1, e2), ..., [e_{n-1}, e_n] (the last one closed)."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def _top_class(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Confidence of the predicted class and whether the prediction is right."""
    return p.max(axis=1), p.argmax(axis=1) == y


def reliability(y_true: np.ndarray, proba: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Calibration of the top-class confidence in ``bins`` equal-width bins over [0, 1].

    Keys: ``bin_edges`` (bins + 1), per bin ``confidence`` and ``accuracy`` (None when empty) and
    ``count``, and ``ece``, the expected calibration error sum(count/N * |accuracy - confidence|).
    """
    y, p = _checked(y_true, proba)
    return answer_reliability(*_top_class(y, p), bins=bins)


def answer_reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """``reliability`` of answers given as their confidence (N,) and whether each is right (N,)."""
    _check_bins(bins)
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, bool)
    if confidence.shape != correct.shape or confidence.ndim != 1 or len(confidence) == 0:
        raise ValueError(f"confidence and correct must be equal non-empty (N,) arrays, got {confidence.shape}")
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = _bin_index(confidence, edges)
    counts = np.bincount(index, minlength=bins)
    conf_sums = np.bincount(index, weights=confidence, minlength=bins)
    right_sums = np.bincount(index, weights=correct.astype(np.float64), minlength=bins)
    mean_conf = [float(s / n) if n else None for s, n in zip(conf_sums, counts, strict=True)]
    accuracy = [float(s / n) if n else None for s, n in zip(right_sums, counts, strict=True)]
    ece = float(np.sum(np.abs(right_sums - conf_sums)) / len(confidence))
    return {
        "bin_edges": edges.tolist(),
        "confidence": mean_conf,
        "accuracy": accuracy,
        "count": counts.astype(int).tolist(),
        "ece": ece,
    }


def confidence_histogram(y_true: np.ndarray, proba: np.ndarray, bins: int = 20) -> dict[str, list]:
    """Counts of top-class confidence in equal-width bins over [0, 1], split by right and wrong."""
    _check_bins(bins)
    y, p = _checked(y_true, proba)
    confidence, correct = _top_class(y, p)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = _bin_index(confidence, edges)
    return {
        "bin_edges": edges.tolist(),
        "correct": np.bincount(index[correct], minlength=bins).astype(int).tolist(),
        "wrong": np.bincount(index[~correct], minlength=bins).astype(int).tolist(),
    }


# --- What the model looks at ---------------------------------------------------------------------


# --- A standalone HTML report --------------------------------------------------------------------
