"""What every page shares: the cached active model and the sidebar. Not a page itself."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from recognizer import Recognizer, load_recognizer
from recognizer.runs import ModelNotFoundError, active_model_dir


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
