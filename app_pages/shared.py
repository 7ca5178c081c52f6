"""What every page shares: the cached active model and the sidebar. Not a page itself."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from recognizer import Recognizer, load_recognizer
from recognizer.runs import ModelNotFoundError, active_model_dir

# Where the Draw page leaves the 28x28 input of its latest answer, for the Explore page's saliency.
LAST_DRAWING_KEY = "last_drawing"


@st.cache_resource(show_spinner="Loading the model…")
def _load(model_dir: str, stamp: float) -> Recognizer:
    # `stamp` (the model file's mtime) makes a re-trained model at the same path load afresh.
    return load_recognizer(model_dir)


def active_recognizer() -> Recognizer | None:
    """The active model, loaded once per process and shared by every visitor; None if missing."""
    try:
        model_dir = active_model_dir()
        stamp = (Path(model_dir) / "model.keras").stat().st_mtime
    except (ModelNotFoundError, OSError) as exc:
        st.error(f"No model could be loaded: {exc}. Train one with `python scripts/train.py --activate`.")
        return None
    return _load(str(model_dir), stamp)


def sidebar(rec: Recognizer | None) -> None:
    with st.sidebar:
        st.markdown("### Digit Recognizer")
        if rec is None:
            st.caption("No active model.")
            return
        acc = rec.metrics.get("test_accuracy")
        st.caption(f"Active model: **{rec.name}**")
        if acc is not None:
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
