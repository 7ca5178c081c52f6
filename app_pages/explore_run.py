"""The Explore page's Run section: one run's metrics, curves, confusion matrix and calibration. Not a page itself.

A click on a confusion-matrix cell stores the cell in session state (``CELL_KEY``); the cell's test
samples then show under the matrix, each with an *Explain* button that opens the Saliency section.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from app_pages import cached
from app_pages.shared import duration_text, enlarged, import_tensorflow, needs_full_install
from recognizer.core.figures import (
    confidence_figure,
    confusion_figure,
    learning_curves_figure,
    probability_chart,
    reliability_figure,
    roc_figure,
)
from recognizer.core.preprocess import to_unit
from recognizer.core.runs import BATCHES_FILE, ModelNotFoundError, set_active
from recognizer.core.storage import file_stamp
from recognizer.evaluation import curves
from recognizer.evaluation.metrics import CellSamples, cell_samples

GRID_SAMPLES = 8  # test samples shown for a confusion-matrix cell
GRID_COLUMNS = 4
CELL_KEY = "explore_cell"  # {"run", "true", "pred"}: the confusion cell whose samples are shown
SALIENCY_INDEX_KEY = "explore_saliency_index"
SECTION_KEY = "explore_section"
FLASH_KEY = "explore_flash"
NO_MNIST = "The MNIST test images are not at hand (set DIGITS_DATA_DIR to the MNIST folder)."

ss = st.session_state


def flash() -> None:
    """The message an action left for this rerun (activation done or failed)."""
    if FLASH_KEY in ss:
        kind, message = ss.pop(FLASH_KEY)
        getattr(st, kind)(message)


def activate(run_dir: str, name: str) -> None:
    try:
        set_active(run_dir)
    except (ModelNotFoundError, OSError) as exc:
        ss[FLASH_KEY] = ("error", f"Could not activate {name}: {exc}")
    else:
        ss[FLASH_KEY] = ("success", f"{name} is now the active model.")


def mnist_test_digit(key: str, place=st) -> tuple[np.ndarray, int, int] | None:
    """An MNIST test image the visitor picks by its index (widget ``key``, in ``place``): the image
    scaled to 0..1, its index and its label; None without MNIST (the page says so)."""
    data = cached.mnist_test()
    if data is None:
        st.warning(NO_MNIST)
        return None
    x_test, y_test = data
    index = int(place.number_input("MNIST test index", 0, len(x_test) - 1, key=key, step=1))
    return to_unit(x_test[index]), index, int(y_test[index])


def keras_run(runs: list[dict], what: str) -> dict | None:
    """The run a section that reads the Keras model works on (the visitor picks it), once
    TensorFlow is imported; None when this install has no TensorFlow: the page says so, naming
    ``what`` needs it."""
    if needs_full_install(what):
        return None
    import_tensorflow()  # the section loads the Keras model: never beside another thread's import
    return pick_run(runs)


def pick_run(runs: list[dict]) -> dict:
    names = [r["name"] for r in runs]
    active = next((r["name"] for r in runs if r["active"]), names[0])
    if ss.get("explore_run") not in names:
        ss["explore_run"] = active
    name = st.selectbox(
        "Run",
        names,
        key="explore_run",
        format_func=lambda n: f"{n} (active)" if n == active else n,
        persist_state="session",
    )
    return next(r for r in runs if r["name"] == name)


def run_header(run: dict) -> None:
    # Four wide columns: five (with the buttons) cut a training time such as "42 min 05 s" short.
    cols = st.columns(4)
    acc, pen = run.get("test_accuracy"), run.get("pen_holdout_accuracy")
    cols[0].metric("MNIST test accuracy", "–" if acc is None else f"{acc:.2%}")
    cols[1].metric("Pen hold-out accuracy", "–" if pen is None else f"{pen:.2%}")
    cols[2].metric("Parameters", "–" if run.get("parameters") is None else f"{run['parameters']:,}")
    cols[3].metric("Training time", duration_text(run.get("training_seconds")))
    report, active, _ = st.columns([1, 1, 2], vertical_alignment="center")
    with report:
        report_button(run)
    if run["active"]:
        active.caption("This is the active model.")
    else:
        active.button(
            "Make active", key="explore_activate", on_click=activate, args=(run["path"], run["name"]), width="stretch"
        )
    not_digit_caption(run.get("not_digit"))


def not_digit_caption(figures: dict | None) -> None:
    """What an 11-class model flags "not a digit" among held-out writers' drawings."""
    if not figures:
        st.caption("This model has no “not a digit” class: it reads any ink as a digit.")
        return
    parts = [f"{figures['two_digits_flagged']:.1%} of two-digit drawings"]
    if "letters_flagged" in figures:
        parts.insert(0, f"{figures['letters_flagged']:.1%} of clearly-not-digit letters")
    st.caption(
        "Not a digit, held-out writers: flags "
        + ", ".join(parts)
        + f", and {figures['digits_flagged']:.1%} of single digits (wrongly)."
    )


