"""Recognizer.adapt: a visitor's corrections change their answers at once, nobody else's.

The corrections are 1s of held-out pen writers, written the ways people write a 1
(``recognizer.data.styles``), that the shipped model reads as another digit.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from recognizer.reading.adapt import GATE_LOW, similarity_to_corrections

CANVAS = 280


@pytest.fixture(scope="module")
def shipped():
    from recognizer import load_recognizer
    from recognizer.core.runs import shipped_active_dir

    return load_recognizer(shipped_active_dir(), number_reader=False)


@pytest.fixture(scope="module")
def misread_ones(shipped, pen):
    """Three held-out writers' 1s read as another digit: (strokes, 28x28 inputs)."""
    from misread import misread_ones as search

    found = list(itertools.islice(search(pen, shipped), 3))
    assert len(found) == 3, "fewer than 3 misread 1s among the held-out writers"
    return [s for s, _ in found], np.stack([p.input for _, p in found])


@pytest.fixture(scope="module")
def taught(shipped, misread_ones):
    return shipped.adapt(misread_ones[1], [1, 1, 1])


def test_the_corrected_drawings_and_near_copies_read_as_taught(shipped, misread_ones, taught):
    from recognizer.data.pen import render_digit

    strokes, inputs = misread_ones
    assert (shipped.predict(inputs) != 1).all()
    assert (taught.predict(inputs) == 1).all()
    shifted = np.concatenate([np.roll(inputs, s, axis=a) for s in (-1, 1) for a in (1, 2)])
    assert (taught.predict(shifted) == 1).all()
    # Drawn again with another brush and size: what the visitor does next.
    redrawn = [render_digit(s, brush=24, height=0.5 * CANVAS, center=(150, 130)) for s in strokes]
    answers = taught.predict_drawings(redrawn)
    assert [p.digit for p in answers] == [1, 1, 1]
    assert all(p.is_digit for p in answers)


def test_far_away_digits_keep_their_answers(shipped, misread_ones, taught, mnist):
    _, (x_test, y_test) = mnist
    confusions = shipped.predict(misread_ones[1])
    others = x_test[~np.isin(y_test, [1, *confusions])][:2000]  # neither the taught digit nor its confusions
    far = similarity_to_corrections(shipped.model, others, misread_ones[1]) < GATE_LOW
    assert far.mean() > 0.99
    np.testing.assert_array_equal(taught.predict_scores(others[far]), shipped.predict_scores(others[far]))
    np.testing.assert_array_equal(taught.predict(others), shipped.predict(others))


def test_the_original_recognizer_is_not_changed(shipped, misread_ones, mnist):
    _, (x_test, _) = mnist
    weights = [w.copy() for w in shipped.model.get_weights()]
    before = shipped.predict_scores(x_test[:300])
    mine = shipped.adapt(misread_ones[1], [1, 1, 1])
    mine.predict_scores(np.concatenate([x_test[:300] / 255.0, misread_ones[1]]))
    after = shipped.predict_scores(x_test[:300])
    np.testing.assert_array_equal(after, before)
    assert (shipped.predict(misread_ones[1]) != 1).all()
    for w, w0 in zip(shipped.model.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(w, w0)


def test_no_corrections_answer_as_the_original(shipped, mnist):
    _, (x_test, _) = mnist
    same = shipped.adapt(np.zeros((0, 28, 28), np.float32), [])
    assert same is not shipped
    np.testing.assert_array_equal(same.predict_scores(x_test[:300]), shipped.predict_scores(x_test[:300]))


def test_the_taught_recognizer_still_knows_not_a_digit(shipped, taught):
    from recognizer.data.negatives import scribbles

    assert taught.knows_not_digit and taught.predict_scores(np.zeros((1, 28, 28))).shape == (1, 11)
    marks = scribbles(40, seed=1)
    flagged = shipped.predict_digit_probability(marks) < 0.5
    assert flagged.sum() >= 20  # the scribbles are ones the shipped model flags
    np.testing.assert_array_equal(taught.predict_digit_probability(marks) < 0.5, flagged)


def test_a_taught_recognizer_reads_numbers(shipped, misread_ones, taught):
    from recognizer.data.pen import draw_strokes, to_rgba

    strokes = misread_ones[0][0]
    pts = np.concatenate(strokes)
    scale = 150 / np.ptp(pts[:, 1])
    placed = [(s - pts.min(axis=0)) * scale + [40, 40] for s in strokes]
    number = to_rgba(
        draw_strokes(placed + [(s - pts.min(axis=0)) * scale + [300, 40] for s in strokes], 16, (520, 240))
    )
    assert [p.digit for p in taught.read_number(number)] == [1, 1]
    assert [p.digit for p in shipped.read_number(number)] != [1, 1]


@pytest.mark.parametrize(
    ("images", "labels"),
    [
        (np.zeros((2, 28, 27)), [1, 2]),  # not 28x28
        (np.zeros((28, 28)), [1]),  # one image without the batch axis
        (np.zeros((2, 28, 28)), [1]),  # lengths differ
        (np.zeros((2, 28, 28)), [1, 10]),  # not a digit
        (np.zeros((2, 28, 28)), [-1, 3]),
        (np.zeros((2, 28, 28)), [1.5, 3]),
        (np.full((1, 28, 28), np.nan), [3]),
    ],
)
def test_bad_corrections_are_refused(shipped, images, labels):
    with pytest.raises(ValueError):
        shipped.adapt(images, labels)


def test_a_correction_that_looks_like_everyones_digit_stays_with_that_drawing(shipped, mnist):
    # An MNIST 1 taught as 7: its radius ends where MNIST training 1s begin, so other 1s stay 1s.
    _, (x_test, y_test) = mnist
    ones = x_test[y_test == 1]
    mine = shipped.adapt(ones[:1], [7])
    assert (mine.predict(ones[1:]) == 1).mean() >= (shipped.predict(ones[1:]) == 1).mean() - 0.002
