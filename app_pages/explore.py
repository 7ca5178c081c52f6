"""Explore page: look inside the trained models and the data.

Run: learning curves, a clickable confusion matrix (a cell shows its test samples), per-class metrics,
ROC curves, calibration and an HTML report. Saliency: what a model looks at. Compare: runs side by side
and an ensemble of them. Data: MNIST at a glance and what augmentation does to a digit.

Everything comes from the run folders on disk (metrics.json, history.json, misclassified.json and the
test probabilities cached by ``recognizer.analysis``); opening the page never evaluates the test set.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app_pages.shared import (
    LAST_DRAWING_KEY,
    duration_text,
    enlarged,
    learning_curves_figure,
    probability_chart,
    recognizer_at,
)
from recognizer import paths
from recognizer.data import DataError, find_mnist_dir, load_mnist
from recognizer.runs import ModelNotFoundError, list_runs, set_active
from recognizer.storage import read_json
from recognizer.train import TrainConfig

try:
    from recognizer import analysis
except ImportError:  # the analysis library is still being written
    analysis = None

SECTIONS = ["Run", "Saliency", "Compare", "Data"]
GRID_SAMPLES = 8  # test samples shown for a confusion-matrix cell
GRID_COLUMNS = 4
CELL_KEY = "explore_cell"  # {"run", "true", "pred"}: the confusion cell whose samples are shown
SALIENCY_INDEX_KEY = "explore_saliency_index"
SECTION_KEY = "explore_section"
FLASH_KEY = "explore_flash"
COMING = "Coming soon: this needs `recognizer.analysis`, which is not installed yet."

ss = st.session_state


# ---------------------------------------------------------------------------------------------
# Cached reads (keyed by path + mtime, so a re-written file is read afresh)
# ---------------------------------------------------------------------------------------------


def _stamp(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@st.cache_data(show_spinner=False, max_entries=64)
def _json_at(path: str, stamp: float):
    return read_json(path)


def run_file(run_dir: str, name: str):
    """A JSON file of a run folder, or None when missing or unreadable."""
    path = Path(run_dir) / name
    try:
        return _json_at(str(path), _stamp(path))
    except (OSError, ValueError):
        return None


def _mnist_folder() -> Path | None:
    try:
        return find_mnist_dir(download=False)
    except DataError:
        return None


@st.cache_data(show_spinner="Loading the MNIST test set…", max_entries=2)
def _mnist_test(folder: str, stamp: float) -> tuple[np.ndarray, np.ndarray]:
    _, (x_test, y_test) = load_mnist(folder, download=False)
    return x_test, y_test


def mnist_test() -> tuple[np.ndarray, np.ndarray] | None:
    folder = _mnist_folder()
    if folder is None:
        return None
    try:
        return _mnist_test(str(folder), _stamp(folder))
    except DataError:
        return None


@st.cache_data(show_spinner="Summarising MNIST…", max_entries=2)
def _mnist_summary(folder: str, stamp: float) -> dict:
    (x_train, y_train), (x_test, y_test) = load_mnist(folder, download=False)
    rng = np.random.default_rng(0)
    samples = np.stack([x_train[rng.choice(np.flatnonzero(y_train == d), 10, replace=False)] for d in range(10)])
    return {
        "train_counts": np.bincount(y_train, minlength=10),
        "test_counts": np.bincount(y_test, minlength=10),
        "samples": samples,  # (10 classes, 10, 28, 28) uint8
        "means": np.stack([x_train[y_train == d].mean(axis=0) / 255 for d in range(10)]),
        "intensity": np.bincount(x_train.ravel(), minlength=256),
        "example": x_train[:200],
        "example_labels": y_train[:200],
    }


@st.cache_data(show_spinner="Reading the test probabilities…", max_entries=8)
def _test_probabilities(run_dir: str, stamp: float) -> np.ndarray:
    return analysis.test_probabilities(run_dir)


def probabilities_on_disk(run_dir: str) -> bool:
    """Whether the run's test probabilities can be read without evaluating the test set."""
    if analysis is None:
        return False
    try:
        own = Path(run_dir) / analysis.PROBABILITIES_FILE
        return own.is_file() or analysis.probabilities_cache_path(run_dir).is_file()
    except (OSError, ModelNotFoundError):
        return False


