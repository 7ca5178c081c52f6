"""The digit classifier behind a ``Recognizer``: read with LiteRT from its run folder, or a Keras model in memory.

A network answers ``scores(x)`` (N, 10 or 11) and ``scores_and_features(x)`` (the scores and the
penultimate features teaching compares) for model input x (N, 28, 28, 1). ``LiteNetwork`` reads a
run's LiteRT file and never imports TensorFlow; its Keras model loads only when something needs
gradients (``keras_model``). ``KerasNetwork`` wraps a Keras model already in memory: a model just
trained, or built by a test.

``lite_network(model_file)`` finds the run's LiteRT file. A missing or stale one is converted again
when TensorFlow is installed; without it, ``LiteFileError`` says which run lacks its file.

    >>> network = lite_network(Path("models/deepcnn-drawings-v4/model.keras"))  # doctest: +SKIP
    >>> network.scores(x).shape  # doctest: +SKIP
    (1, 11)
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from recognizer.core import paths
from recognizer.core.installed import tensorflow_installed
from recognizer.nets.convert import litert_is_fresh, write_classifier_litert
from recognizer.reading.lite import LiteFileError, LiteModel, load_lite_model

# Large inputs are fed in slices so memory stays flat for 10k+ images.
MAX_BATCH = 1024


class NotAdaptableError(ValueError):
    """A network that teaching cannot wrap (an ensemble gives scores only): its corrections wait
    for the next training. A ``ValueError`` of its own, so a caller tells it from bad corrections."""


def _in_slices(run, x: np.ndarray) -> list[np.ndarray]:
    """``run(x)`` (a list of outputs) for ``x`` in slices of ``MAX_BATCH``, the outputs joined."""
    if len(x) <= MAX_BATCH:
        return run(x)
    parts = [run(x[i : i + MAX_BATCH]) for i in range(0, len(x), MAX_BATCH)]
    return [np.concatenate(outputs) for outputs in zip(*parts, strict=True)]


class LiteNetwork:
    """A run's classifier read with LiteRT: scores and, in the same pass, its penultimate features."""

    def __init__(self, lite: LiteModel, model_file: Path | None = None):
        self._lite = lite
        self.model_file = model_file
        self.classes = lite.output_widths[0]
        self.has_features = len(lite.output_widths) > 1
        self._keras = None
        self._keras_lock = threading.Lock()

    def scores(self, x: np.ndarray) -> np.ndarray:
        return _in_slices(self._lite.run, x)[0]

    def scores_and_features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.has_features:
            raise NotAdaptableError(f"{self._lite.name} gives scores only (an ensemble): it cannot be taught")
        scores, features = _in_slices(self._lite.run, x)[:2]
        return scores, features

    def keras_model(self) -> Any:
        """The Keras model of the same run, loaded on first use (it imports TensorFlow)."""
        with self._keras_lock:
            if self._keras is None:
                if self.model_file is None:
                    raise ValueError(f"{self._lite.name} has no Keras model file")
                import keras

                self._keras = keras.saving.load_model(self.model_file, compile=False)
            return self._keras


class KerasNetwork:
    """A Keras model in memory, answered through one traced function (any batch size)."""

    def __init__(self, model: Any):
        import tensorflow as tf

        self.model = model
        self._forward = tf.function(
            lambda x: model(x, training=False), input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)]
        )
        self.classes = int(self._forward(tf.zeros([1, 28, 28, 1])).shape[-1])  # traced now, not at a request
        self._features = None

    @property
    def has_features(self) -> bool:
        return self._features_model() is not None

    def scores(self, x: np.ndarray) -> np.ndarray:
        return _in_slices(lambda part: [self._forward(part).numpy()], x)[0]

    def scores_and_features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        both = self._features_model()
        if both is None:
            raise NotAdaptableError(f"{self.model.name} does not end in one Dense layer: it cannot be taught")
        scores, features = _in_slices(lambda part: [t.numpy() for t in both(part, training=False)], x)
        return scores, features

    def keras_model(self) -> Any:
        return self.model

    def _features_model(self):
        from recognizer.nets.convert import classifier_with_features

        if self._features is None:
            try:
                self._features = classifier_with_features(self.model)
            except ValueError:
                self._features = False
        return self._features or None


def litert_file_of(model_file: Path) -> Path:
    """Where a model file's LiteRT copy lives: beside it (``model.keras`` -> ``model.tflite``)."""
    return Path(model_file).with_suffix(".tflite")


def lite_network(model_file: Path) -> LiteNetwork:
    """The classifier of ``model_file`` read with LiteRT; converted again first when its LiteRT file
    is missing or stale and TensorFlow is installed, else ``LiteFileError`` naming the run."""
    model_file = Path(model_file)
    return LiteNetwork(load_lite_model(fresh_litert_file(model_file) or _converted(model_file)), model_file)


def fresh_litert_file(model_file: Path) -> Path | None:
    """The LiteRT file made from ``model_file`` as it is now (beside it, or in the user cache); None
    when there is none and loading it would convert it (which needs TensorFlow)."""
    for candidate in (litert_file_of(model_file), _cache_file(model_file)):
        if litert_is_fresh(candidate, model_file):
            return candidate
    return None


def _cache_file(model_file: Path) -> Path:
    return paths.cache_dir() / "litert" / f"{model_file.parent.name}-{model_file.stem}.tflite"


def _converted(model_file: Path) -> Path:
    """Convert ``model_file`` (TensorFlow) and return its fresh LiteRT file: beside the model, or in
    the user cache when the model's folder is read-only."""
    if not tensorflow_installed():
        raise LiteFileError(
            f"{model_file.parent.name} has no LiteRT file made from its model ({litert_file_of(model_file).name}); "
            "making one needs TensorFlow: pip install -r requirements.txt"
        )
    import keras

    model = keras.saving.load_model(model_file, compile=False)
    try:
        return write_classifier_litert(model, litert_file_of(model_file), model_file)
    except OSError:  # a read-only folder (an installed copy of models/): the user cache instead
        return write_classifier_litert(model, _cache_file(model_file), model_file)
