"""Draw page: draw a digit (or a number) or upload a photo; the model answers as you draw."""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from app_pages.shared import LAST_DRAWING_KEY, active_recognizer, enlarged
from recognizer.feedback import FeedbackStore
from recognizer.figures import boxes_figure, probability_chart
from recognizer.preprocess import decode_image, ink_from_image
from recognizer.units import MB, megabytes

CONFIDENCE_THRESHOLD = 0.7  # below this the page says it is not sure
MAX_UPLOAD_MB = 8
MODES = ["One digit", "A number", "Upload a photo"]

st.title("Draw a digit")
rec = active_recognizer()
if rec is None:
    st.stop()

mode = st.segmented_control("Mode", MODES, default=MODES[0], label_visibility="collapsed") or MODES[0]


@st.cache_resource
def feedback_store() -> FeedbackStore:
    return FeedbackStore()


def correction_form(prediction, key: str) -> None:
    """'Wrong? It is …': store the model's input with the right label for the next training."""
    with st.form(key=f"correct-{key}", border=False):
        cols = st.columns([2, 1])
        label = cols[0].selectbox("Wrong? It is …", list(range(10)), index=None, placeholder="the right digit")
        if cols[1].form_submit_button("Save correction", width="stretch"):
            if label is None:
                st.warning("Pick the digit it really is first.")
            else:
                feedback_store().save(prediction.input, label=label, predicted=prediction.digit)
                st.success(f"Saved: this is a {label}. Corrections feed the next training.")
    st.caption(f"{feedback_store().count()} corrections saved")


def not_a_digit_message(image: np.ndarray, prediction) -> str | None:
    """What to say when the ink is not one digit: several digits, or no digit at all."""
    if prediction.is_digit:
        return None
    digits = rec.digits_in(image)
    if digits >= 2:
        return f"That looks like {digits} digits: try **A number**."
    return "That doesn't look like a digit."


def show_answer(prediction, doubt: str | None = None) -> None:
    """The answer for one digit: metric, confidence, bars, what the model saw."""
    left, right = st.columns([1, 2])
    with left:
        st.metric("Prediction", prediction.digit if doubt is None else "?")
        st.caption(f"Confidence {prediction.confidence:.1%} · one digit {prediction.digit_probability:.0%}")
        st.image(enlarged(prediction.input), caption="What the model saw (28×28)", width=168)
    with right:
        if doubt is not None:
            st.warning(f"{doubt} If it were a digit, it would be a **{prediction.digit}**.")
        elif prediction.confidence < CONFIDENCE_THRESHOLD:
            (a, pa), (b, pb) = prediction.top(2)
            st.warning(f"Not sure: it looks like a **{a}** ({pa:.0%}) or a **{b}** ({pb:.0%}).")
        st.plotly_chart(probability_chart(prediction.probabilities), width="stretch")


def show_number(image: np.ndarray, predictions, key: str) -> None:
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


def canvas(width: int, height: int, key: str):
    controls = st.columns([2, 1])
    brush = controls[0].slider("Brush width", 4, 40, 18, key=f"brush-{key}")
    color = controls[1].color_picker("Ink colour", "#000000", key=f"color-{key}")
    st.write("")  # room for the canvas toolbar, which floats up over the row above
    result = st_canvas(
        stroke_width=brush,
        stroke_color=color,
        background_color="",  # transparent: the ink is read from the alpha channel
        height=height,
        width=width,
        drawing_mode="freedraw",
        update_streamlit=True,  # answer after every stroke, no Predict button
        return_image_data=True,
        key=key,
    )
    st.caption("Undo, redo and clear are in the canvas toolbar.")
    return result.image_data


if mode == "One digit":
    # Wide enough for the 280 px canvas (and its toolbar) on a 1280 px laptop screen with the sidebar.
    draw_col, answer_col = st.columns([2, 3], gap="medium")
    with draw_col:
        image = canvas(280, 280, "digit-canvas")
    with answer_col:
        prediction = rec.predict_drawing(image) if image is not None else None
        if prediction is None:
            st.info("Draw a digit on the canvas: the answer appears after each stroke.")
        else:
            st.session_state[LAST_DRAWING_KEY] = prediction.input
            show_answer(prediction, not_a_digit_message(image, prediction))
            correction_form(prediction, "digit")

elif mode == "A number":
    image = canvas(700, 240, "number-canvas")
    predictions = rec.read_number(image) if image is not None else []
    show_number(image, predictions, "number")

else:
    upload = st.file_uploader(
        f"A photo or scan of handwritten digits (PNG or JPEG, up to {MAX_UPLOAD_MB} MB)",
        type=["png", "jpg", "jpeg"],
    )
    if upload is not None:
        if upload.size > MAX_UPLOAD_MB * MB:
            st.error(f"That file is {megabytes(upload.size):.1f} MB; the limit is {MAX_UPLOAD_MB} MB.")
        else:
            try:
                photo = decode_image(upload.getvalue())
                digits = rec.read_photo(photo)
            except ValueError as exc:
                st.error(f"Could not read {upload.name}: {exc}.")
            else:
                st.image(photo, caption=upload.name, width=360)
                show_number(photo, digits, "upload")