def test_probabilities(run_dir: str, compute: bool = False) -> np.ndarray | None:
    """The run's MNIST test probabilities; None unless on disk (or ``compute``: evaluate once and cache)."""
    if analysis is None or not (compute or probabilities_on_disk(run_dir)):
        return None
    try:
        return _test_probabilities(run_dir, _stamp(Path(run_dir) / "model.keras"))
    except (OSError, ValueError, DataError, ModelNotFoundError) as exc:
        st.warning(f"No test probabilities for this run: {exc}")
        return None


@st.cache_data(show_spinner="Timing the model…", max_entries=32)
def _latency(run_dir: str, stamp: float) -> float | None:
    rec = recognizer_at(run_dir)
    return None if rec is None else float(analysis.measure_latency(rec))


@st.cache_data(show_spinner=False, max_entries=8)
def _report(run_dir: str, stamp: float) -> str:
    return analysis.html_report(run_dir)


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def confusion_figure(cm: np.ndarray, normalised: bool) -> go.Figure:
    """The confusion matrix as a heatmap (log colour scale, so the few errors show), clickable per cell.

    Plotly heatmaps send no point-selection events, so a transparent marker sits on every cell centre:
    clicking a cell selects its marker, whose x and y are the predicted and true digit.
    """
    rows = np.maximum(cm.sum(axis=1, keepdims=True), 1)
    rates = cm / rows
    colour = np.log10(np.maximum(rates, 1e-4))  # the same colours either way: 1e-4 (or 0) .. 1
    text = [
        ["" if cm[t, p] == 0 else (f"{rates[t, p]:.1%}" if normalised else str(cm[t, p])) for p in range(10)]
        for t in range(10)
    ]
    digits = list(range(10))
    fig = go.Figure(
        go.Heatmap(
            z=colour,
            x=digits,
            y=digits,
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=11),
            colorscale="Blues",
            zmin=-4,
            zmax=0,
            showscale=False,
            hoverinfo="skip",
        )
    )
    tt, pp = np.meshgrid(digits, digits, indexing="ij")
    fig.add_trace(
        go.Scatter(
            x=pp.ravel(),
            y=tt.ravel(),
            mode="markers",
            marker=dict(symbol="square", size=34, color="rgba(0,0,0,0)"),
            customdata=np.stack([cm.ravel(), rates.ravel()], axis=1),
            hovertemplate="true %{y}, predicted %{x}<br>%{customdata[0]} samples (%{customdata[1]:.2%} of the row)"
            "<extra>click for the samples</extra>",
            showlegend=False,
        )
    )
    fig.update_layout(
        height=520,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(
            title="predicted",
            tickmode="array",
            tickvals=digits,
            range=[-0.5, 9.5],
            side="top",
            showgrid=False,
            zeroline=False,
        ),
        yaxis=dict(
            title="true",
            tickmode="array",
            tickvals=digits,
            range=[9.5, -0.5],
            scaleanchor="x",
            showgrid=False,
            zeroline=False,
        ),
        hovermode="closest",
        hoverdistance=-1,  # a click anywhere in a cell picks that cell's marker
        clickmode="event+select",
    )
    return fig


def roc_figure(curves: dict) -> go.Figure:
    fig = go.Figure()
    for digit, c in sorted(curves.items(), key=lambda kv: int(kv[0])):
        fig.add_trace(go.Scatter(x=c["fpr"], y=c["tpr"], mode="lines", name=f"{digit} (AUC {c['auc']:.4f})"))
    fig.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#9aa5b1", dash="dot"), showlegend=False)
    )
    fig.update_layout(
        height=380,
        margin=dict(l=10, r=10, t=30, b=10),
        title="One-vs-rest ROC",
        xaxis=dict(title="false positive rate", type="log", range=[-5, 0]),
        yaxis=dict(title="true positive rate"),
    )
    return fig


