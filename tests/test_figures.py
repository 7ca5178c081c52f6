"""recognizer.core.figures: the Plotly figures the pages and the HTML report share."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from recognizer.core import figures

HISTORY = {
    "epoch": [1, 2, 3],
    "loss": [0.5, 0.3, 0.2],
    "val_loss": [0.4, 0.3, 0.25],
    "accuracy": [0.85, 0.93, 0.96],
    "val_accuracy": [0.9, 0.94, 0.95],
    "learning_rate": [1e-3, 5e-4, 1e-4],
}


def test_learning_rate_has_a_panel_of_its_own():
    fig = figures.learning_curves_figure(HISTORY)
    rate = next(t for t in fig.data if t.name == "learning rate")
    assert (rate.xaxis, rate.yaxis) == ("x3", "y3")
    assert {(t.xaxis, t.yaxis) for t in fig.data if t.name != "learning rate"} == {("x", "y"), ("x2", "y2")}
    # No axis drawn over another: the rate's ticks once printed over the accuracy axis.
    layout = fig.to_dict()["layout"]
    assert not [name for name, axis in layout.items() if name.startswith("yaxis") and axis.get("overlaying")]
    assert layout["xaxis2"]["domain"][1] < layout["xaxis3"]["domain"][0]
    assert [a["text"] for a in layout["annotations"]] == ["Loss", "Accuracy", "Learning rate"]


def test_learning_curves_without_rate_or_validation():
    history = {k: v for k, v in HISTORY.items() if k != "learning_rate"}
    history["val_loss"] = history["val_accuracy"] = [None, None, None]  # no validation split
    fig = figures.learning_curves_figure(history)
    assert [(t.name, t.xaxis) for t in fig.data] == [("train", "x"), ("train", "x2")]
    assert [a["text"] for a in fig.to_dict()["layout"]["annotations"]] == ["Loss", "Accuracy"]


def test_confusion_figure_clickable_cells_and_row_shares():
    cm = np.diag([10] * 10)
    cm[9, 4] = 5
    clickable = figures.confusion_figure(cm, normalised=True)
    heatmap, markers = clickable.data
    assert heatmap.text[9][4] == f"{5 / 15:.1%}" and heatmap.text[0][1] == ""
    assert len(markers.x) == 100 and list(markers.customdata[9 * 10 + 4][:1]) == [5]
    assert clickable.layout.clickmode == "event+select"
    plain = figures.confusion_figure(cm.tolist(), clickable=False)
    assert len(plain.data) == 1 and plain.data[0].text[9][4] == "5"


def test_probability_chart_highlights_the_answer():
    fig = figures.probability_chart([0.1, 0.0, 0.7, 0.2, 0, 0, 0, 0, 0, 0])
    colors = fig.data[0].marker.color
    assert colors[2] == figures.RED and {c for i, c in enumerate(colors) if i != 2} == {figures.GREY}
    assert fig.data[0].text[2] == "70%" and fig.data[0].text[1] == ""


def test_roc_figure_leaves_out_classes_without_a_curve():
    curves = {0: {"fpr": [0, 1], "tpr": [0, 1], "auc": 0.5}, 1: {"fpr": [], "tpr": [], "auc": None}}
    names = [t.name for t in figures.roc_figure(curves).data if t.showlegend is not False]
    assert names == ["0 (AUC 0.5000)"]


def test_reliability_and_confidence_bars_sit_on_their_bins():
    rel = {"bin_edges": [0, 0.5, 1], "accuracy": [None, 0.9], "count": [0, 4], "ece": 0.05}
    bars = figures.reliability_figure(rel).data[0]
    assert list(bars.x) == pytest.approx([0.25, 0.75]) and list(bars.y) == [None, 0.9]
    hist = {"bin_edges": [0, 0.5, 1], "correct": [1, 9], "wrong": [2, 0]}
    assert [t.name for t in figures.confidence_figure(hist).data] == ["correct", "wrong"]


def test_boxes_figure_marks_each_piece():
    pieces = [
        SimpleNamespace(box=(1, 2, 3, 4), is_digit=True, digit=7),
        SimpleNamespace(box=(5, 2, 3, 4), is_digit=False, digit=1),
    ]
    fig = figures.boxes_figure(np.zeros((10, 10), np.float32), pieces)
    assert [s.line.color for s in fig.layout.shapes] == [figures.RED, figures.GREY]
    assert [a.text for a in fig.layout.annotations] == ["7", "?"]
