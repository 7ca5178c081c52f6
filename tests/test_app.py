"""The Streamlit app opens without an exception and shows the active model (AppTest, no browser)."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_app_opens_on_draw_page_with_the_active_model():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("Active model" in c.value for c in at.sidebar.caption)
    assert at.title[0].value == "Digit Recognizer"
