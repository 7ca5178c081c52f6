"""Explore page: look inside the trained models and the data.

Run: learning curves, a clickable confusion matrix (a cell shows its test samples), per-class metrics,
ROC curves, calibration and an HTML report (``app_pages/explore_run.py``). Saliency: what a model looks
at. Inside the network: a drawing layer by layer (``app_pages/explore_inside.py``). Compare: runs side
by side and an ensemble of them. Data: MNIST at a glance and what augmentation does to a digit.

Everything comes from the run folders on disk (metrics.json, history.json, misclassified.json and the
test probabilities cached by ``recognizer.evaluation``); opening the page never evaluates the test set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from app_pages import cached
from app_pages.explore_inside import INSIDE, inside_view, open_from_link
from app_pages.explore_reader import reader_view
from app_pages.explore_run import (
    SALIENCY_INDEX_KEY,
    SECTION_KEY,
    activate,
    flash,
    keras_run,
    mnist_test_digit,
    run_view,
)
from app_pages.shared import LAST_DRAWING_KEY, enlarged, import_tensorflow, needs_full_install, recognizer_at, tiles
from recognizer.core import paths
from recognizer.core.figures import bar_figure, class_counts_figure, intensity_figure, overlay_figure, probability_chart
from recognizer.core.preprocess import to_unit
from recognizer.core.runs import ModelNotFoundError, list_runs
from recognizer.core.storage import file_stamp
from recognizer.data.mnist import DataError
from recognizer.evaluation import saliency
from recognizer.evaluation.comparison import COLUMNS, comparison_row
from recognizer.training import ensembles
from recognizer.training.config import TrainConfig

SECTIONS = ["Run", "Saliency", INSIDE, "Compare", "Number reader", "Data"]

ss = st.session_state


# ---------------------------------------------------------------------------------------------
# Saliency
# ---------------------------------------------------------------------------------------------


def saliency_input(column) -> tuple[np.ndarray, str] | None:
    """The 28x28 image to explain (a test sample or the latest drawing) and its caption."""
    sources = ["MNIST test sample"] + (["My latest drawing"] if LAST_DRAWING_KEY in ss else [])
    source = st.segmented_control("Explain", sources, default=sources[0], key="explore_saliency_source")
    if source == "My latest drawing":
        return np.asarray(ss[LAST_DRAWING_KEY], dtype=np.float32), "your latest drawing, as the model saw it"
    picked = mnist_test_digit(SALIENCY_INDEX_KEY, column)
    if picked is None:
        return None
    image, index, label = picked
    return image, f"test #{index}: true {label}"


def heat_map(rec, image: np.ndarray, method: str) -> tuple[np.ndarray, str]:
    """The map ``method`` names, and the method used (gradient saliency where Grad-CAM cannot run)."""
    if method == "Grad-CAM":
        heat = saliency.grad_cam(rec, image)
        if heat is not None:
            return heat, method
        st.info("Grad-CAM needs a convolutional layer, and this model has none: showing gradient saliency.")
    return saliency.saliency_map(rec, image), "Gradient saliency"


def saliency_view(runs: list[dict]) -> None:
    run = keras_run(runs, "Saliency (the network's gradients)")
    if run is None:
        return
    st.caption(
        "Explains an MNIST test sample (pick one here, or press *Explain* under a sample of the confusion "
        "matrix) or your latest drawing on the Draw page."
    )
    a, b = st.columns(2)
    chosen = saliency_input(a)
    if chosen is None:
        return
    image, caption = chosen
    method = b.segmented_control(
        "Method", ["Gradient saliency", "Grad-CAM"], default="Gradient saliency", key="explore_saliency_method"
    )
    rec = recognizer_at(run["path"])
    if rec is None:
        return
    proba = rec.predict_proba(image[None])[0]
    heat, method = heat_map(rec, image, method)
    cols = st.columns([1, 1, 2])
    cols[0].image(enlarged(image, 6), caption=caption, width=200)
    cols[1].plotly_chart(overlay_figure(image, np.asarray(heat), method), key="explore_overlay")
    with cols[2]:
        st.markdown(f"**{run['name']} reads a {int(proba.argmax())}** ({proba.max():.1%})")
        st.plotly_chart(probability_chart(proba, height=260), width="stretch", key="explore_saliency_proba")


# ---------------------------------------------------------------------------------------------
# Compare
# ---------------------------------------------------------------------------------------------

PERCENT = st.column_config.NumberColumn(format="percent")
COMPARE_FORMATS = {  # row field -> (number format in the table, chart title, chart format)
    "test_accuracy": (PERCENT, "MNIST test accuracy", ".2%"),
    "pen_holdout_accuracy": (PERCENT, "Pen hold-out accuracy", ".2%"),
    "styled_worst": (PERCENT, "Worst way of writing 1, 7 or 0", ".1%"),
    "parameters": (st.column_config.NumberColumn(format="localized"), "Parameters", ",d"),
    "size_mb": (st.column_config.NumberColumn(format="%.1f"), "Size (MB)", ".1f"),
    "training_seconds": (st.column_config.NumberColumn(format="%.0f"), "Training time (min)", ".1f"),
    "latency_ms": (st.column_config.NumberColumn(format="%.2f"), "Latency (ms per image)", ".2f"),
}


def comparison_rows(selected: list[dict], timing: bool) -> list[dict]:
    return [
        comparison_row(
            r["path"],
            cached.run_file(r["path"], "metrics.json") or {},
            cached.latency_ms(r["path"]) if timing else None,
        )
        for r in selected
    ]


def comparison_charts(rows: list[dict]) -> None:
    names = [row["run"] for row in rows]
    cols = st.columns(3)
    for n, (field, (_, title, fmt)) in enumerate(COMPARE_FORMATS.items()):
        values = [row[field] for row in rows]
        if field == "training_seconds":
            values = [None if v is None else v / 60 for v in values]
        with cols[n % 3]:
            st.plotly_chart(bar_figure(names, values, title, fmt), width="stretch", key=f"explore_bar_{field}")


def compare_view(runs: list[dict]) -> None:
    names = [r["name"] for r in runs]
    chosen = st.multiselect("Runs to compare", names, key="explore_compare", placeholder="pick two or more runs")
    if len(chosen) < 2:
        st.info("Pick two or more runs to compare them.")
        return
    selected = [next(r for r in runs if r["name"] == n) for n in chosen]
    timing = st.toggle("Measure latency (loads each model)", value=True)
    rows = comparison_rows(selected, timing)
    st.dataframe(
        pd.DataFrame(rows).rename(columns=COLUMNS),
        hide_index=True,
        width="stretch",
        column_config={COLUMNS[field]: formats[0] for field, formats in COMPARE_FORMATS.items()},
    )
    comparison_charts(rows)
    ensemble_form(selected, names)


def ensemble_form(selected: list[dict], names: list[str]) -> None:
    st.subheader("Ensemble")
    if needs_full_install("Building an ensemble"):
        return
    st.caption("Averages the probabilities of the selected runs in one new run, which you can then activate.")
    a, b = st.columns([3, 1])
    name = a.text_input("Name", value=f"ensemble-{len(selected)}-runs", key="explore_ensemble_name").strip()
    b.space("small")
    if b.button("Build ensemble", key="explore_build", width="stretch"):
        build_ensemble(selected, name, names)
    built = ss.get("explore_built")
    if built and Path(built).is_dir():
        st.success(f"Built {Path(built).name}; it is in the run list now.")
        st.button("Make it active", key="explore_activate_built", on_click=activate, args=(built, Path(built).name))


def build_ensemble(selected: list[dict], name: str, names: list[str]) -> None:
    """Build the ensemble run, or say why not (the library checks the name before any work)."""
    if name in names:  # a shipped model of that name would make two runs look alike
        st.error(f"A run called {name} exists already: pick another name.")
        return
    try:
        with st.spinner("Building the ensemble…"):
            built = ensembles.build_ensemble([Path(r["path"]) for r in selected], paths.runs_dir(), name)
    except (ValueError, OSError, ModelNotFoundError) as exc:
        st.error(f"Could not build the ensemble: {exc}")
    else:
        ss["explore_built"] = str(built)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def data_view() -> None:
    folder = cached.mnist_folder()
    if folder is None:
        st.warning("MNIST is not at hand: set DIGITS_DATA_DIR to a folder with the four MNIST IDX gz files.")
        return
    try:
        summary = cached.mnist_summary(str(folder), file_stamp(folder))
    except DataError as exc:
        st.error(f"MNIST could not be read: {exc}")
        return
    left, right = st.columns(2)
    with left:
        st.subheader("Class distribution")
        figure = class_counts_figure(summary["train_counts"], summary["test_counts"])
        st.plotly_chart(figure, width="stretch", key="explore_classes")
    with right:
        st.subheader("Pixel intensities")
        counts = summary["intensity"]
        st.plotly_chart(intensity_figure(counts), width="stretch", key="explore_intensity")
        st.caption(f"{counts[0] / counts.sum():.0%} of the training pixels are pure background.")
    left, right = st.columns(2)
    with left:
        st.subheader("Samples per class")
        st.image(tiles(to_unit(summary["samples"]), 2), caption="Ten training images of each digit, one row per digit")
    with right:
        st.subheader("Mean image per class")
        means = summary["means"] / summary["means"].max(axis=(1, 2), keepdims=True)
        st.image(tiles(means.reshape(2, 5, 28, 28), 3), caption="The average training image of each digit")
    augmentation_preview(summary)


def augmentation_preview(summary: dict) -> None:
    config = TrainConfig()
    st.subheader("Augmentation preview")
    if needs_full_install("The augmentation preview"):
        return
    st.caption(
        f"Random affine transforms with the training defaults: rotation ±{config.rotation:g}°, "
        f"zoom ±{config.zoom:.0%}, shift ±{config.shift:.0%}, shear ±{config.shear:g}°. Each rerun draws anew."
    )
    a, b = st.columns([3, 1])
    n = int(a.number_input("Training image", 0, len(summary["example"]) - 1, 0, key="explore_aug_index"))
    b.space("small")
    b.button("New draws", key="explore_aug_redraw", width="stretch")
    image = to_unit(summary["example"][n])
    batch = np.repeat(image[None, :, :, None], 8, axis=0)
    import_tensorflow()  # before the module that imports it (see import_tensorflow)
    from recognizer.training.augment import random_affine

    drawn = np.asarray(random_affine(batch, config.rotation, config.zoom, config.shift, config.shear))[..., 0]
    row = np.concatenate([image[None], drawn])[None]  # the original first
    st.image(tiles(row, 3), caption=f"A {int(summary['example_labels'][n])}: the original, then eight random draws")


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------

st.title("Explore")
flash()
try:
    RUNS = list_runs()
except OSError as exc:
    RUNS = []
    st.error(f"The runs could not be listed: {exc}")
open_from_link()  # the Draw page's "See inside the network"
ss.setdefault(SECTION_KEY, "Run")
section = st.segmented_control("Section", SECTIONS, key=SECTION_KEY, label_visibility="collapsed") or "Run"
if section == "Data":
    data_view()
elif section == "Number reader":
    reader_view()
elif not RUNS:
    st.info("No trained runs yet: train one on the Train page.")
elif section == "Run":
    run_view(RUNS)
elif section == "Saliency":
    saliency_view(RUNS)
elif section == INSIDE:
    inside_view(RUNS)
else:
    compare_view(RUNS)
