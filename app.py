"""Digit Recognizer: the Streamlit entry point. Routes to the pages and draws the shared sidebar.

streamlit run app.py
"""

import streamlit as st

from app_pages.shared import active_recognizer, sidebar

st.set_page_config(page_title="Digit Recognizer", page_icon="✍️", layout="wide")

page = st.navigation(
    [
        st.Page("app_pages/draw.py", title="Draw", icon="✏️", default=True),
        st.Page("app_pages/train.py", title="Train", icon="🏋️"),
        st.Page("app_pages/explore.py", title="Explore", icon="🔎"),
    ]
)
sidebar(active_recognizer())
page.run()
