"""The drawing API of the shipped model: predict_drawing(s), read_number, read_photo, Prediction."""

import cv2
import numpy as np
import pytest

from recognizer import load_recognizer
from recognizer.data.pen import random_rendering, render_digit
from recognizer.reading.recognizer import Prediction


@pytest.fixture(scope="module")
def rec():
    return load_recognizer()


def test_reads_held_out_writers_drawn_on_the_canvas(rec, held_out):
    rng = np.random.default_rng(123)
    index = rng.choice(len(held_out), 300, replace=False)
    images = [random_rendering(held_out.strokes(i), rng) for i in index]
    predictions = rec.predict_drawings(images)
    digits = np.array([-1 if p is None else p.digit for p in predictions])
    accuracy = np.mean(digits == held_out.labels[index])
    assert accuracy >= 0.97, accuracy  # the bar for real handwriting


def test_prediction_fields(rec, held_out):
    rgba = render_digit(held_out.strokes(0), brush=18, height=150, center=(100, 160))
    p = rec.predict_drawing(rgba)
    assert isinstance(p, Prediction)
    assert isinstance(p.digit, int) and 0 <= p.digit <= 9
    assert isinstance(p.confidence, float) and p.confidence == pytest.approx(float(p.probabilities.max()))
    assert p.probabilities.shape == (10,) and p.probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    assert p.digit == int(p.probabilities.argmax())
    assert p.input.shape == (28, 28) and p.input.dtype == np.float32 and 0 <= p.input.min() <= p.input.max() <= 1
    x, y, w, h = p.box
    ys, xs = np.nonzero(rgba[..., 3] > 0.25 * 255)  # faint anti-aliasing is not ink
    assert (x, y, x + w - 1, y + h - 1) == (xs.min(), ys.min(), xs.max(), ys.max())
    assert p.top(2)[0] == (p.digit, pytest.approx(p.confidence))


def test_image_forms_sizes_and_colours_agree(rec, held_out):
    rgba = render_digit(held_out.strokes(3), brush=20, color=(200, 30, 30))
    expected = rec.predict_drawing(rgba)
    on_paper = 255 - rgba[..., 3]  # dark ink on white, as a scan would be
    forms = [
        np.dstack([on_paper] * 3),  # RGB
        on_paper,  # gray
        np.dstack([np.dstack([on_paper] * 3), np.full_like(on_paper, 255)]),  # opaque RGBA
        cv2.resize(rgba, (560, 560), interpolation=cv2.INTER_LINEAR),  # a 2x (retina) canvas
    ]
    for image in forms:
        got = rec.predict_drawing(image)
        assert got.digit == expected.digit
        np.testing.assert_allclose(got.probabilities, expected.probabilities, atol=0.1)


def test_blank_and_stray_marks_are_none_in_a_batch(rec, held_out):
    blank = np.zeros((280, 280, 4), np.uint8)
    dot = blank.copy()
    alpha = np.zeros((280, 280), np.uint8)
    cv2.circle(alpha, (50, 200), 9, 255, -1)
    dot[..., 3] = alpha
    digit = render_digit(held_out.strokes(5), brush=15)
    assert rec.predict_drawing(blank) is None
    batch = rec.predict_drawings([blank, digit, dot])
    assert batch[0] is None and batch[2] is None
    single = rec.predict_drawing(digit)
    assert batch[1].digit == single.digit
    np.testing.assert_allclose(batch[1].probabilities, single.probabilities, atol=1e-5)
    assert rec.predict_drawings([]) == []


def test_non_image_is_a_value_error(rec):
    with pytest.raises(ValueError):
        rec.predict_drawing(np.zeros((3, 3)))


def _number_canvas(held_out, picks, brush=16):
    """Draw held-out digits side by side on a 700x240 canvas; return it and their labels."""
    canvas = np.zeros((240, 700), np.uint8)
    for slot, i in enumerate(picks):
        # Each digit is 150 px tall in the middle of its own 170 px wide cell.
        alpha = render_digit(held_out.strokes(i), brush=brush, canvas=240, height=150)[..., 3]
        canvas[:, 10 + slot * 170 : 180 + slot * 170] = alpha[:, 35:205]
    rgba = np.zeros((240, 700, 4), np.uint8)
    rgba[..., 3] = canvas
    return rgba, [int(held_out.labels[i]) for i in picks]


def _surely_read(rec, held_out, count: int, brush: int = 16) -> list[int]:
    """The first ``count`` held-out digits of different classes that the model reads right and surely
    on their own: the tests below then check the reading of numbers, not the model's doubts."""
    picks, seen = [], set()
    for i in range(len(held_out)):
        label = int(held_out.labels[i])
        if label in seen:
            continue
        alone = rec.predict_drawing(render_digit(held_out.strokes(i), brush=brush))
        if alone is not None and alone.digit == label and alone.confidence > 0.95:
            picks.append(i)
            seen.add(label)
            if len(picks) == count:
                return picks
    raise AssertionError(f"only {len(picks)} of {count} held-out digits are read surely on their own")


def test_read_number_reads_digits_left_to_right(rec, held_out):
    rgba, labels = _number_canvas(held_out, _surely_read(rec, held_out, 4))
    predictions = rec.read_number(rgba)
    assert [p.digit for p in predictions] == labels
    lefts = [p.box[0] for p in predictions]
    assert lefts == sorted(lefts)
    assert rec.read_number(np.zeros((240, 700, 4), np.uint8)) == []


def test_read_photo_of_dark_ink_on_shaded_paper(rec, held_out):
    rgba, labels = _number_canvas(held_out, _surely_read(rec, held_out, 3, brush=10), brush=10)
    shade = np.linspace(245, 150, 700)[None, :]
    photo = np.clip(shade - rgba[..., 3] * 0.5, 0, 255).astype(np.uint8)
    read = rec.read_photo(np.dstack([photo] * 3))
    assert [p.digit for p in read] == labels
