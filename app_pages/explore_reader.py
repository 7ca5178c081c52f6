"""Not a page: the Explore page's "Number reader" section, the strip model that reads whole numbers."""

from __future__ import annotations

import streamlit as st

from recognizer.core.figures import learning_curves_figure
from recognizer.reading.strip_reader import shipped_reader_facts


def reader_view() -> None:
    facts = shipped_reader_facts()
    if facts is None:
        st.info("No number reader is shipped: numbers are read by cutting alone.")
        return
    metrics, config = facts["metrics"], facts["config"]
    st.subheader(f"Number reader · {facts['name']}")
    st.caption(
        "Reads a whole written number at once (a convolutional network and a GRU over a 32 px strip, "
        "trained with CTC on numbers composed from pen-written and MNIST digits). The Draw page's "
        "“A number” mode weighs its reading with the digit classifier's cuts."
    )
    exact = metrics.get("held_out_exact") or {}
    columns = st.columns(max(1, len(exact)) + 1)
    for column, (case, share) in zip(columns, exact.items(), strict=False):
        column.metric(f"alone, {case}", f"{share:.1%}" if isinstance(share, int | float) else "?")
    seconds = metrics.get("train_seconds")
    columns[-1].metric("training", f"{seconds / 60:.0f} min" if isinstance(seconds, int | float) else "?")
    if facts["history"].get("loss"):
        st.plotly_chart(learning_curves_figure(facts["history"]), width="stretch")
    st.caption(f"Made by `{metrics.get('made_by', '?')}` · settings: {config}")
