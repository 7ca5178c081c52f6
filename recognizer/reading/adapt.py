"""Teach a recognizer one visitor's handwriting: corrections that take effect at once.

``adapted_model(model, images, labels)`` returns a model that answers the corrected digit for a
drawing close to a correction, and exactly what the original answers for everything else;
``Recognizer.adapt`` wraps it in a new ``Recognizer``.
Close means in the network's own eyes: the cosine similarity of the penultimate-layer features (the
input of the last Dense layer) to the nearest correction. Each correction gets its own radius: at
least ``GATE_LOW``, and never wider than the similarity of the nearest reference digit of another
class (a sample of MNIST training digits, when MNIST is at hand), so a visitor's thin 0 that
looks like everyone's 1 changes the answer for redrawings of that 0, not for 1s. Over
``GATE_WIDTH`` past the radius the answer blends from the original probabilities to the corrected
digit; inside no radius the corrections play no part.

Nothing is trained and no weight is copied: the adapted model calls the original model's layers and
adds the nearest-correction term, so the shared recognizer stays as it was and adapting takes the
time of one forward pass over the corrections (plus, once per model, 2,000 reference digits:
``prepare``). Fine-tuning the last layer (with replay of MNIST and pen-digit features, with or
without a pull towards the original weights) was measured too and changed other digits' answers,
costing some visitors' recognizers MNIST accuracy; see docs/teaching.md ("What was tried") and
``digits-evaluate-adapt``.

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

# Cosine similarities of penultimate features. The gate lies between redrawings of a corrected
# digit (above it) and other digits of another class, a writer's own or MNIST's (rarely above
# it); a lower gate let corrections make new errors (measured: docs/teaching.md).
GATE_LOW = 0.88  # the smallest radius: a correction starts to count here
GATE_WIDTH = 0.05  # from its radius to radius + this, a correction goes from no say to deciding alone
MAX_CORRECTIONS = 1000  # far more than a visitor makes; bounds the work of one answer
REFERENCE_SIZE = 2000  # MNIST training digits that bound each correction's radius
_references: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (features, labels)
_references_lock = threading.Lock()


class NotAdaptableError(ValueError):
    """A model that teaching cannot wrap (an ensemble): its corrections wait for the next training.

    A ``ValueError`` of its own so a caller can tell it from bad corrections, which are a bug there.
    """


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


def feature_model(model):
    """A Keras model giving (penultimate features, the model's output) from the same layers.

    ``NotAdaptableError`` (a ``ValueError``) for a model whose last layer is not a Dense layer on
    one input (an ensemble).
    """
    import keras

    last = model.layers[-1]
    if not isinstance(last, keras.layers.Dense) or isinstance(last.input, list | tuple):
        raise NotAdaptableError(f"{model.name}: adapting needs a model that ends in one Dense layer")
    # Built from the model's existing graph: no layer is called anew, nothing is copied.
    return keras.Model(model.inputs[0], [last.input, last.output], name=f"{model.name}-features")


def _unit_rows(features):
    """Rows scaled to length 1 (cosine similarity is then a dot product); zero rows stay zero."""
    import tensorflow as tf

    return features / tf.maximum(tf.norm(features, axis=-1, keepdims=True), 1e-12)


def _nearest_correction_model(features_of, prototypes: np.ndarray, labels: np.ndarray, radii: np.ndarray, classes: int):
    """A Keras model: the original output, blended towards the digit of the correction whose
    radius the features pass furthest."""
    import keras
    import tensorflow as tf

    class NearestCorrection(keras.Model):
        """Scores of ``features_of``'s model, moved to the nearest correction's digit when close."""

        def __init__(self):
            super().__init__(name=f"{features_of.name.removesuffix('-features')}-taught")
            self.features_of = features_of
            self.prototypes = tf.constant(prototypes, tf.float32)  # (M, F), rows of length 1
            self.targets = tf.one_hot(labels, classes)  # (M, classes)
            self.radii = tf.constant(radii, tf.float32)  # (M,)

        def call(self, x, training=False):
            features, scores = self.features_of(x, training=False)
            similarity = tf.matmul(_unit_rows(features), self.prototypes, transpose_b=True)  # (N, M)
            past = similarity - self.radii  # how far inside each correction's radius
            nearest = tf.argmax(past, axis=1)
            weight = tf.clip_by_value(tf.reduce_max(past, axis=1) / GATE_WIDTH, 0, 1)[:, None]
            return (1.0 - weight) * scores + weight * tf.gather(self.targets, nearest)

    return NearestCorrection()


def adapted_model(model: Any, images, labels) -> Any:
    """A model that has learnt ``labels`` for ``images`` (28x28 inputs, e.g. ``Prediction.input``)
    and answers as ``model`` elsewhere; ``model`` is not changed. No corrections: ``model`` itself.

    Corrections are oldest first: a drawing corrected more than once counts with its newest label."""
    x, y = _newest_per_drawing(*check_corrections(images, labels))
    if not len(x):
        return model
    features_of = feature_model(model)
    features, scores = features_of(x, training=False)
    prototypes = _unit_rows(features).numpy()
    radii = correction_radii(prototypes, y, *reference_digits(model, features_of))
    return _nearest_correction_model(features_of, prototypes, y, radii, int(scores.shape[-1]))


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


def reference_digits(model, features_of) -> tuple[np.ndarray, np.ndarray]:
    """Features (rows of length 1) and labels of ``REFERENCE_SIZE`` MNIST training digits, once
    per model; empty when MNIST is not on this machine (it is never downloaded for this)."""
    with _references_lock:  # visitors teaching at the same time compute it once
        if model not in _references:
            _references[model] = _mnist_references(features_of)
        return _references[model]


def _mnist_references(features_of) -> tuple[np.ndarray, np.ndarray]:

    try:
        (x_train, y_train), _ = load_mnist(download=False)
    except (DataError, OSError):
        return np.zeros((0, 1), np.float32), np.zeros(0, np.int64)
    import tensorflow as tf

    pick = np.random.default_rng(0).choice(len(x_train), size=min(REFERENCE_SIZE, len(x_train)), replace=False)
    x = to_model_input(x_train[pick])
    # A traced function: called eagerly, Keras takes twice as long for these batches.
    features = tf.function(lambda batch: _unit_rows(features_of(batch, training=False)[0]), reduce_retracing=True)
    return np.concatenate([features(x[i : i + 500]).numpy() for i in range(0, len(x), 500)]), y_train[pick].astype(
        np.int64
    )


def prepare(model: Any) -> None:
    """Compute what every adaptation of ``model`` shares (the reference digits) ahead of time,
    so a visitor's first correction does not wait for it. Optional; safe from any thread."""
    try:
        features_of = feature_model(model)
    except ValueError:  # a model that cannot adapt
        return
    reference_digits(model, features_of)


def similarity_to_corrections(model: Any, images, corrections) -> np.ndarray:
    """(N,) cosine similarity of each image's features to the nearest of ``corrections``.

    Both are 28x28 inputs; measured by the original ``model`` (0 when there are none).
    """
    x = to_model_input(images)
    c, _ = check_corrections(corrections, np.zeros(len(corrections), np.int64))
    if not len(c) or not len(x):
        return np.zeros(len(x), np.float32)
    features_of = feature_model(model)
    a = _unit_rows(features_of(x, training=False)[0])
    b = _unit_rows(features_of(c, training=False)[0])
    return np.max((a @ np.transpose(b)).numpy(), axis=1)
