"""Draw page: the model the app answers with (the canvas itself is the next step)."""

import streamlit as st

from pages.shared import active_recognizer

st.title("Digit Recognizer")
rec = active_recognizer()
if rec is not None:
    m = rec.metrics
    cols = st.columns(3)
    cols[0].metric("Model", rec.name)
    if "test_accuracy" in m:
        cols[1].metric("MNIST test accuracy", f"{m['test_accuracy']:.2%}")
    if "parameter_count" in m:
        cols[2].metric("Parameters", f"{m['parameter_count']:,}")
    st.info("Drawing on a canvas arrives with the Draw page; the model above is loaded and ready.")
