"""Exports (recognizer.training.export): TFLite float32 / float16 / int8 and SavedModel of a tiny model, the
TFLite copy answering drawings in Recognizer, the cache of that copy. Fast: a 2-layer model."""

from __future__ import annotations

import numpy as np
import pytest

from recognizer.nets import convert
from recognizer.reading import lite
from recognizer.training import export


@pytest.fixture(scope="module")
def tiny_model():
    """A small convolutional model with fixed random weights: enough to compare formats."""
    import keras

    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(4),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (40, 28, 28), dtype=np.uint8)


def test_every_tflite_kind_scores_like_keras(tiny_model, images):
    keras_scores = export.keras_scorer(tiny_model)(images)
    sizes = {}
    for kind, tolerance in (("float32", 1e-5), ("float16", 2e-2), ("int8", 0.1)):
        flatbuffer = convert.to_tflite(tiny_model, kind, calibration=images)
        sizes[kind] = len(flatbuffer)
        scores = lite.LiteScorer(flatbuffer).scores(images)
        assert scores.shape == (40, 10)
        np.testing.assert_allclose(scores, keras_scores, atol=tolerance, err_msg=kind)
    assert sizes["int8"] < sizes["float16"] < sizes["float32"]


def test_int8_needs_calibration_and_kinds_are_checked(tiny_model):
    with pytest.raises(ValueError, match="calibration"):
        convert.to_tflite(tiny_model, "int8")
    with pytest.raises(ValueError, match="kind"):
        convert.to_tflite(tiny_model, "int4")


def test_export_all_writes_every_format_with_its_figures(tiny_model, images, tmp_path):
    labels = export.keras_scorer(tiny_model)(images).argmax(axis=1)  # the model is right on all
    rows = export.export_all(tiny_model, tmp_path, images, images, labels, calls=5)
    assert [r["format"] for r in rows] == ["SavedModel (TF Serving)", "TFLite float32", "TFLite float16", "TFLite int8"]
    assert (tmp_path / "saved_model" / "saved_model.pb").is_file()
    for kind in convert.LITE_KINDS:
        assert (tmp_path / f"model_{kind}.tflite").stat().st_size > 0
    assert rows[0]["mnist_accuracy"] == 1.0 and rows[1]["accuracy_delta"] == 0.0
    assert all(r["size_mb"] > 0 and r["latency_ms"] > 0 for r in rows)
    table = export.markdown_table(rows).splitlines()
    assert len(table) == 2 + len(rows) and "| TFLite int8 |" in table[-1]


def test_the_tflite_copy_is_converted_once_and_then_read(tiny_model, tmp_path, monkeypatch):
    model_file = tmp_path / "model.keras"
    tiny_model.save(model_file)
    first = lite.cached_tflite(tiny_model, model_file)
    assert lite.cache_path(model_file).read_bytes() == first

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(export, "to_tflite", no_conversion)
    assert lite.cached_tflite(tiny_model, model_file) == first


def test_a_recognizer_with_the_tflite_copy_answers_drawings_like_keras(tiny_model):
    from recognizer import Recognizer

    lite = Recognizer(tiny_model, lite_model=convert.to_tflite(tiny_model, "float32"))
    plain = Recognizer(tiny_model)
    drawing = np.zeros((280, 280), np.uint8)
    drawing[60:220, 120:150] = 255  # a thick bar: a "1"
    a, b = lite.predict_drawing(drawing), plain.predict_drawing(drawing)
    np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-5)
    assert a.digit == b.digit
    # Several drawings at once still go through Keras, in one batch.
    both = lite.predict_drawings([drawing, drawing])
    np.testing.assert_allclose(both[0].probabilities, b.probabilities, atol=1e-5)
