"""LiteRT reads as Keras does: the shipped model's top answer and probabilities, on MNIST and on
held-out writers' drawings (a sample here; the note of the LiteRT change gives the whole sets)."""

import numpy as np
import pytest

from recognizer.core.classes import split_not_digit
from recognizer.core.preprocess import ink_from_image, normalize_digit
from recognizer.data.pen import random_rendering
from recognizer.reading.networks import KerasNetwork

TOLERANCE = 1e-4  # the largest difference allowed between a LiteRT and a Keras probability


@pytest.fixture(scope="module")
def both(shipped_recognizer):
    """(the shipped network read with LiteRT, the same model.keras read with Keras)."""
    return shipped_recognizer.network, KerasNetwork(shipped_recognizer.model)


def agree(both, x: np.ndarray) -> None:
    lite, keras = (split_not_digit(network.scores(x))[0] for network in both)
    assert (lite.argmax(axis=1) == keras.argmax(axis=1)).all()
    assert np.abs(lite - keras).max() <= TOLERANCE


def test_litert_and_keras_agree_on_mnist(both, mnist):
    _, (x_test, _) = mnist
    pick = np.random.default_rng(0).choice(len(x_test), 1000, replace=False)
    agree(both, x_test[pick][..., None].astype(np.float32) / 255)


def test_litert_and_keras_agree_on_held_out_drawings(both, held_out):
    rng = np.random.default_rng(0)
    drawings = [random_rendering(held_out.strokes(i), rng) for i in range(0, len(held_out), 10)]
    prepared = [normalize_digit(ink_from_image(d)) for d in drawings]
    agree(both, np.stack([p[0] for p in prepared if p is not None])[..., None])
