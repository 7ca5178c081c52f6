"""Classification metrics from labels and predicted probabilities, and the samples behind a confusion cell.

Pure NumPy, so they are checked by hand in tests and reused by training, the CLIs and the app.

    >>> import numpy as np
    >>> cm = confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]), num_classes=2)
    >>> cm.tolist()
    [[1, 0], [1, 1]]
    >>> [round(c["recall"], 2) for c in per_class_metrics(cm)]
    [1.0, 0.5]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from recognizer.core.classes import NUM_CLASSES


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Counts ``cm[true, predicted]``."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    flat = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def _ratio(num: float, den: float) -> float:
    # A class never predicted (or never present) has precision (recall) 0 by convention.
    return float(num / den) if den else 0.0


def per_class_metrics(cm: np.ndarray) -> list[dict[str, float]]:
    """Precision, recall, F1 and support for every class of a confusion matrix."""
    cm = np.asarray(cm)
    out = []
    for k in range(cm.shape[0]):
        tp = cm[k, k]
        precision = _ratio(tp, cm[:, k].sum())
        recall = _ratio(tp, cm[k, :].sum())
        f1 = _ratio(2 * precision * recall, precision + recall)
        out.append({"class": k, "precision": precision, "recall": recall, "f1": f1, "support": int(cm[k, :].sum())})
    return out


def top_confusions(cm: np.ndarray, k: int = 10) -> list[dict[str, int]]:
    """The ``k`` largest off-diagonal cells: which true digit is most often read as which."""
    cm = np.asarray(cm)
    off = [(int(cm[t, p]), t, p) for t in range(cm.shape[0]) for p in range(cm.shape[1]) if t != p and cm[t, p]]
    off.sort(key=lambda c: (-c[0], c[1], c[2]))
    return [{"true": t, "predicted": p, "count": n} for n, t, p in off[:k]]


def log_loss(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Mean categorical cross-entropy of the true class."""
    picked = np.asarray(proba, dtype=np.float64)[np.arange(len(y_true)), np.asarray(y_true, dtype=np.int64)]
    return float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0))))


def classification_report(y_true: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    """Everything the project reports about a model on a labelled set.

    Keys: ``accuracy``, ``loss``, ``num_samples``, ``error_count``, ``macro_f1``, ``per_class``,
    ``confusion_matrix`` (list of lists), ``top_confusions``.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba)
    if proba.ndim != 2 or len(proba) != len(y_true):
        raise ValueError(f"proba must be (N, classes) for N={len(y_true)} labels, got {proba.shape}")
    y_pred = proba.argmax(axis=1)
    cm = confusion_matrix(y_true, y_pred, proba.shape[1])
    per_class = per_class_metrics(cm)
    return {
        "accuracy": float(np.mean(y_pred == y_true)) if len(y_true) else 0.0,
        "loss": log_loss(y_true, proba) if len(y_true) else 0.0,
        "num_samples": int(len(y_true)),
        "error_count": int(np.sum(y_pred != y_true)),
        "macro_f1": float(np.mean([c["f1"] for c in per_class])),
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
        "top_confusions": top_confusions(cm),
    }


def misclassified(y_true: np.ndarray, proba: np.ndarray) -> dict[str, list]:
    """Indices, true and predicted labels and probabilities of every wrong prediction."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(proba).argmax(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)
    return {
        "index": wrong.tolist(),
        "true": y_true[wrong].tolist(),
        "predicted": y_pred[wrong].tolist(),
        "probabilities": np.round(np.asarray(proba)[wrong].astype(np.float64), 5).tolist(),
    }


@dataclass(frozen=True)
class CellSamples:
    """The test samples of one confusion-matrix cell, in the order to show them."""

    indices: list[int]  # MNIST test indices, every sample of the cell
    probabilities: np.ndarray | None  # of the first ``shown`` indices; None when unknown
    least_sure_first: bool = False  # right answers ordered by their confidence, the lowest first


def cell_samples(
    true: int, pred: int, y_test: np.ndarray, misclassified: dict, proba: np.ndarray | None = None, shown: int = 8
) -> CellSamples:
    """The test samples read as ``pred`` whose label is ``true``.

    A wrong cell comes from the run's ``misclassified.json`` (with their probabilities); a right
    cell from the run's test probabilities ``proba`` (least sure first), else from the labels less
    the misclassified indices (no probabilities).
    """
    if true != pred:
        rows = [
            (int(i), pr)
            for i, t, p, pr in zip(
                *(misclassified.get(key, []) for key in ("index", "true", "predicted", "probabilities")), strict=False
            )
            if t == true and p == pred
        ]
        probabilities = np.asarray([pr for _, pr in rows[:shown]]) if rows else None
        return CellSamples([i for i, _ in rows], probabilities)
    if proba is not None:
        right = np.flatnonzero((y_test == true) & (proba.argmax(axis=1) == true))
        indices = right[np.argsort(proba[right, true], kind="stable")].tolist()
        return CellSamples(indices, proba[indices[:shown]], least_sure_first=True)
    wrong = set(misclassified.get("index", []))
    return CellSamples([int(i) for i in np.flatnonzero(y_test == true) if int(i) not in wrong], None)
