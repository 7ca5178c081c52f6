"""What every page shares: the cached active model and the sidebar. Not a page itself."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from recognizer import Recognizer, load_recognizer
from recognizer.runs import ModelNotFoundError, active_model_dir, shipped_active_dir

# Where the Draw page leaves the 28x28 input of its latest answer, for the Explore page's saliency.
LAST_DRAWING_KEY = "last_drawing"


@st.cache_resource(show_spinner="Loading the model…")
def _load(model_dir: str, stamp: float) -> Recognizer:
    # `stamp` (the model file's mtime) makes a re-trained model at the same path load afresh.
    return load_recognizer(model_dir)


def active_recognizer() -> Recognizer | None:
    """The active model, loaded once per process and shared by every visitor; None if missing.

    When the user's chosen model cannot be loaded (a corrupt or half-copied file), the page says
    so and answers with the shipped model, so the Train page can still switch or delete runs.
    """
    try:
        model_dir = active_model_dir()
    except ModelNotFoundError as exc:
        st.error(f"No model could be loaded: {exc}. Train one with `python scripts/train.py --activate`.")
        return None
    try:
        return _load(str(model_dir), _stamp(model_dir))
    except Exception as exc:  # noqa: BLE001 -- whatever a broken file raises, the app must stay up
        problem = f"The active model {model_dir.name} could not be loaded ({type(exc).__name__}: {exc})."
    try:
        shipped = shipped_active_dir()
        rec = _load(str(shipped), _stamp(shipped))
    except Exception as exc:  # noqa: BLE001
        st.error(f"{problem} The shipped model could not be loaded either ({exc}).")
        return None
    st.warning(f"{problem} Answering with the shipped model {shipped.name}; pick another on the Train page.")
    return rec


def _stamp(model_dir: Path) -> float:
    """The model file's mtime: a re-trained model at the same path loads afresh."""
    return (Path(model_dir) / "model.keras").stat().st_mtime


def sidebar(rec: Recognizer | None) -> None:
    with st.sidebar:
        st.markdown("### Digit Recognizer")
        if rec is None:
            st.caption("No active model.")
            return
        acc = rec.metrics.get("test_accuracy")
        st.caption(f"Active model: **{rec.name}**")
        if isinstance(acc, int | float):
            st.caption(f"MNIST test accuracy: {acc:.2%}")


def probability_chart(probabilities, height: int = 300):
    """Horizontal Plotly bars of the ten class probabilities, the top one highlighted."""
    import numpy as np
    import plotly.graph_objects as go

    probabilities = np.asarray(probabilities, dtype=float)
    best = int(probabilities.argmax())
    colors = ["#e4572e" if d == best else "#9aa5b1" for d in range(10)]
    fig = go.Figure(
        go.Bar(
            x=probabilities,
            y=[str(d) for d in range(10)],
            orientation="h",
            marker_color=colors,
            text=[f"{p:.0%}" if p >= 0.01 else "" for p in probabilities],
            textposition="outside",
            hovertemplate="digit %{y}: %{x:.2%}<extra></extra>",
        )
    )
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(range=[0, 1.15], tickformat=".0%", showgrid=False),
        yaxis=dict(autorange="reversed", type="category", title=None),
        showlegend=False,
    )
    return fig


def enlarged(image28, scale: int = 6):
    """A 28x28 model input blown up with hard pixel edges, as uint8 for st.image."""
    import numpy as np

    pixels = np.clip(np.asarray(image28) * 255, 0, 255).astype(np.uint8)
    return np.kron(pixels, np.ones((scale, scale), np.uint8))


def duration_text(seconds: float | None) -> str:
    """A duration as people say it: '45 s', '3 min 20 s', '1 h 05 min'; '–' when unknown."""
    if seconds is None:
        return "–"
    seconds = max(0, round(float(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def recognizer_at(run_dir) -> Recognizer | None:
    """The model of one run folder, loaded once per process like the active one; None (with an error) if unloadable."""
    from recognizer.runs import MODEL_FILE

    try:
        stamp = (Path(run_dir) / MODEL_FILE).stat().st_mtime
        return _load(str(run_dir), stamp)
    except (ModelNotFoundError, OSError, ValueError) as exc:
        st.error(f"The model in {Path(run_dir).name} could not be loaded: {exc}")
        return None


def learning_curves_figure(history: dict):
    """Loss and accuracy per epoch (train vs validation), the learning rate on a second axis.

    ``history`` is a run's history.json: lists per key (loss, val_loss, accuracy, ...).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Loss", "Accuracy"),
        horizontal_spacing=0.12,
        specs=[[{"secondary_y": True}, {"secondary_y": False}]],
    )
    epochs = history.get("epoch") or list(range(1, len(history.get("loss", [])) + 1))
    series = [
        ("loss", "train", "#1f77b4", "solid", 1),
        ("val_loss", "validation", "#e4572e", "dash", 1),
        ("accuracy", "train", "#1f77b4", "solid", 2),
        ("val_accuracy", "validation", "#e4572e", "dash", 2),
    ]
    for metric, name, color, dash, col in series:
        ys = history.get(metric)
        if not ys or all(y is None for y in ys):  # no validation split: no validation curves
            continue
        fig.add_trace(
            go.Scatter(
                x=epochs,
                y=ys,
                name=name,
                mode="lines+markers",
                line=dict(color=color, dash=dash),
                legendgroup=name,
                showlegend=col == 1,
                hovertemplate=f"epoch %{{x}}<br>{metric}: %{{y:.4f}}<extra></extra>",
            ),
            row=1,
            col=col,
            secondary_y=False if col == 1 else None,
        )
    lr = history.get("learning_rate")
    if lr:
        fig.add_trace(
            go.Scatter(
                x=epochs,
                y=lr,
                name="learning rate",
                mode="lines",
                line=dict(color="#9aa5b1", dash="dot"),
                hovertemplate="epoch %{x}<br>learning rate: %{y:.2e}<extra></extra>",
            ),
            row=1,
            col=1,
            secondary_y=True,
        )
        fig.update_yaxes(row=1, col=1, secondary_y=True, showgrid=False, rangemode="tozero")
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(tickformat=".1%", row=1, col=2)
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig
