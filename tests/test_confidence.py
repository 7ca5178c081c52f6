"""The measured "Not sure" threshold and the calibration figures (recognizer.evaluation.calibration)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recognizer.evaluation.calibration import CANDIDATES, MOST_RIGHT_BELOW, split_at, unsure_threshold
from recognizer.evaluation.curves import answer_reliability, reliability
from recognizer.reading.not_sure import DEFAULT_NOT_SURE_BELOW, not_sure_below


def keeps_rule(confidence, correct, threshold) -> bool:
    below = confidence < threshold
    return correct[below].mean() <= MOST_RIGHT_BELOW * correct[~below].mean()


def test_threshold_is_the_highest_that_keeps_the_rule(rng):
    confidence = rng.uniform(0.2, 1.0, 20000)
    correct = rng.random(20000) < np.where(confidence > 0.6, 0.98, 0.2)  # right 98 % above 0.6, 20 % under
    threshold = unsure_threshold(confidence, correct, least=10)
    assert threshold is not None and keeps_rule(confidence, correct, threshold)
    assert 0.8 <= threshold <= 0.87  # where the share right under it reaches half the share above (0.84)
    higher = [t for t in CANDIDATES if t > threshold and (confidence < t).sum() >= 10]
    assert higher and not any(keeps_rule(confidence, correct, t) for t in higher)


def test_threshold_is_none_when_low_answers_are_right_as_often():
    confidence = np.linspace(0.3, 1.0, 500)
    assert unsure_threshold(confidence, np.ones(500, bool)) is None


def test_too_few_answers_under_a_threshold_say_nothing():
    confidence = np.array([0.31] * 3 + [0.99] * 100)
    correct = np.array([False] * 3 + [True] * 100)
    assert unsure_threshold(confidence, correct, least=10) is None
    assert unsure_threshold(confidence, correct, least=3) == CANDIDATES[-1]


def test_split_at_counts_each_side():
    parts = split_at(np.array([0.2, 0.5, 0.8, 0.9]), np.array([False, True, True, True]), 0.6)
    assert parts["below"] == {"share": 0.5, "accuracy": 0.5, "count": 2}
    assert parts["above"] == {"share": 0.5, "accuracy": 1.0, "count": 2}


@pytest.mark.parametrize(
    "metrics",
    [{}, {"calibration": None}, {"calibration": {"unsure_below": "oops"}}, {"calibration": {"unsure_below": 1.5}}]
    + [{"calibration": {"unsure_below": True}}, {"calibration": {}}, "not a dict"],
)
def test_page_threshold_falls_back_to_the_default_when_unmeasured_or_garbage(metrics):
    assert not_sure_below(metrics) == DEFAULT_NOT_SURE_BELOW


def test_page_threshold_is_the_measured_one():
    assert not_sure_below({"calibration": {"unsure_below": 0.83}}) == 0.83


def test_page_never_says_not_sure_when_no_threshold_kept_the_rule():
    assert not_sure_below({"calibration": {"unsure_below": None}}) == 0.0


def test_answer_reliability_is_reliability_of_the_top_class(rng):
    proba = rng.dirichlet(np.ones(10) * 0.3, 300)
    labels = rng.integers(0, 10, 300)
    by_answer = answer_reliability(proba.max(axis=1), proba.argmax(axis=1) == labels)
    assert by_answer == reliability(labels, proba)
    with pytest.raises(ValueError):
        answer_reliability(np.array([0.5, 0.6]), np.array([True]))


def _ece_by_hand(confidence: np.ndarray, correct: np.ndarray) -> float:
    """Expected calibration error over ten equal bins: sum over bins of |right - sum of confidences| / N."""
    bins = np.minimum((confidence * 10).astype(int), 9)
    return sum(abs(correct[bins == b].sum() - confidence[bins == b].sum()) for b in range(10)) / len(confidence)


@pytest.mark.slow
def test_shipped_model_says_not_sure_where_a_fresh_reading_of_the_held_out_writers_puts_it(shipped_recognizer, pen):
    """The shipped figures are those of the held-out writers read afresh, and their threshold keeps the rule."""
    from recognizer.data.pen import writer_split
    from recognizer.evaluation.calibration import RENDERINGS, pen_answers

    figures = shipped_recognizer.metrics["calibration"]
    threshold = figures["unsure_below"]
    assert shipped_recognizer.not_sure_below == threshold != DEFAULT_NOT_SURE_BELOW
    held_out = pen.subset(writer_split(pen)[1])
    confidence, correct = pen_answers(shipped_recognizer, held_out)  # the stored protocol: 3 renderings, seed 0
    assert len(correct) == RENDERINGS * len(held_out) == figures["pen_answers"]
    below = confidence < threshold
    assert figures["below"]["count"] == below.sum() and figures["above"]["count"] == (~below).sum()
    assert figures["below"]["accuracy"] == pytest.approx(correct[below].mean())
    assert figures["above"]["accuracy"] == pytest.approx(correct[~below].mean())
    # The rule holds at the threshold, and at no higher candidate with enough answers under it.
    assert keeps_rule(confidence, correct, threshold)
    higher = [t for t in CANDIDATES if t > threshold and 10 <= (confidence < t).sum() < len(confidence)]
    assert higher and not any(keeps_rule(confidence, correct, t) for t in higher)
    # Stored as measured through Keras; read now with LiteRT, confidences agree to about 1e-7.
    assert figures["pen_ece"] == pytest.approx(_ece_by_hand(confidence, correct), abs=1e-6)
    assert 0 < figures["pen_ece"] < 0.05 and 0 < figures["mnist_ece"] < 0.05


# --- pen_answers and calibration_report on a stand-in recognizer whose answers are known ---------
#
# Three shapes (screen coordinates, y down), told apart from the drawing alone: a tall thin "1", a
# "7" (a bar along the top and a stroke down to the lower left) and a closed box "0". The stand-in
# reads every 1 right at 0.95, every 7 wrongly as a 1 at 0.35, and every box as blank (a wrong
# answer at confidence 0).

ONE = [np.array([[50.0, 0.0], [51.0, 50.0], [52.0, 100.0]])]
SEVEN = [np.array([[10.0, 0.0], [90.0, 0.0]]), np.array([[90.0, 0.0], [20.0, 100.0]])]
BOX = [np.array([[10.0, 0.0], [90.0, 0.0], [90.0, 100.0], [10.0, 100.0], [10.0, 0.0]])]
SHAPES = {1: ONE, 7: SEVEN, 0: BOX}
LABELS = [1, 7, 1, 0, 1, 7, 1, 0, 7, 1]  # five 1s, three 7s, two 0s
CONFIDENCE = {1: 0.95, 7: 0.35, 0: 0.0}
RIGHT = {1: True, 7: False, 0: False}


def _pen_of(labels):
    from recognizer.data.pen import PenDigits

    strokes = [stroke * [1, -1] for label in labels for stroke in SHAPES[label]]  # stored as tablets give: y up
    return PenDigits(
        points=np.concatenate(strokes).astype(np.float32),
        stroke_offsets=np.concatenate([[0], np.cumsum([len(s) for s in strokes])]),
        stroke_counts=np.array([len(SHAPES[label]) for label in labels]),
        labels=np.array(labels, np.int64),
        writers=np.zeros(len(labels), np.int64),
    )


class ShapeReader:
    """Reads a canvas drawing by its shape alone (see above); counts the drawings it was given."""

    def __init__(self):
        self.drawings = 0

    def predict_drawings(self, images):
        from types import SimpleNamespace

        answers = []
        for image in images:
            assert image.ndim == 3 and image.shape[2] == 4  # RGBA, as the canvas gives
            rows, cols = np.nonzero(image[..., 3] > 0)
            top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
            h, w = bottom - top + 1, right - left + 1
            corner = image[bottom - h // 7 : bottom + 1, right - w // 7 : right + 1, 3]  # the lower right
            if w < 0.5 * h:  # the 1
                answers.append(SimpleNamespace(digit=1, confidence=CONFIDENCE[1]))
            elif corner.any():  # the box
                answers.append(None)
            else:  # the 7, read as a 1
                answers.append(SimpleNamespace(digit=1, confidence=CONFIDENCE[7]))
        self.drawings += len(images)
        return answers


def test_pen_answers_are_the_answers_to_every_rendering_of_every_digit():
    from recognizer.evaluation.calibration import pen_answers

    reader = ShapeReader()
    confidence, correct = pen_answers(reader, _pen_of(LABELS), copies=2)
    assert reader.drawings == 20
    # each copy renders every digit in order; a blank reading is wrong at confidence 0
    np.testing.assert_array_equal(confidence, [CONFIDENCE[label] for label in LABELS] * 2)
    assert correct.tolist() == [RIGHT[label] for label in LABELS] * 2


def test_calibration_report_figures_are_worked_out_by_hand():
    from recognizer.evaluation.calibration import calibration_report

    mnist_labels = np.array([0, 1])
    mnist_proba = np.zeros((2, 10))
    mnist_proba[0, [0, 5]] = 0.8, 0.2  # right at 0.8
    mnist_proba[1, [3, 1]] = 0.6, 0.4  # wrong at 0.6
    report = calibration_report(ShapeReader(), _pen_of(LABELS), mnist_labels, mnist_proba)
    # Three renderings of ten digits: 15 ones right at 0.95, 9 sevens wrong at 0.35, 6 boxes wrong at 0.
    assert report["pen_answers"] == 30
    # Under any threshold from 0.36 to 0.95 lie the 15 wrong answers (right 0 % of the time, against
    # 100 % above): the rule holds; under 0.30-0.35 lie only the 6 blanks (fewer than 10), and at
    # 0.96 or more every answer is under it. So the highest threshold is 0.95.
    assert report["unsure_below"] == 0.95
    assert report["below"] == {"share": 0.5, "accuracy": 0.0, "count": 15}
    assert report["above"] == {"share": 0.5, "accuracy": 1.0, "count": 15}
    # ECE: |15 right - 15 x 0.95| + |0 - 9 x 0.35| + |0 - 6 x 0| over 30 answers = (0.75 + 3.15) / 30
    assert report["pen_ece"] == pytest.approx(0.13)
    # MNIST: |1 - 0.8| and |0 - 0.6| in two bins, over 2 answers
    assert report["mnist_ece"] == pytest.approx(0.4)


def test_calibration_report_keeps_no_threshold_when_none_keeps_the_rule():
    from recognizer.evaluation.calibration import calibration_report

    report = calibration_report(ShapeReader(), _pen_of([1] * 10 + [0] * 2))  # every answer right but 6 blanks
    assert report["pen_answers"] == 36 and report["unsure_below"] is None  # 6 under any threshold: too few
    assert "below" not in report and "above" not in report and "mnist_ece" not in report
    assert report["pen_ece"] == pytest.approx((30 * 0.05) / 36)


def test_evaluate_cli_stores_hold_out_figures_in_a_run(tiny_run, tmp_path, capsys, pen_path, mnist, run_cli):
    import shutil

    run = shutil.copytree(tiny_run, tmp_path / "run")
    assert run_cli("evaluate", ["--model", str(run), "--holdout", "--write-metrics"]) == 0
    out = capsys.readouterr().out
    assert "held-out pen digits:" in out and "1 long flag" in out and "calibration error (ECE)" in out
    metrics = json.loads((run / "metrics.json").read_text())
    # MNIST as the run is read now (views where unsure) and by the network alone, on the whole test set,
    # checked against the Keras network itself and the stored answers, counted here by hand.
    import keras

    from recognizer.reading.views import READ_VIEWS_BELOW

    x_test, y_test = mnist[1]
    network = keras.saving.load_model(run / "model.keras", compile=False)
    alone = np.asarray(network.predict(x_test[..., None].astype(np.float32) / 255, batch_size=1000, verbose=0))
    assert metrics["network_accuracy"] == pytest.approx(np.mean(alone.argmax(axis=1) == y_test), abs=2e-4)
    with np.load(run / "test_probabilities.npz") as saved:
        stored = saved["probabilities"].astype(np.float32)
    answers = stored.argmax(axis=1)
    assert stored.shape == (10_000, 10) and metrics["num_samples"] == 10_000
    assert metrics["test_accuracy"] == pytest.approx(np.mean(answers == y_test))
    counts = np.zeros((10, 10), int)
    np.add.at(counts, (y_test, answers), 1)
    assert metrics["confusion_matrix"] == counts.tolist()
    assert metrics["error_count"] == np.sum(answers != y_test)
    wrong = json.loads((run / "misclassified.json").read_text())
    assert wrong["index"] == np.flatnonzero(answers != y_test).tolist()
    # A sure answer is the network's own; an unsure one (most, for this one-epoch network) was read
    # in views, so it moved.
    sure, unsure = alone.max(axis=1) >= READ_VIEWS_BELOW + 1e-3, alone.max(axis=1) < READ_VIEWS_BELOW - 1e-3
    np.testing.assert_allclose(stored[sure], alone[sure], atol=2e-3)  # stored as float16
    assert unsure.mean() > 0.5 and np.mean(np.abs(stored[unsure] - alone[unsure]).max(axis=1) > 5e-4) > 0.9
    assert metrics["pen_holdout"]["num_samples"] > 1000 and "styled" in metrics["pen_holdout"]
    assert set(metrics["calibration"]) >= {"pen_ece", "mnist_ece", "unsure_below", "rule"}
    assert "--write-metrics" in metrics["holdout_measured_by"]