def reliability_figure(rel: dict) -> go.Figure:
    edges = np.asarray(rel["bin_edges"], dtype=float)
    centres = (edges[:-1] + edges[1:]) / 2
    counts = np.asarray(rel["count"])
    acc = [a if n else None for a, n in zip(rel["accuracy"], counts, strict=False)]
    fig = go.Figure(
        go.Bar(
            x=centres,
            y=acc,
            width=np.diff(edges) * 0.9,
            name="accuracy",
            marker_color="#1f77b4",
            customdata=counts,
            hovertemplate="confidence %{x:.2f}<br>accuracy %{y:.2%}<br>%{customdata} samples<extra></extra>",
        )
    )
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#e4572e", dash="dot"), name="ideal"))
    fig.update_layout(
        height=380,
        margin=dict(l=10, r=10, t=30, b=10),
        title=f"Reliability (ECE {rel['ece']:.3%})",
        xaxis=dict(title="confidence", range=[0, 1]),
        yaxis=dict(title="accuracy", range=[0, 1.02], tickformat=".0%"),
        showlegend=False,
    )
    return fig


def confidence_figure(hist: dict) -> go.Figure:
    edges = np.asarray(hist["bin_edges"], dtype=float)
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure()
    for name, color in (("correct", "#1f77b4"), ("wrong", "#e4572e")):
        fig.add_trace(go.Bar(x=centres, y=hist[name], name=name, marker_color=color, width=np.diff(edges) * 0.9))
    fig.update_layout(
        height=380,
        margin=dict(l=10, r=10, t=30, b=10),
        title="Confidence of the answers",
        barmode="overlay",
        xaxis=dict(title="confidence (top probability)"),
        yaxis=dict(title="test samples", type="log"),
        legend=dict(orientation="h", y=-0.25),
    )
    return fig


def overlay_figure(image: np.ndarray, heat: np.ndarray, title: str) -> go.Figure:
    """A digit in greys with a heat map over it."""
    fig = go.Figure(go.Heatmap(z=image, colorscale="Greys", reversescale=True, showscale=False, hoverinfo="skip"))
    fig.add_trace(
        go.Heatmap(
            z=heat,
            colorscale="Inferno",
            zmin=0,
            zmax=1,
            opacity=0.55,
            showscale=False,
            hovertemplate="x %{x}, y %{y}: %{z:.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=300,
        width=300,
        title=title,
        margin=dict(l=0, r=0, t=30, b=0),
        xaxis=dict(visible=False),
        yaxis=dict(visible=False, autorange="reversed", scaleanchor="x"),
    )
    return fig


def bar_figure(names: list[str], values: list, title: str, fmt: str) -> go.Figure:
    fig = go.Figure(
        go.Bar(
            x=names,
            y=values,
            marker_color="#1f77b4",
            text=[("–" if v is None else format(v, fmt)) for v in values],
            textposition="outside",
        )
    )
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=40, b=10), title=title, yaxis=dict(visible=False))
    return fig


def tiles(images: np.ndarray, scale: int = 3) -> np.ndarray:
    """A (rows, cols, 28, 28) stack of 0..1 images as one picture, a thin gap between digits."""
    rows, cols = images.shape[:2]
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=0.35)
    return enlarged(padded.transpose(0, 2, 1, 3).reshape(rows * 30, cols * 30), scale)


# ---------------------------------------------------------------------------------------------
# Run view
# ---------------------------------------------------------------------------------------------


def _flash() -> None:
    if FLASH_KEY in ss:
        kind, message = ss.pop(FLASH_KEY)
        getattr(st, kind)(message)


