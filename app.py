"""Digit Recognizer: the Streamlit entry point. Routes to the pages and draws the shared sidebar.

streamlit run app.py

The model loads in a background thread, started once per server by the first page shown
(TensorFlow's import alone takes seconds): the Draw page shows its canvas at once and answers as
soon as the model is ready.
"""

import streamlit as st

from app_pages.shared import continue_paused_job, sidebar, start_loading_model

st.set_page_config(page_title="Digit Recognizer", page_icon="✍️", layout="wide")

page = st.navigation(
    [
        st.Page("app_pages/draw.py", title="Draw", icon="✏️", default=True),
        st.Page("app_pages/train.py", title="Train", icon="🏋️"),
        st.Page("app_pages/explore.py", title="Explore", icon="🔎"),
    ]
)
sidebar()
page.run()
# After the page, so its first screen (the canvas) is not slowed by the load; the Draw page has
# started it already, and a visit to another page has the model ready for the Draw page.
start_loading_model()
continue_paused_job()  # once per server: a job a dead server left paused runs on
