"""The Explore page (AppTest, no browser): run view, confusion cell samples, saliency, compare and data.

Needs MNIST (DIGITS_DATA_DIR) for the sample grids and the Data section. Two tests run a model on
the 10,000 test images: ``test_test_probabilities_are_computed_on_request``, and the matrix test,
which measures the shipped model afresh to check the figures the page shows.
Clicking a heatmap cell in a real browser is a browser test; here the cell is set in session state,
which is where the page keeps the clicked cell.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from recognizer.core.runs import active_model_dir

APP = str(Path(__file__).resolve().parent.parent / "app.py")
OTHER_RUN = "deepcnn-mnist-v1"


def open_explore_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90).run()
    at.switch_page("app_pages/explore.py").run()
    assert not at.exception, at.exception
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def trace_types(at: AppTest) -> list[set[str]]:
    return [{trace.get("type", "scatter") for trace in fig["data"]} for fig in figures(at)]


def heat_values(trace: dict) -> np.ndarray:
    """A heatmap trace's z as an array: Plotly sends NumPy arrays as base64 typed arrays."""
    z = trace["z"]
    if isinstance(z, dict):
        values = np.frombuffer(base64.b64decode(z["bdata"]), dtype=np.dtype(z["dtype"]))
        return values.reshape([int(n) for n in str(z.get("shape", len(values))).split(",")])
    return np.asarray(z, dtype=float)


def texts(at: AppTest) -> str:
    return "\n".join([s.value for s in at.subheader] + [c.value for c in at.caption] + [i.value for i in at.info])


def show_cell(at: AppTest, true: int, pred: int) -> AppTest:
    # What a click on the heatmap's cell stores (see confusion_section).
    at.session_state["explore_cell"] = {"run": at.selectbox(key="explore_run").value, "true": true, "pred": pred}
    at.run()
    assert not at.exception, at.exception
    return at


def test_opens_on_the_active_model_with_curves_confusion_matrix_and_per_class_table(mnist):
    at = open_explore_page()
    assert at.selectbox(key="explore_run").value == active_model_dir().name
    assert not at.error
    types = trace_types(at)
    assert {"scatter"} in types  # learning curves
    assert any("heatmap" in t for t in types)  # the confusion matrix (with its clickable markers)
    curves = figures(at)[types.index({"scatter"})]
    assert {t["name"] for t in curves["data"]} >= {"train", "validation", "learning rate"}
    rate = next(t for t in curves["data"] if t["name"] == "learning rate")
    assert rate["xaxis"] == "x3"  # a panel of its own: no second axis printed over the accuracy plot
    assert [m.label for m in at.metric] == [
        "MNIST test accuracy",
        "Pen hold-out accuracy",
        "Parameters",
        "Training time",
    ]
    per_class = at.dataframe[1].value
    assert list(per_class["digit"]) == list(range(10))
    assert {"precision", "recall", "f1", "support"} <= set(per_class.columns)
    assert len(at.dataframe[0].value) > 0  # top confusions
    assert at.download_button(key="explore_report")  # the HTML report


def test_confusion_matrix_toggles_to_row_normalised(mnist):
    at = open_explore_page()
    at.segmented_control(key="explore_cm_mode").set_value("Row-normalised").run()
    assert not at.exception, at.exception
    heatmap = next(f for f in figures(at) if f["data"][0]["type"] == "heatmap")
    assert any(cell.endswith("%") for row in heatmap["data"][0]["text"] for cell in row if cell)


def test_an_off_diagonal_cell_shows_its_misclassified_samples_with_probabilities(mnist):
    at = show_cell(open_explore_page(), 9, 4)
    assert any(s.value.startswith("True 9, predicted 4") for s in at.subheader)
    assert len(at.image) >= 1
    # One probability chart (horizontal bars over the ten digits) per sample.
    bars = [f for f in figures(at) if [(t["type"], t.get("orientation")) for t in f["data"]] == [("bar", "h")]]
    assert len(bars) == len(at.image)
    at.button(key="explore_cell_close").click().run()
    assert not any(s.value.startswith("True 9") for s in at.subheader)


def test_a_diagonal_cell_shows_correct_samples(mnist):
    at = show_cell(open_explore_page(), 3, 3)
    assert any(s.value.startswith("True 3, predicted 3") for s in at.subheader)
    assert len(at.image) == 8
    assert not at.exception


def test_another_run_can_be_selected(mnist):
    at = open_explore_page()
    at.selectbox(key="explore_run").set_value(OTHER_RUN).run()
    assert not at.exception, at.exception
    assert not at.error
    assert at.selectbox(key="explore_run").value == OTHER_RUN
    assert any("heatmap" in t for t in trace_types(at))
    assert list(at.dataframe[1].value["digit"]) == list(range(10))