def _activate(run_dir: str, name: str) -> None:
    try:
        set_active(run_dir)
    except (ModelNotFoundError, OSError) as exc:
        ss[FLASH_KEY] = ("error", f"Could not activate {name}: {exc}")
    else:
        ss[FLASH_KEY] = ("success", f"{name} is now the active model.")


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
    cols = st.columns(5)
    acc, pen = run.get("test_accuracy"), run.get("pen_holdout_accuracy")
    cols[0].metric("MNIST test accuracy", "–" if acc is None else f"{acc:.2%}")
    cols[1].metric("Pen hold-out accuracy", "–" if pen is None else f"{pen:.2%}")
    cols[2].metric("Parameters", "–" if run.get("parameters") is None else f"{run['parameters']:,}")
    cols[3].metric("Training time", duration_text(run.get("training_seconds")))
    with cols[4]:
        report_button(run)
        if run["active"]:
            st.caption("This is the active model.")
        else:
            st.button(
                "Make active",
                key="explore_activate",
                on_click=_activate,
                args=(run["path"], run["name"]),
                width="stretch",
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
    if analysis is None:
        st.caption("HTML report: " + COMING)
        return
    run_dir = run["path"]
    stamp = _stamp(Path(run_dir) / "metrics.json")

    def build() -> str:
        try:
            return _report(run_dir, stamp)
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
    history = run_file(run["path"], "history.json")
    if not isinstance(history, dict) or not history.get("loss"):
        st.info("This run has no learning curves (history.json is missing or empty).")
        return
    st.plotly_chart(learning_curves_figure(history), width="stretch", key="explore_curves")


def confusion_section(run: dict, metrics: dict) -> None:
    cm = metrics.get("confusion_matrix")
    if not cm:
        st.info("This run's metrics.json has no confusion matrix.")
        return
    cm = np.asarray(cm, dtype=int)
    left, right = st.columns([3, 2])
    with left:
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
    with right:
        st.markdown("**Top confusions**")
        top = metrics.get("top_confusions") or []
        if top:
            frame = pd.DataFrame(top).rename(columns={"true": "true digit", "predicted": "read as", "count": "count"})
            st.dataframe(frame, hide_index=True, width="stretch", height=260)
        else:
            st.caption("No confusions.")
        st.markdown("**Per class**")
        per_class = metrics.get("per_class") or []
        if per_class:
            frame = pd.DataFrame(per_class).rename(columns={"class": "digit"})
            st.dataframe(
                frame,
                hide_index=True,
                width="stretch",
                column_config={
                    k: st.column_config.NumberColumn(format="percent") for k in ("precision", "recall", "f1")
                },
            )
    cell = ss.get(CELL_KEY)
    if cell and cell.get("run") == run["name"]:
        sample_grid(run, cell["true"], cell["pred"], cm)


def _explain(index: int) -> None:
    ss[SALIENCY_INDEX_KEY] = index
    ss[SECTION_KEY] = "Saliency"


def sample_grid(run: dict, true: int, pred: int, cm: np.ndarray) -> None:
    """The test samples of one confusion cell, each with its true and predicted digit and probabilities."""
    head, close = st.columns([6, 1])
    head.subheader(f"True {true}, predicted {pred}: {cm[true, pred]} test samples")
    if close.button("Close", key="explore_cell_close", width="stretch"):
        ss.pop(CELL_KEY, None)
        st.rerun()
    data = mnist_test()
    if data is None:
        st.warning("The MNIST test images are not at hand (set DIGITS_DATA_DIR to the MNIST folder).")
        return
    x_test, y_test = data
    probabilities: np.ndarray | None = None
    if true != pred:
        misc = run_file(run["path"], "misclassified.json") or {}
        rows = [
            (i, pr)
            for i, t, p, pr in zip(
                misc.get("index", []),
                misc.get("true", []),
                misc.get("predicted", []),
                misc.get("probabilities", []),
                strict=False,
            )
            if t == true and p == pred
        ]
        indices = [i for i, _ in rows]
        probabilities = np.asarray([pr for _, pr in rows[:GRID_SAMPLES]]) if rows else None
        note = ""
    else:
        proba = test_probabilities(run["path"])
        if proba is not None:
            right = np.flatnonzero((y_test == true) & (proba.argmax(axis=1) == true))
            indices = right[np.argsort(proba[right, true])].tolist()  # the least sure first
            probabilities = proba[indices[:GRID_SAMPLES]]
            note = "The least confident correct answers first."
        else:
            wrong = set((run_file(run["path"], "misclassified.json") or {}).get("index", []))
            indices = [int(i) for i in np.flatnonzero(y_test == true) if int(i) not in wrong]
            note = "A sample of the correct ones; compute the test probabilities below to see their bars."
    if not indices:
        st.info("No test samples in this cell.")
        return
    shown = indices[:GRID_SAMPLES]
    st.caption(f"Showing {len(shown)} of {len(indices)}. {note}")
    cols = st.columns(GRID_COLUMNS)
    for n, index in enumerate(shown):
        with cols[n % GRID_COLUMNS], st.container(border=True):
            st.image(
                enlarged(x_test[index] / 255, 4),
                caption=f"test #{index}: true {int(y_test[index])}, predicted {pred}",
                width=112,
            )
            if probabilities is not None:
                st.plotly_chart(probability_chart(probabilities[n], height=190), width="stretch", key=f"grid_{index}")
            st.button("Explain", key=f"explain_{index}", on_click=_explain, args=(int(index),))


def calibration_section(run: dict) -> None:
    st.subheader("ROC and calibration")
    if analysis is None:
        st.info(COMING)
        return
    data = mnist_test()
    if data is None:
        st.info("Needs the MNIST test labels (set DIGITS_DATA_DIR to the MNIST folder).")
        return
    if not probabilities_on_disk(run["path"]):
        st.caption("No saved test probabilities for this run: computing them runs the model on 10,000 images once.")
        if not st.button("Compute test probabilities", key="explore_compute_proba"):
            return
        with st.spinner("Running the model on the 10,000 test images…"):
            test_probabilities(run["path"], compute=True)
    proba = test_probabilities(run["path"])
    if proba is None:
        return
    y_test = data[1]
    cols = st.columns(3)
    with cols[0]:
        st.plotly_chart(roc_figure(analysis.roc_curves(y_test, proba)), width="stretch", key="explore_roc")
    with cols[1]:
        st.plotly_chart(reliability_figure(analysis.reliability(y_test, proba)), width="stretch", key="explore_rel")
    with cols[2]:
        hist = analysis.confidence_histogram(y_test, proba)
        st.plotly_chart(confidence_figure(hist), width="stretch", key="explore_conf")


def run_view(runs: list[dict]) -> None:
    run = pick_run(runs)
    metrics = run_file(run["path"], "metrics.json") or {}
    run_header(run)
    st.subheader("Learning curves")
    learning_curves(run)
    st.subheader("Confusion matrix")
    confusion_section(run, metrics)
    calibration_section(run)


# ---------------------------------------------------------------------------------------------
# Saliency
# ---------------------------------------------------------------------------------------------


def saliency_view(runs: list[dict]) -> None:
    run = pick_run(runs)
    st.caption(
        "Explains an MNIST test sample (pick one here, or press *Explain* under a sample of the confusion "
        "matrix) or your latest drawing on the Draw page."
    )
    if analysis is None:
        st.info(COMING)
        return
    sources = ["MNIST test sample"] + (["My latest drawing"] if LAST_DRAWING_KEY in ss else [])
    source = st.segmented_control("Explain", sources, default=sources[0], key="explore_saliency_source")
    a, b = st.columns(2)
    if source == "My latest drawing":
        image, caption = np.asarray(ss[LAST_DRAWING_KEY], dtype=np.float32), "your latest drawing, as the model saw it"
    else:
        data = mnist_test()
        if data is None:
            st.warning("The MNIST test images are not at hand (set DIGITS_DATA_DIR to the MNIST folder).")
            return
        x_test, y_test = data
        index = int(a.number_input("MNIST test index", 0, len(x_test) - 1, key=SALIENCY_INDEX_KEY, step=1))
        image, caption = x_test[index] / 255, f"test #{index}: true {int(y_test[index])}"
    method = b.segmented_control(
        "Method", ["Gradient saliency", "Grad-CAM"], default="Gradient saliency", key="explore_saliency_method"
    )
    rec = recognizer_at(run["path"])
    if rec is None:
        return
    proba = rec.predict_proba(image[None])[0]
    if method == "Grad-CAM":
        heat = analysis.grad_cam(rec, image)
        if heat is None:
            st.info("Grad-CAM needs a convolutional layer, and this model has none: showing gradient saliency.")
            heat, method = analysis.saliency_map(rec, image), "Gradient saliency"
    else:
        heat = analysis.saliency_map(rec, image)
    cols = st.columns([1, 1, 2])
    with cols[0]:
        st.image(enlarged(image, 6), caption=caption, width=200)
    with cols[1]:
        st.plotly_chart(overlay_figure(image, np.asarray(heat), method), key="explore_overlay")
    with cols[2]:
        st.markdown(f"**{run['name']} reads a {int(proba.argmax())}** ({proba.max():.1%})")
        st.plotly_chart(probability_chart(proba, height=260), width="stretch", key="explore_saliency_proba")


# ---------------------------------------------------------------------------------------------
# Compare
# ---------------------------------------------------------------------------------------------


def latency_ms(run: dict) -> float | None:
    if analysis is None:
        return None
    return _latency(run["path"], _stamp(Path(run["path"]) / "model.keras"))


def compare_view(runs: list[dict]) -> None:
    names = [r["name"] for r in runs]
    chosen = st.multiselect("Runs to compare", names, key="explore_compare", placeholder="pick two or more runs")
    if len(chosen) < 2:
        st.info("Pick two or more runs to compare them.")
        return
    selected = [next(r for r in runs if r["name"] == n) for n in chosen]
    timing = st.toggle("Measure latency (loads each model)", value=analysis is not None, disabled=analysis is None)
    rows = []
    for r in selected:
        size = r.get("size_bytes")
        rows.append(
            {
                "run": r["name"],
                "architecture": r.get("architecture"),
                "test accuracy": None if r.get("test_accuracy") is None else 100 * r["test_accuracy"],
                "pen hold-out accuracy": None
                if r.get("pen_holdout_accuracy") is None
                else 100 * r["pen_holdout_accuracy"],
                "parameters": r.get("parameters"),
                "size (MB)": None if size is None else size / 1e6,
                "training time": duration_text(r.get("training_seconds")),
                "latency (ms/image)": latency_ms(r) if timing else None,
            }
        )
    frame = pd.DataFrame(rows)
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "test accuracy": st.column_config.NumberColumn(format="%.2f%%"),
            "pen hold-out accuracy": st.column_config.NumberColumn(format="%.2f%%"),
            "parameters": st.column_config.NumberColumn(format="localized"),
            "size (MB)": st.column_config.NumberColumn(format="%.1f"),
            "latency (ms/image)": st.column_config.NumberColumn(format="%.2f"),
        },
    )
    charts = [
        ("test accuracy", "MNIST test accuracy (%)", ".2f"),
        ("pen hold-out accuracy", "Pen hold-out accuracy (%)", ".2f"),
        ("parameters", "Parameters", ",d"),
        ("size (MB)", "Size (MB)", ".1f"),
        ("latency (ms/image)", "Latency (ms per image)", ".2f"),
    ]
    seconds = [r.get("training_seconds") for r in selected]
    cols = st.columns(3)
    for n, (column, title, fmt) in enumerate(charts):
        values = [None if pd.isna(v) else v for v in frame[column]]
        with cols[n % 3]:
            st.plotly_chart(bar_figure(chosen, values, title, fmt), width="stretch", key=f"explore_bar_{n}")
    with cols[len(charts) % 3]:
        minutes = [None if s is None else s / 60 for s in seconds]
        st.plotly_chart(bar_figure(chosen, minutes, "Training time (min)", ".1f"), width="stretch", key="explore_bar_t")
    ensemble_form(selected, names)


