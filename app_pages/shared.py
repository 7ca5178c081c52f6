"""What every page shares: the cached models, the sidebar, digits blown up for st.image. Not a page itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from recognizer import Recognizer, load_recognizer
from recognizer.figures import learning_curves_figure as learning_curves_figure  # app_pages/train.py imports it
from recognizer.runs import MODEL_FILE, ModelNotFoundError, active_model_dir, shipped_active_dir

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
    return (Path(model_dir) / MODEL_FILE).stat().st_mtime


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


def enlarged(image28, scale: int = 6) -> np.ndarray:
    """A 28x28 image in 0..1 blown up with hard pixel edges, as uint8 for st.image."""
    pixels = np.clip(np.asarray(image28) * 255, 0, 255).astype(np.uint8)
    return np.kron(pixels, np.ones((scale, scale), np.uint8))


def tiles(images: np.ndarray, scale: int = 3) -> np.ndarray:
    """A (rows, cols, 28, 28) stack of 0..1 images as one picture, a thin grey gap between digits."""
    rows, cols = images.shape[:2]
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=0.35)
    return enlarged(padded.transpose(0, 2, 1, 3).reshape(rows * 30, cols * 30), scale)


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
    try:
        return _load(str(run_dir), _stamp(run_dir))
    except (ModelNotFoundError, OSError, ValueError) as exc:
        st.error(f"The model in {Path(run_dir).name} could not be loaded: {exc}")
        return None