def test_test_probabilities_are_computed_on_request(mnist, tiny_run, isolated_user_dirs):
    import shutil

    from recognizer.core.runs import set_active

    # A run without saved test probabilities (as runs from before they were saved).
    run = isolated_user_dirs / "runs" / "old-run"
    shutil.copytree(tiny_run, run)
    (run / "test_probabilities.npz").unlink()
    set_active(run)
    at = open_explore_page()
    assert len(at.get("plotly_chart")) == 2  # opening the page never evaluates the test set
    at.button(key="explore_compute_proba").click().run()
    assert not at.exception, at.exception
    titles = [f["layout"].get("title", {}).get("text", "") for f in figures(at)]
    assert "One-vs-rest ROC" in titles
    assert any(t.startswith("Reliability (ECE") for t in titles)
    assert "Confidence of the answers" in titles
    roc = figures(at)[titles.index("One-vs-rest ROC")]
    assert sum("AUC" in t.get("name", "") for t in roc["data"]) == 10
    # Now a diagonal cell has probability bars too, the least sure answers first.
    at = show_cell(at, 3, 3)
    assert "least confident" in texts(at)


def overlay(at: AppTest) -> dict:
    """The saliency section's figure: the digit in greys with the heat map over it."""
    found = [f for f in figures(at) if [t["type"] for t in f["data"]] == ["heatmap", "heatmap"]]
    assert len(found) == 1, [f["layout"].get("title") for f in figures(at)]
    return found[0]


def test_saliency_section_explains_a_test_sample(mnist, shipped_recognizer):
    from recognizer.evaluation.saliency import grad_cam

    _, (x_test, _) = mnist
    image = x_test[7].astype(np.float32) / 255
    ink = image > 0.5
    at = open_explore_page()
    at.segmented_control(key="explore_section").set_value("Saliency").run()
    at.number_input(key="explore_saliency_index").set_value(7).run()
    assert not at.exception, at.exception
    assert not at.error
    gradient = overlay(at)
    assert gradient["layout"]["title"]["text"] == "Gradient saliency"
    np.testing.assert_allclose(heat_values(gradient["data"][0]), image, atol=1e-6)  # test sample #7 under it
    at.segmented_control(key="explore_saliency_method").set_value("Grad-CAM").run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="explore_saliency_source").options == ["MNIST test sample"]
    assert not at.info, [i.value for i in at.info]  # no fallback to gradient saliency: the model has convolutions
    cam = overlay(at)
    assert cam["layout"]["title"]["text"] == "Grad-CAM"
    np.testing.assert_allclose(heat_values(cam["data"][0]), image, atol=1e-6)
    heat = heat_values(cam["data"][1])
    assert heat.shape == (28, 28) and heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    # The Grad-CAM of this sample by the shown model, not the gradient map under another title.
    np.testing.assert_allclose(heat, grad_cam(shipped_recognizer, image), atol=1e-4)
    assert np.abs(heat - heat_values(gradient["data"][1])).mean() > 0.05
    assert heat[ink].mean() > heat[~ink].mean()  # it points at the digit, not the background


def test_saliency_explains_the_latest_drawing(mnist):
    import numpy as np

    from app_pages.shared import LAST_DRAWING_KEY

    at = open_explore_page()
    drawing = np.zeros((28, 28), np.float32)
    drawing[4:24, 13:16] = 1.0  # a one, as the Draw page would leave it
    at.session_state[LAST_DRAWING_KEY] = drawing
    at.segmented_control(key="explore_section").set_value("Saliency").run()
    at.segmented_control(key="explore_saliency_source").set_value("My latest drawing").run()
    assert not at.exception, at.exception
    assert any("reads a 1" in m.value for m in at.markdown)


def test_data_section_renders(mnist):
    at = open_explore_page()
    at.segmented_control(key="explore_section").set_value("Data").run()
    assert not at.exception, at.exception
    assert not at.error
    headers = [s.value for s in at.subheader]
    for header in ("Class distribution", "Pixel intensities", "Samples per class", "Mean image per class"):
        assert header in headers
    assert "Augmentation preview" in headers
    assert len(at.image) == 3  # samples grid, mean images, augmentation draws
    classes = next(f for f in figures(at) if len(f["data"]) == 2)
    assert [t["name"] for t in classes["data"]] == ["train", "test"]


