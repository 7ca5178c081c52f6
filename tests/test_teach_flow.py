"""Teaching on the Draw page without a browser (AppTest): the correction form, the saved file,
Forget, re-adapting to a newly activated model, the cap on corrections and a model that cannot learn.

The canvas is a browser component AppTest cannot draw on: ``drawn`` stands in for it, handing the
page a rendered pen drawing as the canvas's RGBA pixels, as the real one returns them.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_pages import teach
from recognizer.reading.adapt import MAX_CORRECTIONS

APP = str(Path(__file__).resolve().parent.parent / "app.py")
CANVAS = 280


@pytest.fixture
def drawn(monkeypatch):
    """{canvas name: RGBA image}: what each canvas ("digit-canvas", "number-canvas") reports as drawn."""
    drawings: dict[str, np.ndarray] = {}

    def canvas(**options):
        image = drawings.get(options["key"].rsplit("-", 1)[0])  # the key ends in the Clear count
        return SimpleNamespace(image_data=image, json_data={"objects": [] if image is None else [{"type": "path"}]})

    # A module in its place rather than a patched attribute: the real one can only be imported
    # inside a script run (it declares its component), and draw.py imports st_canvas on every run.
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", SimpleNamespace(st_canvas=canvas))
    return drawings


@pytest.fixture(scope="module")
def misread_one(pen, shipped_recognizer):
    """(RGBA drawing, digit it is read as): a held-out writer's 1 that the shipped model misreads."""
    from misread import misread_ones

    from recognizer.data.pen import render_digit

    strokes, prediction = next(misread_ones(pen, shipped_recognizer))
    return render_digit(strokes, brush=18, height=0.65 * CANVAS), prediction.digit


def open_draw_page(drawn, drawing) -> AppTest:
    drawn["digit-canvas"] = drawing
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    return at


def answer(at: AppTest) -> str:
    return next(m for m in at.metric if m.label == "Prediction").value


def texts(at: AppTest) -> str:
    return "\n".join(e.value for kind in (at.caption, at.success, at.warning, at.info) for e in kind)


def save_correction(at: AppTest, digit: int | None) -> AppTest:
    if digit is not None:
        next(s for s in at.selectbox if s.label == "Wrong? It is …").set_value(digit)
    next(b for b in at.button if b.label == "Save correction").click().run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def saved(monkeypatch) -> list[Path]:
    """The files the page's correction store writes, as it writes them.

    Followed at ``save`` rather than looked for in the folder: the page makes its store once per
    process (``st.cache_resource``), in the user data folder of the first test that opened it.
    """
    from recognizer.data.corrections import FeedbackStore

    paths: list[Path] = []
    save = FeedbackStore.save

    def recorded(self, *args, **kwargs):
        paths.append(save(self, *args, **kwargs))
        return paths[-1]

    monkeypatch.setattr(FeedbackStore, "save", recorded)
    return paths


def test_saving_without_a_digit_asks_for_one_and_saves_nothing(drawn, misread_one, saved):
    drawing, misread = misread_one
    at = save_correction(open_draw_page(drawn, drawing), None)
    assert any("Pick the digit it really is first" in w.value for w in at.warning)
    assert saved == []
    assert "Taught:" not in texts(at)
    assert answer(at) == str(misread)


def test_a_correction_is_saved_teaches_at_once_and_forget_undoes_the_teaching(drawn, misread_one, saved):
    drawing, misread = misread_one
    at = open_draw_page(drawn, drawing)
    assert answer(at) == str(misread)
    seen = at.session_state["last_drawing"]  # the 28x28 input the page answered
    save_correction(at, 1)
    assert answer(at) == "1"
    assert "Learnt: this is a 1" in texts(at) and "Taught: 1 example ·" in texts(at)

    [file] = saved
    with np.load(file) as data:
        np.testing.assert_array_equal(data["image"], np.round(seen * 255).astype(np.uint8))
        assert (int(data["label"]), int(data["predicted"]), str(data["source"])) == (1, misread, "draw")
        assert str(data["created"]).endswith("+00:00")  # a UTC time stamp

    next(b for b in at.button if b.label == "Forget them").click().run()
    assert not at.exception, at.exception
    assert answer(at) == str(misread)
    assert "Taught:" not in texts(at)
    assert file.is_file() and len(saved) == 1  # forgetting is this session's: the next training still has it


