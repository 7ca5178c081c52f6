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


def test_shipped_model_says_not_sure_where_it_measured(shipped_recognizer):
    """The shipped metrics hold a threshold that keeps the rule, and the recognizer uses it."""
    figures = shipped_recognizer.metrics["calibration"]
    threshold = figures["unsure_below"]
    assert shipped_recognizer.not_sure_below == threshold != DEFAULT_NOT_SURE_BELOW
    below, above = figures["below"], figures["above"]
    assert below["accuracy"] <= MOST_RIGHT_BELOW * above["accuracy"]
    assert below["count"] + above["count"] == figures["pen_answers"] >= 3000
    assert 0 < figures["pen_ece"] < 0.05 and 0 < figures["mnist_ece"] < 0.05


def test_pen_answers_are_the_drawing_answers(shipped_recognizer, pen):
    from recognizer.data.drawings import renderings
    from recognizer.data.pen import writer_split
    from recognizer.evaluation.calibration import pen_answers

    few = pen.subset(writer_split(pen)[1][:30])
    confidence, correct = pen_answers(shipped_recognizer, few, copies=2)
    drawings = list(renderings(few, 0, 2))
    answers = shipped_recognizer.predict_drawings([d for d, _ in drawings])
    assert len(confidence) == len(correct) == 60
    right = [a is not None and a.digit == label for a, (_, label) in zip(answers, drawings, strict=True)]
    assert correct.tolist() == right
    np.testing.assert_allclose(confidence, [a.confidence for a in answers], rtol=1e-6)
    assert correct.mean() > 0.9


def test_evaluate_cli_stores_hold_out_figures_in_a_run(tiny_run, tmp_path, capsys, pen_path, mnist):
    import shutil

    from test_scripts import load_script

    run = shutil.copytree(tiny_run, tmp_path / "run")
    assert load_script("evaluate").main(["--model", str(run), "--holdout", "--write-metrics"]) == 0
    out = capsys.readouterr().out
    assert "held-out pen digits:" in out and "1 long flag" in out and "calibration error (ECE)" in out
    metrics = json.loads((run / "metrics.json").read_text())
    # MNIST as the run is read now (views where unsure) and by the network alone, on the whole test set.
    from recognizer.reading.recognizer import load_recognizer

    rec, (x_test, y_test) = load_recognizer(run, number_reader=False), mnist[1]
    answers = rec.predict(x_test)
    assert metrics["test_accuracy"] == pytest.approx(np.mean(answers == y_test))
    # The confusion matrix, the misclassified list and the stored probabilities count those answers too.
    assert np.trace(metrics["confusion_matrix"]) == np.sum(answers == y_test)
    assert metrics["error_count"] == np.sum(answers != y_test)
    wrong = json.loads((run / "misclassified.json").read_text())
    assert wrong["index"] == np.flatnonzero(answers != y_test).tolist()
    from recognizer.evaluation.answers import test_probabilities

    assert np.array_equal(test_probabilities(run).argmax(axis=1), answers)
    assert metrics["network_accuracy"] == pytest.approx(np.mean(rec.predict(x_test, views=False) == y_test))
    assert metrics["pen_holdout"]["num_samples"] > 1000 and "styled" in metrics["pen_holdout"]
    assert set(metrics["calibration"]) >= {"pen_ece", "mnist_ece", "unsure_below", "rule"}
    assert "--write-metrics" in metrics["holdout_measured_by"]
