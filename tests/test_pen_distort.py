"""Reshaped pen digits (recognizer.data.pen.distorted): another writer's shape of the same digit."""

import numpy as np

from recognizer.data.drawings import as_mnist, renderings
from recognizer.data.pen import PenDigits, distorted


def _four():
    """A 4 in two strokes, screen coordinates (y down), 100 units high."""
    return [
        np.array([[30.0, 0.0], [10.0, 60.0], [60.0, 60.0]]),
        np.column_stack([np.full(15, 45.0), np.linspace(20, 100, 15)]),
    ]


def _pen(strokes_list, labels):
    # The file's y grows upward; PenDigits.strokes flips it back to screen coordinates.
    points = np.concatenate([s * [1, -1] for strokes in strokes_list for s in strokes]).astype(np.float32)
    sizes = [len(s) for strokes in strokes_list for s in strokes]
    return PenDigits(
        points=points,
        stroke_offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        stroke_counts=np.array([len(strokes) for strokes in strokes_list], np.int32),
        labels=np.array(labels, np.uint8),
        writers=np.zeros(len(labels), np.int32),
    )


def test_a_distorted_digit_keeps_its_strokes_and_their_points():
    strokes = _four()
    out = distorted(strokes, np.random.default_rng(0))
    assert [s.shape for s in out] == [s.shape for s in strokes]
    assert all(np.isfinite(s).all() for s in out)


def test_distortion_reshapes_a_little_not_beyond_recognition():
    strokes, rng = _four(), np.random.default_rng(1)
    moves = []
    for _ in range(50):
        out = distorted(strokes, rng)
        moves.append(np.mean([np.linalg.norm(a - b, axis=1).mean() for a, b in zip(out, strokes, strict=True)]))
    # The digit is 100 high: each point moves a few units on average, never half the digit.
    assert 1 < np.median(moves) < 15 and max(moves) < 35
    assert np.std(moves) > 0.5  # every call draws a new shape


def test_distortion_is_repeatable_with_the_same_seed():
    a = distorted(_four(), np.random.default_rng(7))
    b = distorted(_four(), np.random.default_rng(7))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_without_distortion_renderings_are_unchanged_and_with_it_they_differ():
    pen = _pen([_four(), _four()], [4, 4])
    plain = [rgba for rgba, _ in renderings(pen, seed=3, copies=2)]
    again = [rgba for rgba, _ in renderings(pen, seed=3, copies=2, distort_share=0.0)]
    reshaped = [rgba for rgba, _ in renderings(pen, seed=3, copies=2, distort_share=1.0)]
    assert all(np.array_equal(a, b) for a, b in zip(plain, again, strict=True))
    assert not any(np.array_equal(a, b) for a, b in zip(plain, reshaped, strict=True))


def test_distorted_real_digits_still_read_as_their_digit(pen, shipped_recognizer):
    """Reshaped digits are still their digit: the shipped model reads them nearly as well as the originals."""
    index = np.random.default_rng(0).choice(len(pen), 150, replace=False)
    sample = pen.subset(index)
    x_plain, y = as_mnist(sample, seed=0)
    x_shaped, y_shaped = as_mnist(sample, seed=0, distort_share=1.0)
    assert np.array_equal(y, y_shaped)
    plain = np.mean(shipped_recognizer.predict(x_plain) == y)
    shaped = np.mean(shipped_recognizer.predict(x_shaped) == y)
    assert shaped > 0.9 and shaped > plain - 0.06
