"""Load a trained model once and answer fast.

    >>> from recognizer import load_recognizer
    >>> rec = load_recognizer()  # the active model   # doctest: +SKIP
    >>> rec.predict_proba(x_test[:5]).shape  # doctest: +SKIP
    (5, 10)

``model.predict`` costs tens of milliseconds per call (it builds a dataset pipeline each time);
``Recognizer`` instead calls one ``tf.function`` traced once for any batch size, which answers a
single image in about a millisecond.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recognizer.preprocess import ink_from_image, ink_from_photo, normalize_digit, to_model_input
from recognizer.runs import MODEL_FILE, ModelNotFoundError, active_model_dir
from recognizer.segment import digit_masks
from recognizer.storage import read_json

# Large inputs are fed in slices so memory stays flat for 10k+ images.
_MAX_BATCH = 1024


@dataclass(frozen=True)
class Prediction:
    """The answer for one digit: what it is, how sure, and what the model saw."""

    digit: int
    confidence: float
    probabilities: np.ndarray = field(repr=False)  # (10,), sums to 1
    input: np.ndarray = field(repr=False)  # (28, 28) float32 0..1, what the model saw
    box: tuple[int, int, int, int]  # x, y, w, h of the digit in the source image

    def top(self, k: int = 2) -> list[tuple[int, float]]:
        """The ``k`` likeliest digits with their probabilities, likeliest first."""
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(int(d), float(self.probabilities[d])) for d in order]


class Recognizer:
    """A loaded model plus its run metadata. Shared between users: never mutated after load."""

    def __init__(self, model: Any, run_dir: Path | None = None):
        import tensorflow as tf

        self.model = model
        self.run_dir = run_dir
        self.metrics: dict = _read_optional(run_dir, "metrics.json")
        self.config: dict = _read_optional(run_dir, "config.json")
        self._forward = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)],
        )
        self._forward(tf.zeros([1, 28, 28, 1]))  # trace now, not on the first user's request

    @property
    def name(self) -> str:
        return self.run_dir.name if self.run_dir else self.model.name

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, 10) for MNIST-format images (see ``to_model_input``)."""
        x = to_model_input(images)
        if len(x) <= _MAX_BATCH:
            return self._forward(x).numpy()
        return np.concatenate([self._forward(x[i : i + _MAX_BATCH]).numpy() for i in range(0, len(x), _MAX_BATCH)])

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Predicted digits (N,)."""
        return self.predict_proba(images).argmax(axis=1)

    def predict_drawing(self, image: np.ndarray) -> Prediction | None:
        """Read one drawn digit. ``image``: RGBA (as the canvas returns it), RGB or gray, any size.

        None when nothing is drawn (or only a stray mark). ``ValueError`` for a non-image array.
        """
        return self.predict_drawings([image])[0]

    def predict_drawings(self, images: list[np.ndarray]) -> list[Prediction | None]:
        """``predict_drawing`` for many images, in one batched model call."""
        prepared = [normalize_digit(ink_from_image(image)) for image in images]
        return self._predict_prepared(prepared)

    def read_number(self, image: np.ndarray) -> list[Prediction]:
        """Read a written number: one Prediction per digit, left to right (empty when blank)."""
        return self._read_ink(ink_from_image(image))

    def read_photo(self, image: np.ndarray) -> list[Prediction]:
        """Read the digits in a photo or scan (uneven light, paper texture), left to right."""
        return self._read_ink(ink_from_photo(image))

    def _read_ink(self, ink: np.ndarray) -> list[Prediction]:
        prepared = [normalize_digit(digit_ink) for digit_ink, _ in digit_masks(ink)]
        return [p for p in self._predict_prepared(prepared) if p is not None]

    def _predict_prepared(self, prepared: list) -> list[Prediction | None]:
        ready = [p for p in prepared if p is not None]
        if not ready:
            return [None] * len(prepared)
        proba = self.predict_proba(np.stack([img for img, _ in ready]))
        answers = iter(
            Prediction(int(p.argmax()), float(p.max()), p, img, box) for p, (img, box) in zip(proba, ready, strict=True)
        )
        return [None if p is None else next(answers) for p in prepared]


def _read_optional(run_dir: Path | None, name: str) -> dict:
    if run_dir is None or not (run_dir / name).is_file():
        return {}
    return read_json(run_dir / name)


def load_recognizer(path: str | os.PathLike | None = None) -> Recognizer:
    """Load a model: a run folder or a ``.keras`` file; ``None`` -> the active model."""
    import keras

    path = Path(path) if path is not None else active_model_dir()
    model_file = path / MODEL_FILE if path.is_dir() else path
    if not model_file.is_file():
        raise ModelNotFoundError(f"no model at {model_file}")
    model = keras.saving.load_model(model_file, compile=False)
    return Recognizer(model, model_file.parent)
