"""Teach it your handwriting: the Draw page's corrections, learnt at once for this visitor alone.

Not a page itself: the Draw page calls these. Each correction the visitor saves is kept in their
session (``st.session_state``, never shared) and their answers come from
``Recognizer.adapt`` of the shared recognizer with all of them: a new recognizer for this visitor,
while the shared one, cached for everyone, stays as it was. The corrections are also saved to the
corrections folder by the Draw page, so they still feed the next training for everyone.

A recognizer takes at most ``MAX_CORRECTIONS`` corrections: past that the session keeps the
visitor's newest (their handwriting as it is now) and the page says the older ones no longer teach.
The trimming is here, not in the library, because the session list is this page's state and only
the page can tell the visitor; the library refuses more than it takes rather than drop some unseen.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit.errors import StreamlitAPIException

from recognizer.reading.adapt import MAX_CORRECTIONS, NotAdaptableError

TAUGHT_KEY = "taught-examples"  # [(28x28 input, label), ...] this visitor taught, oldest first
# (shared recognizer, the newest example it was taught, adapted recognizer). The newest example (held
# here, so compared by identity) rather than the count: at MAX_CORRECTIONS a new one leaves the count.
ADAPTED_KEY = "taught-recognizer"
LEARNT_KEY = "taught-message"  # what to say after the rerun that shows the adapted answer
DROPPED_KEY = "taught-dropped"  # how many of this visitor's oldest corrections no longer teach


def taught() -> list[tuple[np.ndarray, int]]:
    """This visitor's corrections, oldest first."""
    return st.session_state.setdefault(TAUGHT_KEY, [])


def visitor_recognizer(shared):
    """The recognizer that answers this visitor: ``shared`` adapted to what they taught.

    Re-adapted only when they taught something new or the shared model changed (a new one was
    activated); ``shared`` itself (None while it loads) when they taught nothing.
    """
    examples = _newest_kept(taught())
    if shared is None or not examples:
        return shared
    cached = st.session_state.get(ADAPTED_KEY)
    if cached is not None and cached[0] is shared and cached[1] is examples[-1]:
        return cached[2]
    try:
        adapted = shared.adapt(np.stack([image for image, _ in examples]), [label for _, label in examples])
    except NotAdaptableError:  # an ensemble: its corrections wait for the next training
        return shared
    except ValueError as exc:  # corrections the library refuses: say so rather than stop teaching unseen
        st.warning(f"Your corrections could not teach this model ({exc}); it answers as for everyone.")
        return shared
    st.session_state[ADAPTED_KEY] = (shared, examples[-1], adapted)
    return adapted


def _newest_kept(examples: list) -> list:
    """``examples`` cut to the newest ``MAX_CORRECTIONS`` in place (what one recognizer takes),
    the dropped ones counted for ``taught_control`` to tell the visitor."""
    extra = len(examples) - MAX_CORRECTIONS
    if extra > 0:
        del examples[:extra]
        st.session_state[DROPPED_KEY] = st.session_state.get(DROPPED_KEY, 0) + extra
    return examples


def learn(shared, image: np.ndarray, label: int) -> None:
    """Teach this visitor's recognizer that ``image`` is ``label``, then answer again with it.

    Reruns the calling fragment (``st.rerun``): the answer above the form was drawn before; the
    whole page when the form was handled in a full run (a fragment may run within one, and AppTest
    runs only those), where Streamlit refuses a fragment's rerun.
    """
    taught().append((np.array(image, np.float32), int(label)))
    with st.spinner("Learning your handwriting…"):
        adapted = visitor_recognizer(shared)
    if adapted is shared:
        st.session_state[LEARNT_KEY] = f"Saved: this is a {label}. This model learns it at the next training."
    else:
        st.session_state[LEARNT_KEY] = f"Learnt: this is a {label}, for you now; it also feeds the next training."
    try:
        st.rerun(scope="fragment")
    except StreamlitAPIException:  # refused: this is no fragment rerun
        st.rerun()


def forget() -> None:
    """Drop what this visitor taught: their answers come from the shared recognizer again."""
    for key in (TAUGHT_KEY, ADAPTED_KEY, LEARNT_KEY, DROPPED_KEY):
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
        st.caption(f"Taught: {count:,} example{'s' if count != 1 else ''} ·", width="content")
        st.button("Forget them", key="forget-taught", on_click=forget, type="tertiary")
    dropped = st.session_state.get(DROPPED_KEY, 0)
    if dropped:
        st.info(
            f"Only your newest {MAX_CORRECTIONS:,} corrections teach your recognizer: the {dropped:,} "
            f"before them no longer do. All of them are saved for the next training."
        )


def decided_note(shared, mine, image: np.ndarray, prediction) -> None:
    """A small note when the visitor's corrections decided this answer (the shared model differs)."""
    if mine is shared or prediction is None:
        return
    plain = shared.predict_drawing(image)
    if plain is not None and (plain.digit, plain.is_digit) != (prediction.digit, prediction.is_digit):
        said = f"a {plain.digit}" if plain.is_digit else "not a digit"
        st.caption(f":material/school: Your corrections decided this (untaught, it reads {said}).")
