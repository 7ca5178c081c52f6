"""Teach a recognizer one visitor's handwriting: corrections that take effect at once.

``taught_network(network, images, labels)`` returns a network that answers the corrected digit for
a drawing close to a correction, and exactly what the original answers for everything else;
``Recognizer.adapt`` wraps it in a new ``Recognizer``.
Close means in the network's own eyes: the cosine similarity of the penultimate-layer features (the
input of the last Dense layer) to the nearest correction. Each correction gets its own radius: at
least ``GATE_LOW``, and never wider than the similarity of the nearest reference digit of another
class (a sample of MNIST training digits, when MNIST is at hand), so a visitor's thin 0 that
looks like everyone's 1 changes the answer for redrawings of that 0, not for 1s. Over
``GATE_WIDTH`` past the radius the answer blends from the original probabilities to the corrected
digit; inside no radius the corrections play no part.

Nothing is trained and no weight is copied: the taught network reads with the original network
(its LiteRT pass gives the scores and the features together) and adds the nearest-correction term
in NumPy, so the shared recognizer stays as it was and teaching takes the time of one pass over the
corrections (plus, once per network, 2,000 reference digits: ``prepare``). Fine-tuning the last
layer (with replay of MNIST and pen-digit features, with or without a pull towards the original
weights) was measured too and changed other digits' answers, costing some visitors' recognizers
MNIST accuracy; see docs/teaching.md ("What was tried") and ``digits-evaluate-adapt``.

    >>> import numpy as np
    >>> from recognizer import load_recognizer
    >>> rec = load_recognizer()  # doctest: +SKIP
    >>> drawing = rec.predict_drawing(canvas_rgba)  # read as 7, but it is a 1  # doctest: +SKIP
    >>> mine = rec.adapt([drawing.input], [1])  # doctest: +SKIP
    >>> mine.predict_drawing(canvas_rgba).digit  # doctest: +SKIP
    1
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

from recognizer.core.preprocess import to_model_input
from recognizer.data.mnist import DataError, load_mnist
from recognizer.reading.networks import NotAdaptableError

# Cosine similarities of penultimate features. The gate lies between redrawings of a corrected
# digit (above it) and other digits of another class, a writer's own or MNIST's (rarely above
# it); a lower gate let corrections make new errors (measured: docs/teaching.md).
GATE_LOW = 0.88  # the smallest radius: a correction starts to count here
GATE_WIDTH = 0.05  # from its radius to radius + this, a correction goes from no say to deciding alone
MAX_CORRECTIONS = 1000  # far more than a visitor makes; bounds the work of one answer
REFERENCE_SIZE = 2000  # MNIST training digits that bound each correction's radius
_references: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # network -> (features, labels)
_references_lock = threading.Lock()

__all__ = ["NotAdaptableError", "TaughtNetwork", "check_corrections", "prepare", "taught_network"]


def check_corrections(images, labels) -> tuple[np.ndarray, np.ndarray]:
    """Validated corrections: (float32 (N, 28, 28, 1) model input, int64 labels (N,)).

    ``ValueError`` for anything but N 28x28 images (uint8 0-255 or float 0-1) and N digits 0-9,
    and for more than ``MAX_CORRECTIONS``: which ones to keep is the caller's choice (the Draw page
    keeps a visitor's newest and says so), not something to decide here in silence.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"corrections are 28x28 images (N, 28, 28), got shape {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"one label per image: {len(images)} images, labels of shape {labels.shape}")
    if len(images) > MAX_CORRECTIONS:
        raise ValueError(f"at most {MAX_CORRECTIONS} corrections, got {len(images)}")
    if labels.dtype.kind not in "iu" and not (labels.dtype.kind == "f" and np.all(labels == np.round(labels))):
        raise ValueError(f"labels are whole digits 0-9, got {labels.tolist()}")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"labels are digits 0-9, got {labels.tolist()}")
    if images.dtype.kind == "f" and not np.all(np.isfinite(images)):
        raise ValueError("correction images hold NaN or infinite pixels")
    return to_model_input(images), labels.astype(np.int64)


