"""Draw page: draw a digit (or a number) or upload a photo; the model answers as you draw.

The canvas and its answer are one ``st.fragment``: a stroke reruns only them, not the page and
its sidebar. The canvas shows before the model has loaded (``app_pages.shared``); a drawing made
meanwhile is answered as soon as the model is ready. Undo and Clear are buttons under the canvas,
because the canvas's own toolbar appears only on mouse hover (never on a phone).
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from app_pages import teach
from app_pages.shared import (
    INSIDE_QUERY,
    LAST_DRAWING_KEY,
    active_recognizer,
    enlarged,
    model_ready,
    page_on_screen,
)
from recognizer.core.preprocess import decode_image, ink_from_image, normalize_digit
from recognizer.core.storage import file_stamp
from recognizer.core.units import MB, megabytes
from recognizer.data.corrections import FeedbackStore
from recognizer.ops.job_pause import visitors_first
from recognizer.ops.timing_log import timed

MAX_UPLOAD_MB = 8
MODES = ["One digit", "A number", "Upload a photo"]
# The bars are a picture to read, not to explore: no hover layer, no mode bar, less to draw.
CHART_CONFIG = {"staticPlot": True}
# No page scrolling or zooming while a finger draws on the canvas (its host is outside the
# component's shadow root, so a page style reaches it); the canvas's toolbar is hidden on touch
# screens, where the Undo and Clear buttons take its place.
TOUCH_STYLE = """<style>
[class*="st-key-digit-canvas"], [class*="st-key-number-canvas"] { touch-action: none; }
</style>"""

st.title("Draw a digit")
st.html(TOUCH_STYLE)
mode = st.segmented_control("Mode", MODES, default=MODES[0], label_visibility="collapsed") or MODES[0]


@st.cache_resource
def feedback_store() -> FeedbackStore:
    return FeedbackStore()


@st.cache_data(show_spinner=False, max_entries=4)
def _corrections_saved(folder: str, stamp: float) -> int:
    return feedback_store().count()


def corrections_saved() -> int:
    """How many corrections are saved; the folder is listed again only when it changed."""
    folder = feedback_store().folder
    return _corrections_saved(str(folder), file_stamp(folder))  # a saved file (renamed in) changes it


def correction_form(prediction, key: str, rec=None) -> None:
    """'Wrong? It is …': store the model's input with the right label for the next training, and
    teach it to this visitor's recognizer at once (``app_pages.teach``) when ``rec`` is given."""
    with st.form(key=f"correct-{key}", border=False):
        cols = st.columns([2, 1])
        label = cols[0].selectbox("Wrong? It is …", list(range(10)), index=None, placeholder="the right digit")
        if cols[1].form_submit_button("Save correction", width="stretch"):
            if label is None:
                st.warning("Pick the digit it really is first.")
            else:
                feedback_store().save(prediction.input, label=label, predicted=prediction.digit)
                if rec is not None:
                    teach.learn(rec, prediction.input, label)  # answers again with what it learnt
                st.success(f"Saved: this is a {label}. Corrections feed the next training.")
    st.caption(f"{corrections_saved()} corrections saved")
    teach.taught_control()


def not_a_digit_message(rec, image: np.ndarray, prediction) -> str | None:
    """What to say when the ink is not one digit: several digits, or no digit at all."""
    if prediction.is_digit:
        return None
    digits = rec.digits_in(image)
    if digits >= 2:
        return f"That looks like {digits} digits: try **A number**."
    return "That doesn't look like a digit."


def show_answer(prediction, not_sure_below: float, doubt: str | None = None) -> None:
    """The answer for one digit: metric, confidence, bars, what the model saw.

    Under ``not_sure_below`` (the model's measured threshold, ``Recognizer.not_sure_below``) it says
    it is not sure."""
    from recognizer.core.figures import probability_chart  # Plotly: imported when the first answer is shown

    left, right = st.columns([1, 2])
    with left:
        st.metric("Prediction", prediction.digit if doubt is None else "?")
        st.caption(f"Confidence {prediction.confidence:.1%} · one digit {prediction.digit_probability:.0%}")
        st.image(enlarged(prediction.input), caption="What the model saw (28×28)", width=168)
    with right:
        if doubt is not None:
            st.warning(f"{doubt} If it were a digit, it would be a **{prediction.digit}**.")
        elif prediction.confidence < not_sure_below:
            (a, pa), (b, pb) = prediction.top(2)
            st.warning(f"Not sure: it looks like a **{a}** ({pa:.0%}) or a **{b}** ({pb:.0%}).")
        st.plotly_chart(probability_chart(prediction.probabilities), width="stretch", config=CHART_CONFIG)


def show_number(image: np.ndarray, predictions, key: str) -> None:
    from recognizer.core.figures import boxes_figure, probability_chart

    if not predictions:
        st.info("No digits found yet.")
        return
    st.metric("Number", "".join(str(p.digit) if p.is_digit else "?" for p in predictions))
    doubtful = sum(not p.is_digit for p in predictions)
    if doubtful:
        st.warning(f"{doubtful} of the pieces (grey, “?”) don't look like a digit.")
    st.plotly_chart(boxes_figure(ink_from_image(image), predictions), width="stretch")
    for start in range(0, len(predictions), 6):
        for i, (column, p) in enumerate(zip(st.columns(6), predictions[start : start + 6], strict=False), start=start):
            with column:
                label = f"{p.digit} ({p.confidence:.0%})" if p.is_digit else f"not a digit ({p.digit}?)"
                st.image(enlarged(p.input, 3), caption=label)
                chart = probability_chart(p.probabilities, height=220)
                st.plotly_chart(chart, width="stretch", key=f"{key}-bars-{i}")