def ensemble_form(selected: list[dict], names: list[str]) -> None:
    st.subheader("Ensemble")
    if analysis is None:
        st.info(COMING)
        return
    st.caption("Averages the probabilities of the selected runs in one new run, which you can then activate.")
    a, b = st.columns([3, 1])
    name = a.text_input("Name", value=f"ensemble-{len(selected)}-runs", key="explore_ensemble_name")
    b.space("small")
    if b.button("Build ensemble", key="explore_build", width="stretch"):
        name = name.strip()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}", name):
            st.error("Use letters, digits, '.', '_' or '-' for the name (no spaces or slashes).")
        elif name in names:
            st.error(f"A run called {name} exists already: pick another name.")
        else:
            try:
                with st.spinner("Building the ensemble…"):
                    built = analysis.build_ensemble([Path(r["path"]) for r in selected], paths.runs_dir(), name)
            except (ValueError, OSError, ModelNotFoundError) as exc:
                st.error(f"Could not build the ensemble: {exc}")
            else:
                ss["explore_built"] = str(built)
    built = ss.get("explore_built")
    if built and Path(built).is_dir():
        st.success(f"Built {Path(built).name}; it is in the run list now.")
        st.button("Make it active", key="explore_activate_built", on_click=_activate, args=(built, Path(built).name))


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def data_view() -> None:
    folder = _mnist_folder()
    if folder is None:
        st.warning("MNIST is not at hand: set DIGITS_DATA_DIR to a folder with the four MNIST IDX gz files.")
        return
    try:
        summary = _mnist_summary(str(folder), _stamp(folder))
    except DataError as exc:
        st.error(f"MNIST could not be read: {exc}")
        return
    left, right = st.columns(2)
    with left:
        st.subheader("Class distribution")
        fig = go.Figure()
        for split, color in (("train", "#1f77b4"), ("test", "#e4572e")):
            fig.add_trace(go.Bar(x=list(range(10)), y=summary[f"{split}_counts"], name=split, marker_color=color))
        fig.update_layout(
            height=320,
            barmode="group",
            margin=dict(l=10, r=10, t=10, b=10),
            xaxis=dict(title="digit", dtick=1),
            yaxis=dict(title="images"),
            legend=dict(orientation="h", y=-0.2),
        )
        st.plotly_chart(fig, width="stretch", key="explore_classes")
    with right:
        st.subheader("Pixel intensities")
        counts = summary["intensity"]
        fig = go.Figure(go.Bar(x=list(range(256)), y=counts, marker_color="#1f77b4"))
        fig.update_layout(
            height=320,
            margin=dict(l=10, r=10, t=10, b=10),
            xaxis=dict(title="intensity (0 = background)"),
            yaxis=dict(title="pixels (log)", type="log"),
        )
        st.plotly_chart(fig, width="stretch", key="explore_intensity")
        st.caption(f"{counts[0] / counts.sum():.0%} of the training pixels are pure background.")
    left, right = st.columns(2)
    with left:
        st.subheader("Samples per class")
        st.image(tiles(summary["samples"] / 255, 2), caption="Ten training images of each digit, one row per digit")
    with right:
        st.subheader("Mean image per class")
        means = summary["means"] / summary["means"].max(axis=(1, 2), keepdims=True)
        st.image(tiles(means.reshape(2, 5, 28, 28), 3), caption="The average training image of each digit")
    augmentation_preview(summary)