def report_button(run: dict) -> None:
    run_dir = run["path"]
    stamp = file_stamp(Path(run_dir) / "metrics.json")

    def build() -> str:
        try:
            return cached.html_report(run_dir, stamp)
        except Exception as exc:  # noqa: BLE001 -- runs on a download thread; the file then says what went wrong
            return f"<!doctype html><html><body><p>The report could not be built: {exc}</p></body></html>"

    st.download_button(
        "Download report",
        data=build,
        file_name=f"{run['name']}-report.html",
        mime="text/html",
        on_click="ignore",
        icon="📄",
        width="stretch",
        key="explore_report",
    )


def learning_curves(run: dict) -> None:
    history = cached.run_file(run["path"], "history.json")
    if not isinstance(history, dict) or not history.get("loss"):
        st.info("This run has no learning curves (history.json is missing or empty).")
        return
    curve = cached.run_file(run["path"], BATCHES_FILE)  # runs trained before it was kept have none
    figure = learning_curves_figure(history, curve if isinstance(curve, dict) else None)
    st.plotly_chart(figure, width="stretch", key="explore_curves")


def confusion_matrix(run: dict, cm: np.ndarray) -> None:
    """The clickable matrix; a click stores the cell whose samples show below."""
    mode = st.segmented_control(
        "Show", ["Counts", "Row-normalised"], default="Counts", key="explore_cm_mode", persist_state="session"
    )
    event = st.plotly_chart(
        confusion_figure(cm, mode == "Row-normalised"),
        width="stretch",
        on_select="rerun",
        selection_mode="points",
        key=f"explore_cm_{run['name']}",
    )
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if points:
        point = points[0]
        ss[CELL_KEY] = {"run": run["name"], "true": int(round(point["y"])), "pred": int(round(point["x"]))}
    st.caption("Click a cell to see its test samples.")


def confusion_tables(metrics: dict) -> None:
    st.markdown("**Top confusions**")
    top = metrics.get("top_confusions") or []
    if top:
        frame = pd.DataFrame(top).rename(columns={"true": "true digit", "predicted": "read as"})
        st.dataframe(frame, hide_index=True, width="stretch", height=260)
    else:
        st.caption("No confusions.")
    st.markdown("**Per class**")
    per_class = metrics.get("per_class") or []
    if per_class:
        percent = st.column_config.NumberColumn(format="percent")
        st.dataframe(
            pd.DataFrame(per_class).rename(columns={"class": "digit"}),
            hide_index=True,
            width="stretch",
            column_config={k: percent for k in ("precision", "recall", "f1")},
        )


def views_caption(metrics: dict) -> None:
    """Which answers the matrix counts, when the network alone and the app's reading differ.

    Runs re-measured by an older ``digits-evaluate --write-metrics`` kept the network alone's matrix
    under the app's accuracy, so the caption says which one the matrix matches."""
    net, read = metrics.get("network_accuracy"), metrics.get("test_accuracy")
    cm = np.asarray(metrics.get("confusion_matrix") or [[0]], dtype=float)
    if not (isinstance(net, (int, float)) and isinstance(read, (int, float))) or net == read or cm.sum() == 0:
        return
    looks = "The app looks again at unsure images from five views"
    if np.isclose(np.trace(cm) / cm.sum(), read):
        st.caption(
            f"The matrix and the per-class figures count the answers as the app reads them ({read:.2%}). "
            f"{looks}; the network alone, one look per image, reads {net:.2%}."
        )
    else:
        st.caption(
            f"The matrix and the per-class figures are the network alone, one look per image "
            f"({net:.2%}). {looks}, which reads {read:.2%}."
        )


def confusion_section(run: dict, metrics: dict) -> None:
    cm = metrics.get("confusion_matrix")
    if not cm:
        st.info("This run's metrics.json has no confusion matrix.")
        return
    cm = np.asarray(cm, dtype=int)
    views_caption(metrics)
    left, right = st.columns([3, 2])
    with left:
        confusion_matrix(run, cm)
    with right:
        confusion_tables(metrics)
    cell = ss.get(CELL_KEY)
    if cell and cell.get("run") == run["name"]:
        sample_grid(run, cell["true"], cell["pred"], cm)


def _explain(index: int) -> None:
    ss[SALIENCY_INDEX_KEY] = index
    ss[SECTION_KEY] = "Saliency"


