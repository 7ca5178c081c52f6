"""LiteRT files (recognizer.nets.convert, recognizer.reading.lite, recognizer.reading.networks) and the
exports (recognizer.training.export): every kind scores like Keras, a run's LiteRT file is made once,
checked against its model's hash, rebuilt when stale, and named when it cannot be read or made.
Fast: a 2-layer model."""

from __future__ import annotations

import numpy as np
import pytest

from recognizer.nets import convert
from recognizer.reading import networks
from recognizer.reading.lite import LiteFileError, LiteModel
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


@pytest.fixture
def run_folder(tiny_model, tmp_path):
    """A run folder holding only the tiny model's model.keras."""
    tiny_model.save(tmp_path / "model.keras")
    return tmp_path


def test_every_litert_kind_scores_like_keras(tiny_model, images):
    keras_scores = export.keras_scorer(tiny_model)(images)
    sizes = {}
    for kind, tolerance in (("float32", 1e-5), ("float16", 2e-2), ("int8", 0.1)):
        flatbuffer = convert.to_litert(tiny_model, kind, calibration=images)
        sizes[kind] = len(flatbuffer)
        scores = export.lite_scorer(flatbuffer)(images)
        assert scores.shape == (40, 10)
        np.testing.assert_allclose(scores, keras_scores, atol=tolerance, err_msg=kind)
    assert sizes["int8"] < sizes["float16"] < sizes["float32"]


def test_int8_needs_calibration_and_kinds_are_checked(tiny_model):
    with pytest.raises(ValueError, match="calibration"):
        convert.to_litert(tiny_model, "int8")
    with pytest.raises(ValueError, match="kind"):
        convert.to_litert(tiny_model, "int4")


def test_a_classifier_gives_its_scores_and_penultimate_features_in_one_pass(tiny_model, images):
    import keras

    flatbuffer = convert.to_litert(convert.classifier_with_features(tiny_model))
    scores, features = LiteModel(flatbuffer).run(convert.to_model_input(images))
    penultimate = keras.Model(tiny_model.inputs[0], tiny_model.layers[-1].input)(convert.to_model_input(images))
    np.testing.assert_allclose(scores, export.keras_scorer(tiny_model)(images), atol=1e-5)
    np.testing.assert_allclose(features, np.asarray(penultimate), atol=1e-5)
    assert features.shape == (40, 144)  # 6 x 6 x 4 flattened: the last Dense layer's input


def test_any_batch_size_reads_the_same_answers(tiny_model, images):
    lite = LiteModel(convert.to_litert(tiny_model))
    x = convert.to_model_input(images)
    whole = lite.run(x)[0]
    one_by_one = np.concatenate([lite.run(x[i : i + 1])[0] for i in range(len(x))])
    np.testing.assert_allclose(whole, one_by_one, atol=1e-6)
    np.testing.assert_allclose(lite.run(x[:3])[0], whole[:3], atol=1e-6)  # back to another size


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


def test_a_run_without_its_litert_file_gets_one_made_once_then_read(run_folder, monkeypatch):
    model_file = run_folder / "model.keras"
    first = networks.lite_network(model_file)
    litert_file = run_folder / "model.tflite"
    assert convert.litert_is_fresh(litert_file, model_file)

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(networks, "write_classifier_litert", no_conversion)
    again = networks.lite_network(model_file)
    x = np.random.default_rng(1).random((5, 28, 28, 1), np.float32)
    np.testing.assert_array_equal(first.scores(x), again.scores(x))


def test_a_stale_litert_file_is_made_again_from_the_new_model(run_folder, tiny_model):
    import keras

    model_file = run_folder / "model.keras"
    networks.lite_network(model_file)
    retrained = keras.models.clone_model(tiny_model)  # other weights, same shape
    retrained.save(model_file)
    assert not convert.litert_is_fresh(run_folder / "model.tflite", model_file)
    x = np.random.default_rng(2).random((5, 28, 28, 1), np.float32)
    np.testing.assert_allclose(networks.lite_network(model_file).scores(x), retrained(x), atol=1e-5)


def test_without_tensorflow_a_missing_litert_file_names_its_run(run_folder, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tensorflow" else real_find_spec(name)
    )
    with pytest.raises(LiteFileError, match=f"{run_folder.name} has no LiteRT file.*needs TensorFlow"):
        networks.lite_network(run_folder / "model.keras")


@pytest.mark.parametrize("damage", [b"", b"not a flatbuffer at all" * 10])
def test_a_corrupt_litert_file_is_named(run_folder, damage):
    model_file = run_folder / "model.keras"
    networks.lite_network(model_file)
    (run_folder / "model.tflite").write_bytes(damage)  # the stamp still matches the model
    with pytest.raises(LiteFileError, match="model.tflite"):
        networks.lite_network(model_file)


def test_a_read_only_run_folder_gets_its_litert_file_in_the_user_cache(run_folder, isolated_user_dirs, monkeypatch):
    write = networks.write_classifier_litert

    def read_only_beside_the_model(model, litert_file, model_file):
        if litert_file.parent == run_folder:  # as an installed copy of models/ would refuse
            raise PermissionError(13, "Permission denied", str(litert_file))
        return write(model, litert_file, model_file)

    monkeypatch.setattr(networks, "write_classifier_litert", read_only_beside_the_model)
    network = networks.lite_network(run_folder / "model.keras")
    assert not (run_folder / "model.tflite").exists()
    cached = list((isolated_user_dirs / "cache" / "litert").glob("*.tflite"))
    assert len(cached) == 1 and network.classes == 10
    assert networks.fresh_litert_file(run_folder / "model.keras") == cached[0]  # found there next time


def test_a_recognizer_read_with_litert_answers_drawings_like_keras(run_folder, tiny_model):
    from recognizer import Recognizer, load_recognizer

    lite, keras_read = load_recognizer(run_folder, number_reader=False), Recognizer(tiny_model)
    assert isinstance(lite.network, networks.LiteNetwork)
    drawing = np.zeros((280, 280), np.uint8)
    drawing[60:220, 120:150] = 255  # a thick bar: a "1"
    a, b = lite.predict_drawing(drawing), keras_read.predict_drawing(drawing)
    np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-5)
    assert a.digit == b.digit
    both = lite.predict_drawings([drawing, drawing])
    np.testing.assert_allclose(both[0].probabilities, b.probabilities, atol=1e-5)
    assert lite.model.count_params() == tiny_model.count_params()  # the Keras model, loaded when asked