def augmentation_preview(summary: dict) -> None:
    from recognizer.augment import random_affine

    config = TrainConfig()
    st.subheader("Augmentation preview")
    st.caption(
        f"Random affine transforms with the training defaults: rotation ±{config.rotation:g}°, "
        f"zoom ±{config.zoom:.0%}, shift ±{config.shift:.0%}, shear ±{config.shear:g}°. Each rerun draws anew."
    )
    a, b = st.columns([3, 1])
    n = int(a.number_input("Training image", 0, len(summary["example"]) - 1, 0, key="explore_aug_index"))
    b.space("small")
    b.button("New draws", key="explore_aug_redraw", width="stretch")
    image = summary["example"][n].astype(np.float32) / 255
    batch = np.repeat(image[None, :, :, None], 8, axis=0)
    drawn = np.asarray(random_affine(batch, config.rotation, config.zoom, config.shift, config.shear))[..., 0]
    row = np.concatenate([image[None], drawn])[None]  # the original first
    st.image(tiles(row, 3), caption=f"A {int(summary['example_labels'][n])}: the original, then eight random draws")


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------

st.title("Explore")
_flash()
try:
    RUNS = list_runs()
except OSError as exc:
    RUNS = []
    st.error(f"The runs could not be listed: {exc}")
ss.setdefault(SECTION_KEY, "Run")
section = st.segmented_control("Section", SECTIONS, key=SECTION_KEY, label_visibility="collapsed")
section = section or "Run"
if section == "Data":
    data_view()
elif not RUNS:
    st.info("No trained runs yet: train one on the Train page.")
elif section == "Run":
    run_view(RUNS)
elif section == "Saliency":
    saliency_view(RUNS)
else:
    compare_view(RUNS)
