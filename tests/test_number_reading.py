"""Reading numbers: a 10-class model with the strip reader, and a letter inside a number ("?").

The shipped model has 11 classes; ``deepcnn-drawings-v1`` ships too and has the ten digits alone,
so the strip reader's path is checked with scores that have no "not a digit" column, without
training. Numbers are composed from held-out pen writers' digits and letters.
"""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from test_teach_flow import APP, drawn  # noqa: F401 -- the stand-in canvas

from recognizer import load_recognizer
from recognizer.core.paths import shipped_models_dir
from recognizer.data.compose import SPACED_GAPS, TOUCHING_GAPS, compose_number, sample_numbers
from recognizer.data.negatives import CLEAR_LETTERS
from recognizer.reading import recognizer as reading

LETTER_GAP = 35.0  # px of paper each side of the letter: written apart, so cutting is not the question


@pytest.fixture(scope="module")
def ten_class():
    rec = load_recognizer(shipped_models_dir() / "deepcnn-drawings-v1")
    assert not rec.knows_not_digit and rec.number_reader is not None
    return rec


@pytest.fixture(scope="module")
def shipped():
    return load_recognizer()  # 11 classes, with the strip reader


def _counted(monkeypatch, owner, name: str) -> list:
    """Calls of ``owner.name`` from now on, each recorded (its arguments) and passed through."""
    calls, original = [], getattr(owner, name)

    def counting(*args):
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(owner, name, counting)
    return calls


def _as_photo(rgba: np.ndarray) -> np.ndarray:
    """Dark ink on paper lit unevenly, RGB: what ``read_photo`` is for."""
    shade = np.linspace(245, 160, rgba.shape[1])[None, :]
    return np.dstack([np.clip(shade - rgba[..., 3] * 0.55, 0, 255).astype(np.uint8)] * 3)


@pytest.mark.parametrize("gaps", [SPACED_GAPS, TOUCHING_GAPS], ids=["spaced", "touching"])
def test_a_ten_class_model_reads_numbers_through_the_strip_reader(ten_class, held_out, gaps, monkeypatch):
    strip_reads = _counted(monkeypatch, ten_class.number_reader, "read")
    reconciled = _counted(monkeypatch, reading, "reconcile")
    numbers = list(sample_numbers(held_out, 20, length=4, gaps=gaps, seed=21))
    read = [ten_class.read_number(n.image) for n in numbers]
    assert len(strip_reads) == len(numbers)
    assert np.mean([[p.digit for p in r] == n.labels for r, n in zip(read, numbers, strict=True)]) >= 0.9
    for p in (p for r in read for p in r):
        assert p.probabilities.shape == (10,) and np.isclose(p.probabilities.sum(), 1.0)
        assert p.is_digit and p.digit_probability == 1.0  # nothing to say "not a digit" with
    if gaps is TOUCHING_GAPS:  # some touching numbers are weighed by both readers, not settled at once
        assert reconciled and all(found[0].posteriors.shape[1] == 11 for _, found, _ in reconciled)


def test_a_ten_class_model_reads_photos_through_the_strip_reader(ten_class, held_out, monkeypatch):
    strip_reads = _counted(monkeypatch, ten_class.number_reader, "read")
    numbers = list(sample_numbers(held_out, 10, length=3, gaps=TOUCHING_GAPS, seed=8))
    right = sum([p.digit for p in ten_class.read_photo(_as_photo(n.image))] == n.labels for n in numbers)
    assert len(strip_reads) == len(numbers) and right >= 9


def _digit_letter_digit(held_out, letters, rng):
    """A number written digit, letter, digit: (RGBA, the two digits, the letter's box)."""
    letter_index = np.flatnonzero(np.isin(letters.labels, list(CLEAR_LETTERS)))
    first, last = rng.choice(len(held_out), 2)
    letter = rng.choice(letter_index)
    strokes = [held_out.strokes(int(first)), letters.strokes(int(letter)), held_out.strokes(int(last))]
    image, boxes = compose_number(strokes, gaps=[LETTER_GAP, LETTER_GAP])
    return image, (int(held_out.labels[first]), int(held_out.labels[last])), boxes[1]


def _question_mark_where_the_letter_is(read, digits, letter_box) -> bool:
    """The digits at both ends read right, and a piece over the letter is "not a digit"."""
    x, _, w, _ = letter_box
    over_letter = [p for p in read if x <= p.box[0] + p.box[2] / 2 <= x + w]
    ends = [(p.digit, p.is_digit) for p in (read[0], read[-1])] if len(read) >= 3 else []
    return ends == [(digits[0], True), (digits[1], True)] and any(not p.is_digit for p in over_letter)


def test_a_letter_inside_a_number_is_read_as_not_a_digit(shipped, held_out, held_out_letters):
    rng = np.random.default_rng(0)
    cases = [_digit_letter_digit(held_out, held_out_letters, rng) for _ in range(40)]
    found = [_question_mark_where_the_letter_is(shipped.read_number(image), d, box) for image, d, box in cases]
    # Measured 0.62 on 60 such numbers: an n, u or v between digits often passes for 1s.
    assert np.mean(found) >= 0.5


def test_the_number_page_shows_a_piece_that_is_not_a_digit_as_a_question_mark(
    shipped,
    held_out,
    held_out_letters,
    drawn,  # noqa: F811
):
    rng = np.random.default_rng(1)
    for _ in range(40):  # a number the model reads as digit, "not a digit", digit
        image, digits, _ = _digit_letter_digit(held_out, held_out_letters, rng)
        read = shipped.read_number(image)
        if [p.is_digit for p in read] == [True, False, True] and [read[0].digit, read[2].digit] == list(digits):
            break
    else:
        raise AssertionError("no digit-letter-digit number read with the letter alone as not a digit")
    drawn["number-canvas"] = image
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.segmented_control[0].set_value("A number").run()
    assert not at.exception, at.exception
    assert next(m for m in at.metric if m.label == "Number").value == f"{digits[0]}?{digits[1]}"
    assert any("1 of the pieces" in w.value and "“?”" in w.value for w in at.warning)
    captions = [caption for image in at.get("image") for caption in image.captions]
    assert f"not a digit ({read[1].digit}?)" in captions  # under that piece's 28x28 image
