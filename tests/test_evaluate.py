"""Metrics against a confusion matrix worked out by hand."""

import numpy as np
import pytest

from recognizer.evaluation.metrics import (
    classification_report,
    confusion_matrix,
    log_loss,
    misclassified,
    per_class_metrics,
    top_confusions,
)

# Three classes. True 0: 3 right, 1 read as 2. True 1: 2 right. True 2: 1 right, 2 read as 0.
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 0, 0, 2, 1, 1, 2, 0, 0])


def one_hot_proba(pred, classes=3, confidence=0.8):
    proba = np.full((len(pred), classes), (1 - confidence) / (classes - 1))
    proba[np.arange(len(pred)), pred] = confidence
    return proba


def test_confusion_matrix_counts_true_by_predicted():
    cm = confusion_matrix(Y_TRUE, Y_PRED, num_classes=3)
    assert cm.tolist() == [[3, 0, 1], [0, 2, 0], [2, 0, 1]]


def test_per_class_metrics_by_hand():
    metrics = per_class_metrics(confusion_matrix(Y_TRUE, Y_PRED, num_classes=3))
    # class 0: precision 3/5, recall 3/4, F1 = 2*.6*.75/1.35 = 2/3
    assert metrics[0]["precision"] == pytest.approx(0.6)
    assert metrics[0]["recall"] == pytest.approx(0.75)
    assert metrics[0]["f1"] == pytest.approx(2 / 3)
    # class 1: perfect
    assert (metrics[1]["precision"], metrics[1]["recall"], metrics[1]["f1"]) == (1.0, 1.0, 1.0)
    # class 2: precision 1/2, recall 1/3, F1 = 2*(1/6)/(5/6) = 0.4
    assert metrics[2]["precision"] == pytest.approx(0.5)
    assert metrics[2]["recall"] == pytest.approx(1 / 3)
    assert metrics[2]["f1"] == pytest.approx(0.4)
    assert [m["support"] for m in metrics] == [4, 2, 3]


def test_class_never_predicted_has_zero_precision_not_nan():
    metrics = per_class_metrics(confusion_matrix(np.array([0, 1]), np.array([0, 0]), num_classes=2))
    assert metrics[1] == {"class": 1, "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_top_confusions_sorted_by_count():
    cm = confusion_matrix(Y_TRUE, Y_PRED, num_classes=3)
    assert top_confusions(cm) == [
        {"true": 2, "predicted": 0, "count": 2},
        {"true": 0, "predicted": 2, "count": 1},
    ]


def test_classification_report_and_misclassified():
    proba = one_hot_proba(Y_PRED)
    report = classification_report(Y_TRUE, proba)
    assert report["accuracy"] == pytest.approx(6 / 9)
    assert report["error_count"] == 3
    assert report["loss"] == pytest.approx(-(6 * np.log(0.8) + 3 * np.log(0.1)) / 9)
    assert report["macro_f1"] == pytest.approx((2 / 3 + 1 + 0.4) / 3)
    wrong = misclassified(Y_TRUE, proba)
    assert wrong["index"] == [3, 7, 8]
    assert wrong["true"] == [0, 2, 2] and wrong["predicted"] == [2, 0, 0]
    assert wrong["probabilities"][0] == pytest.approx([0.1, 0.1, 0.8])


def test_log_loss_of_certain_right_answer_is_zero():
    assert log_loss(np.array([1]), np.array([[0.0, 1.0]])) == pytest.approx(0.0, abs=1e-9)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError):
        classification_report(np.array([0, 1]), np.ones((3, 10)) / 10)
