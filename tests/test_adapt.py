"""Recognizer.adapt: a visitor's corrections change their answers at once, nobody else's.

The corrections are 1s of held-out pen writers, written the ways people write a 1
(``recognizer.data.styles``), that the shipped model reads as another digit.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from recognizer.reading.adapt import GATE_LOW, GATE_WIDTH, MAX_CORRECTIONS, check_corrections, similarity_to_corrections

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
    far = similarity_to_corrections(shipped.network, others, misread_ones[1]) < GATE_LOW
    assert far.mean() > 0.99
    np.testing.assert_array_equal(taught.predict_scores(others[far]), shipped.predict_scores(others[far]))
    np.testing.assert_array_equal(taught.predict(others), shipped.predict(others))


def test_the_original_recognizer_is_not_changed(shipped, misread_ones, mnist):
    _, (x_test, _) = mnist
    network = shipped.network
    before = shipped.predict_scores(x_test[:300])
    mine = shipped.adapt(misread_ones[1], [1, 1, 1])
    mine.predict_scores(np.concatenate([x_test[:300] / 255.0, misread_ones[1]]))
    after = shipped.predict_scores(x_test[:300])
    np.testing.assert_array_equal(after, before)
    assert (shipped.predict(misread_ones[1]) != 1).all()
    assert shipped.network is network and mine.network.base is network  # taught on top, not changed


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


def test_the_library_takes_at_most_max_corrections_and_refuses_more():
    # The Draw page keeps a visitor's newest (tests/test_teach_flow.py); the library drops none unseen.
    images = np.zeros((MAX_CORRECTIONS + 1, 28, 28), np.float32)
    labels = np.zeros(MAX_CORRECTIONS + 1, np.int64)
    x, y = check_corrections(images[:MAX_CORRECTIONS], labels[:MAX_CORRECTIONS])
    assert x.shape == (MAX_CORRECTIONS, 28, 28, 1) and len(y) == MAX_CORRECTIONS
    with pytest.raises(ValueError, match=f"at most {MAX_CORRECTIONS}"):
        check_corrections(images, labels)


def test_without_mnist_every_correction_has_the_smallest_radius(shipped, misread_ones, mnist, tmp_path, monkeypatch):
    import weakref

    from recognizer.reading import adapt

    _, (x_test, y_test) = mnist
    # The misread 1s, and an MNIST 1 taught as 7: with MNIST at hand the 1s of MNIST bound its radius.
    images = np.concatenate([misread_ones[1], x_test[y_test == 1][:1] / 255.0])
    labels = [1, 1, 1, 7]
    monkeypatch.setattr(adapt, "_references", weakref.WeakKeyDictionary())  # nothing computed before
    assert shipped.adapt(images, labels).network.radii.max() > GATE_LOW

    monkeypatch.setattr(adapt, "_references", weakref.WeakKeyDictionary())
    monkeypatch.setenv("DIGITS_DATA_DIR", str(tmp_path))  # an empty folder; the cache folder is empty too
    features, reference_labels = adapt.reference_digits(shipped.network)
    assert len(features) == len(reference_labels) == 0  # and nothing was downloaded
    taught = shipped.adapt(images, labels)
    np.testing.assert_array_equal(taught.network.radii, np.full(4, GATE_LOW, np.float32))
    assert (taught.predict(misread_ones[1]) == 1).all()


def test_an_ensemble_cannot_be_taught_and_says_why(shipped, misread_ones):
    from recognizer.core.paths import shipped_models_dir
    from recognizer.nets.convert import classifier_with_features
    from recognizer.reading.adapt import NotAdaptableError, prepare
    from recognizer.reading.recognizer import Recognizer
    from recognizer.training.ensembles import ensemble_model

    members = [shipped_models_dir() / name for name in ("deepcnn-drawings-v4", "deepcnn-drawings-v6")]
    ensemble = Recognizer(ensemble_model(members, "two-members"))
    with pytest.raises(ValueError, match="ends? in one Dense layer"):
        classifier_with_features(ensemble.model)
    with pytest.raises(NotAdaptableError):
        ensemble.adapt(misread_ones[1], [1, 1, 1])
    prepare(ensemble.network)  # what the app calls ahead of time: a network that cannot adapt is let be
    assert ensemble.adapt(np.zeros((0, 28, 28)), []).predict(misread_ones[1]).tolist() == (
        ensemble.predict(misread_ones[1]).tolist()
    )


def test_a_drawing_corrected_twice_reads_as_the_newest_correction(shipped, misread_ones):
    drawing = misread_ones[1][:1]
    other = next(d for d in (5, 3, 8) if d not in shipped.predict(drawing))
    twice = np.concatenate([drawing, drawing])
    assert shipped.adapt(twice, [1, other]).predict(drawing).tolist() == [other]
    assert shipped.adapt(twice, [other, 1]).predict(drawing).tolist() == [1]


def test_near_identical_drawings_with_conflicting_labels_each_read_as_their_own(shipped, misread_ones, mnist):
    drawings = misread_ones[1]
    other = next(d for d in (5, 3, 8) if d not in shipped.predict(drawings))
    shifted = np.roll(drawings, 1, axis=2)  # one pixel to the right: nearly the same features
    assert (similarity_to_corrections(shipped.network, shifted, drawings) > GATE_LOW + GATE_WIDTH).all()
    taught = shipped.adapt(np.concatenate([drawings, shifted]), [1] * len(drawings) + [other] * len(shifted))
    assert (taught.predict(drawings) == 1).all()
    assert (taught.predict(shifted) == other).all()
    _, (x_test, y_test) = mnist
    others = x_test[~np.isin(y_test, [1, other, *shipped.predict(drawings)])][:300]
    np.testing.assert_array_equal(taught.predict(others), shipped.predict(others))
