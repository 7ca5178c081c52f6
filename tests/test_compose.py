"""Composed numbers (recognizer.data.compose) and "not one digit" examples (recognizer.data.negatives)."""

import numpy as np
import pytest

from recognizer.core.preprocess import INK_LEVEL
from recognizer.data.compose import compose_layers, compose_number, sample_numbers
from recognizer.data.negatives import CLEAR_LETTERS, NEGATIVE_LETTERS, digit_groups, fragments, scribbles
from recognizer.data.pen import writer_split


def _bar(height=10.0):
    return [np.array([[0.0, 0.0], [0.0, height]])]


def _ink_columns(alpha: np.ndarray, level: float = INK_LEVEL) -> np.ndarray:
    return np.flatnonzero((alpha > level * 255).any(axis=0))


@pytest.mark.parametrize("gap", [-6.0, 0.0, 6.0, 30.0])
def test_gaps_between_neighbours_are_as_asked(gap):
    square = [np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0], [0.0, 0.0]])]
    layers, boxes = compose_layers([square, square], gaps=[gap], height=100, brush=10, size=(400, 200))
    # The stroke's geometric edge is where anti-aliased ink is half on.
    left, right = _ink_columns(layers[0], 0.5), _ink_columns(layers[1], 0.5)
    measured = right.min() - left.max() - 1
    assert abs(measured - gap) <= 2, (gap, measured)
    assert boxes[0][0] == pytest.approx(left.min(), abs=1) and boxes[1][0] == pytest.approx(right.min(), abs=1)
    assert boxes[0][3] == pytest.approx(110, abs=2)  # the digit's height plus the brush


def test_a_number_too_long_for_the_canvas_is_shrunk_to_fit():
    rgba, boxes = compose_number([_bar()] * 10, gaps=[200.0] * 9, height=180, brush=20, size=(840, 280))
    cols = _ink_columns(rgba[..., 3])
    assert cols.min() > 0 and cols.max() < 839
    assert len(boxes) == 10 and [b[0] for b in boxes] == sorted(b[0] for b in boxes)


def test_sampled_numbers_come_from_one_writer(pen):
    _, held = writer_split(pen)
    held_out = pen.subset(held)
    numbers = list(sample_numbers(held_out, 20, length=4, seed=3))
    assert len(numbers) == 20
    for number in numbers:
        assert number.image.shape == (280, 840, 4) and len(number.labels) == 4 and len(number.boxes) == 4
        assert set(number.labels) <= set(held_out.labels[held_out.writers == number.writer])
    again = next(sample_numbers(held_out, 1, length=4, seed=3))
    assert again.labels == numbers[0].labels and np.array_equal(again.image, numbers[0].image)


def test_not_digit_examples_are_mnist_format(pen):
    for images in (digit_groups(pen, 20), fragments(pen, 20), scribbles(20)):
        assert images.dtype == np.uint8 and images.shape == (20, 28, 28)
        assert (images.max(axis=(1, 2)) > 200).all()  # every one holds ink


def test_measured_letters_are_in_the_training_negatives():
    assert set(CLEAR_LETTERS) <= set(NEGATIVE_LETTERS)
    assert not set("OolISsZzBbgq") & set(NEGATIVE_LETTERS)  # letters that look like digits