def unit_rows(features: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (cosine similarity is then a dot product); zero rows stay zero."""
    features = np.asarray(features, np.float32)
    return features / np.maximum(np.linalg.norm(features, axis=-1, keepdims=True), 1e-12)


class TaughtNetwork:
    """A network's answers, moved to the digit of the correction whose radius the features pass
    furthest: fully past ``GATE_WIDTH`` beyond it, not at all inside no radius."""

    def __init__(self, base, prototypes: np.ndarray, labels: np.ndarray, radii: np.ndarray):
        self.base = base
        self.classes = base.classes
        self.has_features = True
        self.prototypes = prototypes  # (M, F), rows of length 1
        self.targets = np.eye(base.classes, dtype=np.float32)[labels]  # (M, classes)
        self.radii = radii  # (M,)

    def scores(self, x: np.ndarray) -> np.ndarray:
        return self.scores_and_features(x)[0]

    def scores_and_features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores, features = self.base.scores_and_features(x)
        past = unit_rows(features) @ self.prototypes.T - self.radii  # how far inside each radius
        nearest = past.argmax(axis=1)
        weight = np.clip(past.max(axis=1) / GATE_WIDTH, 0.0, 1.0)[:, None].astype(np.float32)
        return (1.0 - weight) * scores + weight * self.targets[nearest], features

    def keras_model(self) -> Any:
        raise ValueError("a taught network has no Keras model of its own: its corrections live in NumPy")


def taught_network(network, images, labels):
    """A network that has learnt ``labels`` for ``images`` (28x28 inputs, e.g. ``Prediction.input``)
    and answers as ``network`` elsewhere; ``network`` is not changed. No corrections: ``network``.
    ``NotAdaptableError`` for a network without features (an ensemble).

    Corrections are oldest first: a drawing corrected more than once counts with its newest label."""
    x, y = _newest_per_drawing(*check_corrections(images, labels))
    if not len(x):
        return network
    prototypes = unit_rows(network.scores_and_features(x)[1])
    radii = correction_radii(prototypes, y, *reference_digits(network))
    return TaughtNetwork(network, prototypes, y, radii)


def _newest_per_drawing(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The corrections less those whose very drawing is corrected again later, order kept.

    A visitor who corrects the same drawing twice changed their mind. Kept both, two equal
    features would tie and the older would win (or the one whose label has the smaller radius).
    """
    seen: set[bytes] = set()
    keep = []
    for i in range(len(x) - 1, -1, -1):  # newest first: the first seen of a drawing is kept
        key = x[i].tobytes()
        if key not in seen:
            seen.add(key)
            keep.append(i)
    keep.reverse()
    return x[keep], y[keep]


def correction_radii(prototypes: np.ndarray, labels: np.ndarray, references: np.ndarray, ref_labels: np.ndarray):
    """(M,) each correction's radius: ``GATE_LOW``, or the similarity of its nearest reference
    digit of another class when that is closer (rows of length 1 in, cosine similarities out)."""
    if not len(references):
        return np.full(len(prototypes), GATE_LOW, np.float32)
    similarity = prototypes @ references.T  # (M, R)
    conflicting = np.where(ref_labels[None, :] != labels[:, None], similarity, -1.0)
    return np.maximum(GATE_LOW, conflicting.max(axis=1)).astype(np.float32)


def reference_digits(network) -> tuple[np.ndarray, np.ndarray]:
    """Features (rows of length 1) and labels of ``REFERENCE_SIZE`` MNIST training digits, once
    per network; empty when MNIST is not on this machine (it is never downloaded for this)."""
    with _references_lock:  # visitors teaching at the same time compute it once
        if network not in _references:
            _references[network] = _mnist_references(network)
        return _references[network]


def _mnist_references(network) -> tuple[np.ndarray, np.ndarray]:
    try:
        (x_train, y_train), _ = load_mnist(download=False)
    except (DataError, OSError):
        return np.zeros((0, 1), np.float32), np.zeros(0, np.int64)
    pick = np.random.default_rng(0).choice(len(x_train), size=min(REFERENCE_SIZE, len(x_train)), replace=False)
    features = network.scores_and_features(to_model_input(x_train[pick]))[1]
    return unit_rows(features), y_train[pick].astype(np.int64)


def prepare(network) -> None:
    """Compute what every teaching of ``network`` shares (the reference digits) ahead of time,
    so a visitor's first correction does not wait for it. Optional; safe from any thread."""
    if network.has_features:
        reference_digits(network)


def similarity_to_corrections(network, images, corrections) -> np.ndarray:
    """(N,) cosine similarity of each image's features to the nearest of ``corrections``.

    Both are 28x28 inputs; measured by the original ``network`` (0 when there are none).
    """
    x = to_model_input(images)
    c, _ = check_corrections(corrections, np.zeros(len(corrections), np.int64))
    if not len(c) or not len(x):
        return np.zeros(len(x), np.float32)
    a = unit_rows(network.scores_and_features(x)[1])
    b = unit_rows(network.scores_and_features(c)[1])
    return (a @ b.T).max(axis=1)