def _grid_note(true: int, pred: int, samples: CellSamples) -> str:
    if samples.least_sure_first:
        return "The least confident correct answers first."
    if true == pred:
        return "A sample of the correct ones; compute the test probabilities below to see their bars."
    return ""


def sample_grid(run: dict, true: int, pred: int, cm: np.ndarray) -> None:
    """The test samples of one confusion cell, each with its true and predicted digit and probabilities."""
    head, close = st.columns([6, 1])
    head.subheader(f"True {true}, predicted {pred}: {cm[true, pred]} test samples")
    if close.button("Close", key="explore_cell_close", width="stretch"):
        ss.pop(CELL_KEY, None)
        st.rerun()
    data = cached.mnist_test()
    if data is None:
        st.warning(NO_MNIST)
        return
    x_test, y_test = data
    misclassified = cached.run_file(run["path"], "misclassified.json") or {}
    proba = cached.test_probabilities(run["path"]) if true == pred else None
    samples = cell_samples(true, pred, y_test, misclassified, proba, shown=GRID_SAMPLES)
    if not samples.indices:
        st.info("No test samples in this cell.")
        return
    shown = samples.indices[:GRID_SAMPLES]
    st.caption(f"Showing {len(shown)} of {len(samples.indices)}. {_grid_note(true, pred, samples)}")
    cols = st.columns(GRID_COLUMNS)
    for n, index in enumerate(shown):
        with cols[n % GRID_COLUMNS], st.container(border=True):
            caption = f"test #{index}: true {int(y_test[index])}, predicted {pred}"
            st.image(enlarged(to_unit(x_test[index]), 4), caption=caption, width=112)
            if samples.probabilities is not None:
                chart = probability_chart(samples.probabilities[n], height=190)
                st.plotly_chart(chart, width="stretch", key=f"grid_{index}")
            st.button("Explain", key=f"explain_{index}", on_click=_explain, args=(int(index),))


def _computed_probabilities(run: dict) -> np.ndarray | None:
    """The run's test probabilities; when none are saved, computed only at the user's request."""
    if not cached.probabilities_on_disk(run["path"]):
        st.caption("No saved test probabilities for this run: computing them runs the model on 10,000 images once.")
        if not st.button("Compute test probabilities", key="explore_compute_proba"):
            return None
        with st.spinner("Running the model on the 10,000 test images…"):
            cached.test_probabilities(run["path"], compute=True)
    return cached.test_probabilities(run["path"])


def unsure_caption(calibration) -> None:
    """The run's calibration on held-out pen digits and the "Not sure" threshold measured from it."""
    from recognizer.reading.not_sure import DEFAULT_NOT_SURE_BELOW, not_sure_below

    if not isinstance(calibration, dict) or not isinstance(calibration.get("pen_ece"), int | float):
        st.caption(f"“Not sure” threshold not measured for this run: the Draw page uses {DEFAULT_NOT_SURE_BELOW:.0%}.")
        return
    text = f"Held-out writers' pen digits: expected calibration error {calibration['pen_ece']:.2%}. "
    threshold = not_sure_below({"calibration": calibration})
    below, above = calibration.get("below"), calibration.get("above")
    if threshold == 0.0:
        text += (
            "No threshold singles out doubtful answers (right at most half as often as the rest): "
            "the Draw page never says “Not sure”."
        )
    elif isinstance(below, dict) and isinstance(above, dict):
        text += (
            f"The Draw page says “Not sure” under {threshold:.0%}: {below['share']:.1%} of answers fall there "
            f"and {below['accuracy']:.1%} of them are right, against {above['accuracy']:.2%} above."
        )
    st.caption(text)


def calibration_section(run: dict, metrics: dict) -> None:
    st.subheader("ROC and calibration")
    unsure_caption(metrics.get("calibration"))
    data = cached.mnist_test()
    if data is None:
        st.info("Needs the MNIST test labels (set DIGITS_DATA_DIR to the MNIST folder).")
        return
    proba = _computed_probabilities(run)
    if proba is None:
        return
    y_test = data[1]
    figures = {
        "explore_roc": roc_figure(curves.roc_curves(y_test, proba)),
        "explore_rel": reliability_figure(curves.reliability(y_test, proba)),
        "explore_conf": confidence_figure(curves.confidence_histogram(y_test, proba)),
    }
    for col, (key, fig) in zip(st.columns(3), figures.items(), strict=True):
        with col:
            st.plotly_chart(fig, width="stretch", key=key)


def run_view(runs: list[dict]) -> None:
    run = pick_run(runs)
    metrics = cached.run_file(run["path"], "metrics.json") or {}
    run_header(run)
    st.subheader("Learning curves")
    learning_curves(run)
    st.subheader("Confusion matrix")
    confusion_section(run, metrics)
    calibration_section(run, metrics)
