"""The inference API: load_recognizer and predict_proba, on the shipped model and a tiny run."""

import json

import numpy as np
import pytest

from recognizer import load_recognizer
from recognizer.core.runs import ModelNotFoundError, active_model_dir, set_active, shipped_active_dir


@pytest.fixture(scope="module")
def shipped():
    return load_recognizer()


def test_shipped_model_reads_real_mnist_test_digits(shipped, mnist):
    _, (x_test, y_test) = mnist
    proba = shipped.predict_proba(x_test[:1000])
    assert proba.shape == (1000, 10)
    accuracy = np.mean(proba.argmax(axis=1) == y_test[:1000])
    assert accuracy >= 0.99, accuracy


def test_shipped_model_metrics_say_how_it_was_made():
    run_dir = shipped_active_dir()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    # The project's own training command: digits-train, called scripts/train.py when v4 was made.
    assert metrics["made_by"].startswith(("digits-train ", "python scripts/train.py "))
    assert metrics["architecture"] == config["architecture"] == "deepcnn"
    assert config["augment"] is True
    assert (run_dir / "model.keras").stat().st_size < 10 * 2**20


def test_shipped_model_reads_mnist_as_its_metrics_say(shipped_mnist_answers):
    fresh, metrics = shipped_mnist_answers, json.loads((shipped_active_dir() / "metrics.json").read_text())
    edge = fresh["edge"] / fresh["samples"]
    assert fresh["read"] >= 0.995, fresh["read"]
    assert metrics["test_accuracy"] == pytest.approx(fresh["read"], abs=edge)
    assert metrics["network_accuracy"] == pytest.approx(fresh["alone"], abs=edge)
    assert metrics["num_samples"] == fresh["samples"]
    errors = fresh["samples"] - int(np.trace(fresh["matrix"]))
    assert abs(metrics["error_count"] - errors) <= fresh["edge"]
    stored = np.asarray(metrics["confusion_matrix"])
    assert stored.shape == (10, 10)
    # Each answer that flipped moves one count out of one cell into another.
    assert np.abs(stored - fresh["matrix"]).sum() <= 2 * fresh["edge"]


@pytest.mark.slow  # reads every test image (held-out drawing) through the model
def test_shipped_model_reads_the_held_out_writers_as_its_metrics_say(shipped_recognizer, pen):
    """One random canvas rendering (seed 0) of every held-out writer's digit, read now; metrics.json's
    ``pen_holdout_accuracy`` was measured by this protocol."""
    from recognizer.data.pen import random_rendering, writer_split

    _, held = writer_split(pen)
    rng = np.random.default_rng(0)
    drawings = [random_rendering(pen.strokes(int(i)), rng) for i in held]
    answers = [
        p
        for start in range(0, len(held), 256)
        for p in shipped_recognizer.predict_drawings(drawings[start : start + 256])
    ]
    right = sum(p is not None and p.digit == label for p, label in zip(answers, pen.labels[held], strict=True))
    fresh = right / len(held)
    metrics = json.loads((shipped_active_dir() / "metrics.json").read_text())
    assert fresh >= 0.97, fresh  # real pen-written digits of unseen writers
    assert metrics["pen_holdout_accuracy"] == pytest.approx(fresh, abs=2 / len(held))  # 2 answers on the edge


def test_input_forms_agree(shipped, mnist):
    _, (x_test, _) = mnist
    images = x_test[:8]
    reference = shipped.predict_proba(images)
    as_float = images.astype(np.float32) / 255
    for variant in (images[..., None], as_float, as_float[..., None]):
        np.testing.assert_allclose(shipped.predict_proba(variant), reference, atol=1e-5)
    np.testing.assert_allclose(reference.sum(axis=1), 1.0, rtol=1e-5)
    # One image alone gives the same answer as inside a batch.
    np.testing.assert_allclose(shipped.predict_proba(images[3:4])[0], reference[3], atol=1e-5)


def test_large_inputs_are_batched_consistently(shipped, mnist):
    _, (x_test, _) = mnist
    whole = shipped.predict_proba(x_test[:2500])
    np.testing.assert_allclose(whole[2000:2010], shipped.predict_proba(x_test[2000:2010]), atol=1e-5)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((2, 32, 32), np.uint8), "shape"),
        (np.zeros((2, 28, 28, 3), np.uint8), "shape"),
        (np.full((1, 28, 28), 255.0, np.float32), "0..1"),
        (np.full((1, 28, 28), -0.5, np.float32), "0..1"),
        (np.full((1, 28, 28), np.nan, np.float32), "NaN"),
        (np.full((1, 28, 28), np.inf), "NaN or infinite"),
        (None, "numeric"),
        ("a picture", "numeric"),
        ([[1, 2], [3, 4]], "shape"),
        (np.zeros((28, 28), bool), "numeric"),
    ],
)
def test_bad_inputs_raise_value_error(shipped, bad, message):
    with pytest.raises(ValueError, match=message):
        shipped.predict_proba(bad)


def test_an_empty_batch_gives_empty_answers(shipped):
    assert shipped.predict_proba(np.zeros((0, 28, 28), np.uint8)).shape == (0, 10)
    assert shipped.predict(np.zeros((0, 28, 28), np.float32)).shape == (0,)


def test_user_choice_of_active_model_wins_and_can_be_reset(tiny_run):
    shipped_dir = shipped_active_dir()
    assert active_model_dir() == shipped_dir
    set_active(tiny_run)
    assert active_model_dir() == tiny_run
    assert load_recognizer().name == "tiny-lenet5"
    (tiny_run.parent / "gone").mkdir()
    with pytest.raises(ModelNotFoundError):
        set_active(tiny_run.parent / "gone")


def test_unreadable_user_choice_falls_back_to_shipped(isolated_user_dirs):
    (isolated_user_dirs / "active.json").write_text("{not json")
    assert active_model_dir() == shipped_active_dir()


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no model at"):
        load_recognizer(tmp_path)


def test_loads_a_keras_file_directly(tiny_run, mnist):
    rec = load_recognizer(tiny_run / "model.keras")
    _, (x_test, _) = mnist
    assert rec.predict_proba(x_test[:4]).shape == (4, 10)
    assert rec.metrics["model"] == "tiny-lenet5"


def test_split_not_digit_renormalises_the_digits_and_gives_the_rest():
    from recognizer.core.classes import split_not_digit

    scores = np.array([[0.1, 0.3, 0, 0, 0, 0, 0, 0, 0, 0, 0.6]], np.float32)
    proba, one_digit = split_not_digit(scores)
    np.testing.assert_allclose(proba[0, :2], [0.25, 0.75], rtol=1e-6)
    assert proba.shape == (1, 10) and one_digit[0] == pytest.approx(0.4)
    ten = np.eye(10, dtype=np.float32)[:3]
    proba, one_digit = split_not_digit(ten)
    np.testing.assert_array_equal(proba, ten)
    np.testing.assert_array_equal(one_digit, np.ones(3))
