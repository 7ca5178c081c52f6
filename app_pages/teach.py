"""Teach it your handwriting: the Draw page's corrections, learnt at once for this visitor alone.

Not a page itself: the Draw page calls these. Each correction the visitor saves is kept in their
session (``st.session_state``, never shared) and their answers come from
``Recognizer.adapt`` of the shared recognizer with all of them: a new recognizer for this visitor,
while the shared one, cached for everyone, stays as it was. The corrections are also saved to the
corrections folder by the Draw page, so they still feed the next training for everyone.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

TAUGHT_KEY = "taught-examples"  # [(28x28 input, label), ...] this visitor taught, oldest first
ADAPTED_KEY = "taught-recognizer"  # (shared recognizer, examples it was taught, adapted recognizer)
LEARNT_KEY = "taught-message"  # what to say after the rerun that shows the adapted answer


def taught() -> list[tuple[np.ndarray, int]]:
    """This visitor's corrections, oldest first."""
    return st.session_state.setdefault(TAUGHT_KEY, [])


def visitor_recognizer(shared):
    """The recognizer that answers this visitor: ``shared`` adapted to what they taught.

    Re-adapted only when they taught something new or the shared model changed (a new one was
    activated); ``shared`` itself (None while it loads) when they taught nothing.
    """
    examples = taught()
    if shared is None or not examples:
        return shared
    cached = st.session_state.get(ADAPTED_KEY)
    if cached is not None and cached[0] is shared and cached[1] == len(examples):
        return cached[2]
    try:
        adapted = shared.adapt(np.stack([image for image, _ in examples]), [label for _, label in examples])
    except ValueError:  # a model that cannot adapt (an ensemble): its corrections wait for training
        return shared
    st.session_state[ADAPTED_KEY] = (shared, len(examples), adapted)
    return adapted


def learn(shared, image: np.ndarray, label: int) -> None:
    """Teach this visitor's recognizer that ``image`` is ``label``, then answer again with it.

    Reruns the calling fragment (``st.rerun``): the answer above the form was drawn before.
    """
    taught().append((np.array(image, np.float32), int(label)))
    with st.spinner("Learning your handwriting…"):
        adapted = visitor_recognizer(shared)
    if adapted is shared:
        st.session_state[LEARNT_KEY] = f"Saved: this is a {label}. This model learns it at the next training."
    else:
        st.session_state[LEARNT_KEY] = f"Learnt: this is a {label}, for you now; it also feeds the next training."
    st.rerun(scope="fragment")


def forget() -> None:
    """Drop what this visitor taught: their answers come from the shared recognizer again."""
    for key in (TAUGHT_KEY, ADAPTED_KEY, LEARNT_KEY):
        st.session_state.pop(key, None)


def taught_control() -> None:
    """'Taught: N examples · Forget them', and what the last correction did."""
    message = st.session_state.pop(LEARNT_KEY, None)
    if message:
        st.success(message)
    count = len(taught())
    if not count:
        return
    with st.container(horizontal=True, vertical_alignment="center", key="taught-control"):
        st.caption(f"Taught: {count} example{'s' if count != 1 else ''} ·", width="content")
        st.button("Forget them", key="forget-taught", on_click=forget, type="tertiary")


def decided_note(shared, mine, image: np.ndarray, prediction) -> None:
    """A small note when the visitor's corrections decided this answer (the shared model differs)."""
    if mine is shared or prediction is None:
        return
    plain = shared.predict_drawing(image)
    if plain is not None and (plain.digit, plain.is_digit) != (prediction.digit, prediction.is_digit):
        said = f"a {plain.digit}" if plain.is_digit else "not a digit"
        st.caption(f":material/school: Your corrections decided this (untaught, it reads {said}).")