def _undo(key: str) -> None:
    """Send the canvas its drawing less the last stroke; it redraws and sends it back."""
    ss = st.session_state
    drawing = ss.get(f"{key}-drawing") or {}
    objects = drawing.get("objects") or []
    revision = ss.get(f"{key}-revision", 0) + 1
    # The revision makes each undo a new initial drawing, even one equal to an earlier one.
    ss[f"{key}-initial"] = {**drawing, "objects": objects[:-1], "revision": revision}
    ss[f"{key}-revision"] = revision


def _clear(key: str) -> None:
    """A new, empty canvas: a new widget key."""
    ss = st.session_state
    ss[f"{key}-version"] = ss.get(f"{key}-version", 0) + 1
    ss.pop(f"{key}-initial", None)
    ss.pop(f"{key}-drawing", None)


def canvas(width: int, height: int, key: str):
    """The canvas with Undo and Clear buttons under it and the pen settings beside them."""
    ss = st.session_state
    brush, color = ss.get(f"brush-{key}", 18), ss.get(f"color-{key}", "#000000")
    st.write("")  # room for the canvas's own toolbar, which floats up over the row above on hover
    result = st_canvas(
        stroke_width=brush,
        stroke_color=color,
        background_color="",  # transparent: the ink is read from the alpha channel
        height=height,
        width=width,
        drawing_mode="freedraw",
        update_streamlit=True,  # answer after every stroke, no Predict button
        return_image_data=True,
        initial_drawing=ss.get(f"{key}-initial"),
        key=f"{key}-{ss.get(f'{key}-version', 0)}",
    )
    ss[f"{key}-drawing"] = result.json_data
    drawn = bool((result.json_data or {}).get("objects"))
    with st.container(horizontal=True, key=f"{key}-tools"):
        undo, clear = ":material/undo:", ":material/delete:"
        st.button("Undo", key=f"{key}-undo", on_click=_undo, args=(key,), disabled=not drawn, icon=undo)
        st.button("Clear", key=f"{key}-clear", on_click=_clear, args=(key,), disabled=not drawn, icon=clear)
        with st.popover("Pen", icon=":material/edit:"):
            st.slider("Brush width", 4, 40, 18, key=f"brush-{key}")
            st.color_picker("Ink colour", "#000000", key=f"color-{key}")
    return result.image_data


def nothing_drawn(image) -> bool:
    """True for no canvas yet, an empty one or a stray dot (no model needed to tell)."""
    return image is None or normalize_digit(ink_from_image(image)) is None


def digit_answer(image) -> None:
    """The answer column of "One digit": a hint, or the answer once the model is ready."""
    blank = nothing_drawn(image)
    if blank:
        st.info("Draw a digit on the canvas: the answer appears after each stroke.")
    if image is None and not model_ready():
        return  # the canvas has not reported yet: the model loads once the browser has built the page
    page_on_screen()
    note = st.empty()
    if not model_ready():
        # The canvas is on screen already; this run waits for the model (without reruns, which
        # would slow its loading) and answers a drawing made meanwhile as soon as it is ready.
        note.caption("Loading the model…" if blank else "Loading the model… the answer follows as soon as it is ready.")
    rec = active_recognizer()
    note.empty()
    if blank or rec is None:
        return
    mine = teach.visitor_recognizer(rec)  # what this visitor taught, if anything
    prediction = mine.predict_drawing(image)
    st.session_state[LAST_DRAWING_KEY] = prediction.input
    show_answer(prediction, mine.not_sure_below, not_a_digit_message(mine, image, prediction))
    # A link only: the Explore page loads TensorFlow for the layers, never this page.
    st.page_link(
        "app_pages/explore.py", label="See inside the network", icon=":material/layers:", query_params=INSIDE_QUERY
    )
    teach.decided_note(rec, mine, image, prediction)
    correction_form(prediction, "digit", rec)


@st.fragment
def one_digit() -> None:
    # Wide enough for the 280 px canvas on a 1280 px laptop screen with the sidebar; on a phone
    # the columns stack and the answer comes right under the canvas.
    # A training job waits while this runs (visitors_first); the time is logged only when
    # DIGITS_TIMING_LOG is set (load tests).
    with timed("one digit") as record, visitors_first():
        draw_col, answer_col = st.columns([2, 3], gap="medium")
        with draw_col:
            image = canvas(280, 280, "digit-canvas")
        record["ink"] = bool(image is not None and image[..., 3].any())  # an answer, not a blank rerun
        with answer_col:
            digit_answer(image)


@st.fragment
def a_number() -> None:
    with visitors_first():
        image = canvas(700, 240, "number-canvas")
        rec = teach.visitor_recognizer(active_recognizer())
        if rec is not None:
            show_number(image, rec.read_number(image) if image is not None else [], "number")


def upload_a_photo() -> None:
    upload = st.file_uploader(
        f"A photo or scan of handwritten digits (PNG or JPEG, up to {MAX_UPLOAD_MB} MB)",
        type=["png", "jpg", "jpeg"],
    )
    if upload is None:
        return
    if upload.size > MAX_UPLOAD_MB * MB:
        st.error(f"That file is {megabytes(upload.size):.1f} MB; the limit is {MAX_UPLOAD_MB} MB.")
        return
    rec = active_recognizer()
    if rec is None:
        return
    try:
        with visitors_first():
            photo = decode_image(upload.getvalue())
            digits = rec.read_photo(photo)
    except ValueError as exc:
        st.error(f"Could not read {upload.name}: {exc}.")
    else:
        st.image(photo, caption=upload.name, width=360)
        show_number(photo, digits, "upload")


if mode == "One digit":
    one_digit()
elif mode == "A number":
    a_number()
else:
    upload_a_photo()