def test_a_newly_activated_model_is_taught_the_visitors_corrections_again(drawn, misread_one):
    from recognizer.core.paths import shipped_models_dir
    from recognizer.core.runs import set_active

    drawing, _ = misread_one
    at = save_correction(open_draw_page(drawn, drawing), 1)
    first_shared = at.session_state[teach.ADAPTED_KEY][0]
    set_active(shipped_models_dir() / "deepcnn-drawings-v6")  # another model with "not a digit"
    at.run()
    assert not at.exception, at.exception
    assert any("deepcnn-drawings-v6" in c.value for c in at.sidebar.caption)
    shared, _, adapted = at.session_state[teach.ADAPTED_KEY]
    assert shared is not first_shared and shared.name == "deepcnn-drawings-v6"
    assert adapted.predict_drawing(drawing).digit == 1
    assert answer(at) == "1"


def _earlier_corrections(pen, count: int, leave_out: set[int]) -> list[tuple[np.ndarray, int]]:
    """``count`` pen digits (none of ``leave_out``) as 28x28 inputs with their labels: a long teaching session."""
    from recognizer.core.preprocess import ink_from_image, normalize_digit
    from recognizer.data.pen import render_digit

    picked = (i for i in range(len(pen)) if int(pen.labels[i]) not in leave_out)
    return [
        (normalize_digit(ink_from_image(render_digit(pen.strokes(i), brush=18)))[0], int(pen.labels[i]))
        for i in itertools.islice(picked, count)
    ]


def test_past_the_most_corrections_the_newest_teach_and_the_page_says_so(drawn, misread_one, pen):
    drawing, misread = misread_one
    earlier = _earlier_corrections(pen, MAX_CORRECTIONS, {1, misread})
    drawn["digit-canvas"] = drawing
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state[teach.TAUGHT_KEY] = list(earlier)
    at.run()
    assert not at.exception, at.exception
    assert answer(at) == str(misread)
    save_correction(at, 1)  # the visitor's 1,001st correction
    assert answer(at) == "1"  # it teaches: teaching did not switch itself off
    kept = at.session_state[teach.TAUGHT_KEY]
    assert len(kept) == MAX_CORRECTIONS and kept[-1][1] == 1
    assert kept[0][0] is earlier[1][0]  # the oldest one went
    assert f"Taught: {MAX_CORRECTIONS:,} examples" in texts(at)
    assert f"Only your newest {MAX_CORRECTIONS:,} corrections teach" in texts(at)


def test_corrections_the_library_refuses_are_reported_not_dropped_in_silence(drawn, misread_one):
    drawing, misread = misread_one
    drawn["digit-canvas"] = drawing
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[teach.TAUGHT_KEY] = [(np.zeros((27, 27), np.float32), 3)]  # not a model input
    at.run()
    assert not at.exception, at.exception
    assert any("could not teach this model" in w.value for w in at.warning)
    assert answer(at) == str(misread)


def test_a_model_that_cannot_learn_saves_the_correction_for_training_and_says_so(drawn, misread_one, tmp_path, saved):
    from recognizer.core.paths import shipped_models_dir
    from recognizer.core.runs import MODEL_FILE, set_active
    from recognizer.training.ensembles import ensemble_model

    members = [shipped_models_dir() / name for name in ("deepcnn-drawings-v4", "deepcnn-drawings-v6")]
    run = tmp_path / "ensemble"
    run.mkdir()
    ensemble_model(members, "ensemble").save(run / MODEL_FILE)
    set_active(run)
    drawing, _ = misread_one
    at = open_draw_page(drawn, drawing)
    before = answer(at)
    save_correction(at, 1)
    assert "This model learns it at the next training" in texts(at)
    assert answer(at) == before  # answered as before, by the shared model
    assert len(saved) == 1 and saved[0].is_file()
