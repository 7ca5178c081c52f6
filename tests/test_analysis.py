"""recognizer.evaluation: hand-checked metrics, cached probabilities, saliency, ensembles, reports."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from recognizer.core import paths
from recognizer.evaluation import answers
from recognizer.evaluation.curves import confidence_histogram, reliability, roc_curves
from recognizer.evaluation.latency import measure_latency
from recognizer.evaluation.metrics import cell_samples
from recognizer.evaluation.report import html_report
from recognizer.evaluation.saliency import grad_cam, saliency_map
from recognizer.training import ensembles

# --- ROC -----------------------------------------------------------------------------------------


def two_class(scores_for_1: list[float]) -> np.ndarray:
    s = np.asarray(scores_for_1)
    return np.column_stack([1 - s, s])


def test_roc_perfect_separation_has_auc_one():
    curves = roc_curves(np.array([0, 0, 1, 1]), two_class([0.1, 0.2, 0.8, 0.9]))
    assert curves[1]["auc"] == pytest.approx(1.0)
    assert curves[1]["fpr"][0] == 0.0 and curves[1]["tpr"][-1] == 1.0


def test_roc_reversed_scores_have_auc_zero():
    curves = roc_curves(np.array([0, 0, 1, 1]), two_class([0.8, 0.9, 0.1, 0.2]))
    assert curves[1]["auc"] == pytest.approx(0.0)


def test_roc_hand_computed_three_quarters():
    # Class 1 scores, descending: 0.8 (pos), 0.4 (neg), 0.3 (pos), 0.1 (neg).
    curves = roc_curves(np.array([0, 0, 1, 1]), two_class([0.1, 0.4, 0.3, 0.8]))
    assert curves[1]["fpr"] == pytest.approx([0, 0, 0.5, 0.5, 1])
    assert curves[1]["tpr"] == pytest.approx([0, 0.5, 0.5, 1, 1])
    assert curves[1]["auc"] == pytest.approx(0.75)
    assert curves[0]["auc"] == pytest.approx(0.75)  # class 0's scores are the mirror image


def test_roc_ties_cross_the_threshold_together():
    curves = roc_curves(np.array([0, 1, 0, 1]), two_class([0.5, 0.5, 0.5, 0.5]))
    assert curves[1]["fpr"] == [0.0, 1.0] and curves[1]["tpr"] == [0.0, 1.0]
    assert curves[1]["auc"] == pytest.approx(0.5)


def test_roc_absent_class_has_no_curve():
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1]])
    curves = roc_curves(np.array([0, 1]), proba)
    assert curves[2] == {"fpr": [], "tpr": [], "auc": None}
    assert curves[0]["auc"] == pytest.approx(1.0)


# --- Calibration and confidence ------------------------------------------------------------------

# Top-class confidences .4 (right), .45 (wrong), .9 (right), .8 (wrong), 1.0 (right).
CALIBRATION_Y = np.array([0, 1, 0, 2, 2])
CALIBRATION_P = np.array(
    [[0.4, 0.3, 0.3], [0.45, 0.35, 0.2], [0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.0, 0.0, 1.0]],
)


def test_reliability_hand_computed():
    result = reliability(CALIBRATION_Y, CALIBRATION_P, bins=2)
    assert result["bin_edges"] == pytest.approx([0, 0.5, 1])
    assert result["count"] == [2, 3]
    assert result["confidence"] == pytest.approx([0.425, 0.9])
    assert result["accuracy"] == pytest.approx([0.5, 2 / 3])
    # 2/5 * |0.5 - 0.425| + 3/5 * |2/3 - 0.9|
    assert result["ece"] == pytest.approx(0.17)


def test_reliability_empty_bins_are_none():
    result = reliability(CALIBRATION_Y, CALIBRATION_P, bins=4)
    assert result["count"] == [0, 2, 0, 3]
    assert result["confidence"][0] is None and result["accuracy"][2] is None
    assert len(result["bin_edges"]) == 5


def test_confidence_histogram_counts():
    result = confidence_histogram(CALIBRATION_Y, CALIBRATION_P, bins=2)
    assert result["correct"] == [1, 2]
    assert result["wrong"] == [1, 1]
    default = confidence_histogram(CALIBRATION_Y, CALIBRATION_P)
    assert len(default["bin_edges"]) == 21 and sum(default["correct"]) + sum(default["wrong"]) == 5


@pytest.mark.parametrize(
    "y, proba",
    [
        (np.array([0, 1]), np.array([0.3, 0.7])),  # not 2-D
        (np.array([0, 1, 1]), np.array([[0.3, 0.7], [0.6, 0.4]])),  # length mismatch
        (np.array([0, 2]), np.array([[0.3, 0.7], [0.6, 0.4]])),  # label out of range
        (np.array([0, 1]), np.array([[np.nan, 0.7], [0.6, 0.4]])),
    ],
)
def test_metrics_reject_bad_input(y, proba):
    with pytest.raises(ValueError):
        roc_curves(y, proba)
    with pytest.raises(ValueError):
        reliability(y, proba)


def test_bins_must_be_positive():
    with pytest.raises(ValueError, match="bins"):
        confidence_histogram(CALIBRATION_Y, CALIBRATION_P, bins=0)


# --- The samples of a confusion-matrix cell -----------------------------------------------------

# Four test samples: 0 and 1 are 3s read right (sure, then unsure); 2 is a 3 read as 5; 3 a 5 read right.
CELL_Y = np.array([3, 3, 3, 5])
CELL_P = np.zeros((4, 10))
CELL_P[[0, 1, 2, 3], [3, 3, 5, 5]] = [0.9, 0.6, 0.7, 0.8]
CELL_MISCLASSIFIED = {"index": [2], "true": [3], "predicted": [5], "probabilities": [CELL_P[2].tolist()]}


def test_a_wrong_cell_shows_the_misclassified_samples_with_their_probabilities():
    cell = cell_samples(3, 5, CELL_Y, CELL_MISCLASSIFIED)
    assert cell.indices == [2] and not cell.least_sure_first
    np.testing.assert_array_equal(cell.probabilities, CELL_P[[2]])
    empty = cell_samples(5, 3, CELL_Y, CELL_MISCLASSIFIED)
    assert empty.indices == [] and empty.probabilities is None


def test_a_right_cell_shows_the_least_sure_answers_first():
    cell = cell_samples(3, 3, CELL_Y, CELL_MISCLASSIFIED, CELL_P, shown=1)
    assert cell.indices == [1, 0] and cell.least_sure_first
    np.testing.assert_array_equal(cell.probabilities, CELL_P[[1]])  # only the shown ones


def test_a_right_cell_without_probabilities_leaves_out_the_misclassified():
    cell = cell_samples(3, 3, CELL_Y, CELL_MISCLASSIFIED)
    assert cell.indices == [0, 1] and cell.probabilities is None and not cell.least_sure_first


# --- Test-set probabilities ----------------------------------------------------------------------


def test_probabilities_read_from_the_run(tiny_run):
    proba = answers.test_probabilities(tiny_run)
    with np.load(tiny_run / "test_probabilities.npz") as data:
        expected = data["probabilities"]
    assert proba.dtype == np.float32 and proba.shape == (200, 10)
    np.testing.assert_array_equal(proba, expected.astype(np.float32))


def test_probabilities_computed_once_then_cached(tiny_run, tmp_path, monkeypatch, mnist):
    old_run = tmp_path / "old-run"
    shutil.copytree(tiny_run, old_run)
    (old_run / "test_probabilities.npz").unlink()

    first = answers.test_probabilities(old_run)
    assert first.shape == (10_000, 10) and first.dtype == np.float32
    cached = answers.probabilities_cache_path(old_run)
    assert cached.is_file() and cached.parent == paths.cache_dir() / "analysis"
    assert not (old_run / "test_probabilities.npz").exists()  # a run folder is never written to

    def must_not_load(*args, **kwargs):
        raise AssertionError("the cached probabilities should have been read")

    monkeypatch.setattr(answers, "load_recognizer", must_not_load)
    np.testing.assert_array_equal(answers.test_probabilities(old_run), first)


def test_probabilities_of_a_folder_without_model(tmp_path):
    from recognizer.core.runs import ModelNotFoundError

    with pytest.raises(ModelNotFoundError):
        answers.test_probabilities(tmp_path)


# --- Saliency, Grad-CAM, latency -----------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped():
    from recognizer import load_recognizer

    return load_recognizer(paths.shipped_models_dir() / "deepcnn-drawings-v1")


@pytest.fixture(scope="module")
def a_one():
    image = np.zeros((28, 28), np.float32)
    image[5:23, 13:16] = 1.0  # a thick vertical bar: a "1"
    return image


def test_saliency_map_on_shipped_model(shipped, a_one):
    saliency = saliency_map(shipped, a_one)
    assert saliency.shape == (28, 28) and saliency.dtype == np.float32
    assert saliency.min() >= 0 and saliency.max() == pytest.approx(1.0)


def test_grad_cam_on_shipped_model_points_at_the_stroke(shipped, a_one):
    cam = grad_cam(shipped, a_one)
    assert cam is not None and cam.shape == (28, 28) and cam.dtype == np.float32
    assert cam.min() >= 0 and cam.max() == pytest.approx(1.0)  # scaled to its peak: not a flat map
    near_the_bar = np.zeros((28, 28), bool)
    near_the_bar[3:25, 10:19] = True
    assert near_the_bar[np.unravel_index(cam.argmax(), cam.shape)]
    assert cam[near_the_bar].mean() > cam[~near_the_bar].mean()


def test_grad_cam_is_none_without_convolutions(a_one):
    from recognizer.nets.architectures import build_model
    from recognizer.reading.recognizer import Recognizer

    assert grad_cam(Recognizer(build_model("mlp")), a_one) is None


def test_saliency_rejects_a_wrong_shape(shipped):
    with pytest.raises(ValueError, match="28, 28"):
        saliency_map(shipped, np.zeros((28, 29), np.float32))


class SlowModel:
    """A stand-in recognizer whose every answer takes ``ms`` milliseconds."""

    def __init__(self, ms: float):
        self.ms, self.calls = ms, 0

    def predict_proba(self, images):
        self.calls += 1
        time.sleep(self.ms / 1000)
        return np.full((len(images), 10), 0.1, np.float32)


def test_measure_latency_is_the_time_of_one_call():
    slow = SlowModel(ms=20)
    latency = measure_latency(slow, calls=5)
    assert 20 <= latency < 200  # sleep() waits at least that long; a loaded machine adds a little
    assert slow.calls == 6  # a warm-up call, then the timed ones
    with pytest.raises(ValueError):
        measure_latency(slow, calls=0)


def test_measure_latency_of_a_real_model(shipped):
    latency = measure_latency(shipped, calls=3)
    assert isinstance(latency, float) and 0 < latency < 1000


# --- Ensembles -----------------------------------------------------------------------------------


def perturbed_copy(run, folder, seed: int):
    """A copy of ``run`` whose weights are nudged: a second member that answers differently."""
    import keras

    shutil.copytree(run, folder)
    model = keras.saving.load_model(folder / "model.keras", compile=False)
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in model.get_weights()])
    model.save(folder / "model.keras")
    return folder


@pytest.fixture
def members(tiny_run, tmp_path):
    first = tmp_path / "member-a"
    shutil.copytree(tiny_run, first)
    return [first, perturbed_copy(tiny_run, tmp_path / "member-b", seed=1)]


@pytest.fixture
def ensemble_run(members, tiny_mnist, tmp_path):
    return ensembles.build_ensemble(members, tmp_path / "runs", "ens-test", mnist=tiny_mnist, pen_holdout=False)


def test_ensemble_averages_its_members(ensemble_run, members, tiny_mnist):
    from recognizer import load_recognizer
    from recognizer.core.storage import read_json

    _, (x_test, y_test) = tiny_mnist
    first, second = (load_recognizer(m).predict_proba(x_test) for m in members)
    assert np.abs(first - second).max() > 0.1  # the members disagree, so averaging shows
    mean = (first + second) / 2
    np.testing.assert_allclose(load_recognizer(ensemble_run).predict_proba(x_test), mean, atol=1e-5)

    metrics = read_json(ensemble_run / "metrics.json")
    assert metrics["test_accuracy"] == pytest.approx(np.mean(mean.argmax(axis=1) == y_test))
    assert metrics["architecture"] == "ensemble" and metrics["status"] == "finished"
    assert metrics["made_by"] == "recognizer.training.ensembles.build_ensemble" and metrics["model"] == "ens-test"
    assert read_json(ensemble_run / "config.json")["members"] == ["member-a", "member-b"]
    np.testing.assert_allclose(answers.test_probabilities(ensemble_run), mean, atol=2e-3)  # saved as float16
    assert not list(ensemble_run.parent.glob(".*"))  # no temp folder left behind


def test_ensemble_is_listed_and_activatable(ensemble_run):
    from recognizer.core.runs import active_model_dir, list_runs, set_active

    rows = {row["name"]: row for row in list_runs(ensemble_run.parent)}
    assert rows["ens-test"]["architecture"] == "ensemble"
    set_active(ensemble_run)
    assert active_model_dir() == ensemble_run.resolve()


def test_ensemble_rejects_bad_requests(ensemble_run, tiny_run, tiny_mnist):
    with pytest.raises(ValueError, match="at least 2"):
        ensembles.build_ensemble([tiny_run], ensemble_run.parent, "solo", mnist=tiny_mnist)
    with pytest.raises(FileExistsError):
        ensembles.build_ensemble([tiny_run, tiny_run], ensemble_run.parent, "ens-test", mnist=tiny_mnist)
    with pytest.raises(ValueError, match="run name"):
        ensembles.build_ensemble([tiny_run, tiny_run], ensemble_run.parent, "../escape", mnist=tiny_mnist)
    with pytest.raises(ValueError, match="models/"):
        ensembles.build_ensemble([tiny_run, tiny_run], paths.shipped_models_dir(), "x", mnist=tiny_mnist)


# --- HTML report ---------------------------------------------------------------------------------


def plotly_js_copies(report: str) -> int:
    # The plotly.js bundle announces itself once in its licence header.
    return report.count("plotly.js v")


def figure_count(report: str) -> int:
    return report.count('class="plotly-graph-div"')


def test_html_report_is_standalone_with_the_pages_figures(tiny_run):
    report = html_report(tiny_run)
    assert report.lstrip().startswith("<!DOCTYPE html>") and "<html" in report
    assert "tiny-lenet5" in report
    assert plotly_js_copies(report) == 1  # embedded once: the file opens offline
    assert figure_count(report) == 3  # learning curves, confusion matrix, reliability
    for title in ("Loss", "Accuracy", "Learning rate", "Reliability (ECE"):  # the Explore page's figures
        assert title in report
    assert "Precision" in report


def test_html_report_of_an_ensemble_without_history(ensemble_run, tiny_mnist):
    _, (_, y_test) = tiny_mnist
    report = html_report(ensemble_run, y_true=y_test)
    assert "ens-test" in report and "No training history" in report
    assert figure_count(report) == 2 and plotly_js_copies(report) == 1
    assert "Reliability (ECE" in report


def test_an_ensemble_of_ten_and_eleven_class_runs_gives_not_a_digit_only_the_members_that_have_it(
    tiny_run, tmp_path, tiny_mnist
):
    import keras

    from recognizer.core.preprocess import to_model_input
    from recognizer.nets.architectures import build_model
    from recognizer.training.ensembles import ensemble_model

    eleven = tmp_path / "eleven"
    eleven.mkdir()
    build_model("lenet5", num_classes=11).save(eleven / "model.keras")
    keras.backend.clear_session()
    ensemble = ensemble_model([tiny_run, eleven], "mixed")
    ensemble.save(tmp_path / "mixed.keras")
    reloaded = keras.saving.load_model(tmp_path / "mixed.keras", compile=False, safe_mode=True)

    _, (x_test, _) = tiny_mnist
    x = to_model_input(x_test[:16])
    ten = keras.saving.load_model(tiny_run / "model.keras", compile=False).predict(x, verbose=0)
    other = keras.saving.load_model(eleven / "model.keras", compile=False).predict(x, verbose=0)
    expected = (np.pad(ten, ((0, 0), (0, 1))) + other) / 2
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, atol=1e-5)
    with pytest.raises(ValueError, match="10 digits"):
        mlp = tmp_path / "three"
        mlp.mkdir()
        build_model("mlp", num_classes=3).save(mlp / "model.keras")
        ensemble_model([tiny_run, mlp], "three")