@pytest.mark.parametrize("runs", [["deepcnn-mnist-v1", "deepcnn-drawings-v1"]])
def test_compare_two_shipped_runs_shows_both_in_a_table(mnist, runs):
    at = open_explore_page()
    at.segmented_control(key="explore_section").set_value("Compare").run()
    assert "Pick two or more" in texts(at)
    at.multiselect(key="explore_compare").set_value(runs).run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert list(table["run"]) == runs
    assert table["latency (ms)"].notna().all()
    assert len(at.get("plotly_chart")) == 7  # one bar chart per compared figure
    assert at.button(key="explore_build")


def test_ensemble_name_is_checked_before_building(mnist):
    at = open_explore_page()
    at.segmented_control(key="explore_section").set_value("Compare").run()
    at.multiselect(key="explore_compare").set_value(["deepcnn-mnist-v1", "deepcnn-drawings-v1"]).run()
    at.text_input(key="explore_ensemble_name").set_value("bad name/..").run()
    at.button(key="explore_build").click().run()
    assert not at.exception, at.exception
    assert any("letters, digits" in e.value for e in at.error)


def test_the_run_view_says_what_the_model_flags_as_not_a_digit(mnist):
    at = open_explore_page()
    shipped = json.loads((active_model_dir() / "metrics.json").read_text())["not_digit"]
    assert f"{shipped['letters_flagged']:.1%} of clearly-not-digit letters" in texts(at)
    at.selectbox(key="explore_run").set_value(OTHER_RUN).run()
    assert "no “not a digit” class" in texts(at)


def test_the_run_view_says_where_the_draw_page_is_not_sure(mnist, tiny_run, isolated_user_dirs):
    import shutil

    run = shutil.copytree(tiny_run, isolated_user_dirs / "runs" / "unmeasured")
    metrics = json.loads((run / "metrics.json").read_text())
    metrics.pop("calibration", None)  # a run made without the pen-digits file
    (run / "metrics.json").write_text(json.dumps(metrics))
    at = open_explore_page()
    shipped = json.loads((active_model_dir() / "metrics.json").read_text())["calibration"]
    assert f"says “Not sure” under {shipped['unsure_below']:.0%}" in texts(at)
    assert f"{shipped['below']['accuracy']:.1%} of them are right" in texts(at)
    at.selectbox(key="explore_run").set_value("unmeasured").run()
    assert "threshold not measured for this run: the Draw page uses 70%" in texts(at)


def test_number_reader_section_shows_how_the_shipped_strip_reader_was_made_and_scores():
    at = open_explore_page()
    at.segmented_control(key="explore_section").set_value("Number reader").run()
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    assert shown["alone, touching, 4 digits"].endswith("%")
    from recognizer.reading.strip_reader import shipped_reader_facts

    made_by = shipped_reader_facts()["metrics"]["made_by"]
    assert made_by.startswith("digits-train-reader --samples") and made_by in texts(at)  # how it was made
    assert "scatter" in set().union(*trace_types(at))


def percentages(text: str) -> list[float]:
    return [float(n) / 100 for n in re.findall(r"(\d+\.\d+)%", text)]


def test_the_matrix_counts_the_answers_as_read_and_says_what_the_network_alone_reads(shipped_mnist_answers):
    fresh_mnist = shipped_mnist_answers
    edge = fresh_mnist["edge"] / fresh_mnist["samples"] + 0.00005  # and the caption's rounding to 0.01 %
    assert fresh_mnist["alone"] < fresh_mnist["read"]  # the active model reads better with views: the caption explains
    at = open_explore_page()
    assert at.selectbox(key="explore_run").value == active_model_dir().name
    caption = next(c.value for c in at.caption if "network alone" in c.value)
    assert "as the app reads them" in caption
    read, alone = percentages(caption)  # "... as the app reads them (99.70 %). ... reads 99.50 %."
    assert read == pytest.approx(fresh_mnist["read"], abs=edge)
    assert alone == pytest.approx(fresh_mnist["alone"], abs=edge)
    header = next(m.value for m in at.metric if m.label == "MNIST test accuracy")
    assert percentages(header) == [pytest.approx(fresh_mnist["read"], abs=edge)]
    # The matrix shown counts those answers: every cell's number, empty cells blank.
    heatmap = next(f for f in figures(at) if f["data"][0]["type"] == "heatmap")["data"][0]
    shown = np.array([[int(cell) if cell else 0 for cell in row] for row in heatmap["text"]])
    assert shown.shape == (10, 10)
    assert np.abs(shown - fresh_mnist["matrix"]).sum() <= 2 * fresh_mnist["edge"]  # a flipped answer moves two cells
