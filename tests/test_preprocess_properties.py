"""Property-based tests of the preprocessing path: any array in gives an answer or a ValueError.

Hypothesis draws arrays of many shapes, dtypes and values (NaN, infinities, negatives, huge
numbers); every function that takes pixels from outside must either return something well-formed
or raise ``ValueError`` (never IndexError, cv2.error, ZeroDivisionError, ...).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from recognizer.preprocess import ink_from_image, ink_from_photo, normalize_digit, to_model_input
from recognizer.segment import read_digits

DTYPES = st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.float64, np.bool_])
SHAPES = st.one_of(
    hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=12),
    st.tuples(st.integers(1, 70), st.integers(1, 70)),
    st.tuples(st.integers(1, 70), st.integers(1, 70), st.sampled_from([1, 2, 3, 4, 5])),
)


@st.composite
def arrays(draw):
    dtype = np.dtype(draw(DTYPES))
    shape = draw(SHAPES)
    if dtype.kind == "f":
        elements = st.floats(allow_nan=True, allow_infinity=True, width=32)
    elif dtype.kind == "b":
        elements = st.booleans()
    else:
        info = np.iinfo(dtype)
        elements = st.integers(int(max(info.min, -(2**31))), int(min(info.max, 2**31 - 1)))
    return draw(hnp.arrays(dtype, shape, elements=elements))


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(arrays())
def test_ink_from_image_gives_unit_ink_or_a_value_error(image):
    try:
        ink = ink_from_image(image)
    except ValueError:
        return
    assert ink.dtype == np.float32 and ink.shape == np.asarray(image).shape[:2]
    assert np.isfinite(ink).all() and ink.min() >= 0.0 and ink.max() <= 1.0


@PROPERTY
@given(arrays())
def test_ink_from_photo_gives_unit_ink_or_a_value_error(image):
    try:
        ink = ink_from_photo(image)
    except ValueError:
        return
    assert ink.shape == np.asarray(image).shape[:2] and ink.min() >= 0.0 and ink.max() <= 1.0


@PROPERTY
@given(hnp.arrays(np.float32, st.tuples(st.integers(8, 80), st.integers(8, 80)), elements=st.floats(0, 1, width=32)))
def test_normalize_digit_gives_an_mnist_image_or_none(ink):
    prepared = normalize_digit(ink)
    if prepared is None:
        return
    image, (x, y, w, h) = prepared
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0 + 1e-6 and image.max() > 0
    assert x >= 0 and y >= 0 and x + w <= ink.shape[1] and y + h <= ink.shape[0]


@PROPERTY
@given(arrays())
def test_model_input_is_unit_floats_or_a_value_error(images):
    try:
        x = to_model_input(images)
    except ValueError:
        return
    assert x.ndim == 4 and x.shape[1:] == (28, 28, 1) and x.dtype == np.float32
    assert np.isfinite(x).all() and (x.size == 0 or (x.min() >= 0.0 and x.max() <= 1.0 + 1e-6))


def _everything_is_a_one(images: np.ndarray) -> np.ndarray:
    scores = np.zeros((len(images), 11), np.float32)
    scores[:, 1] = 1.0
    return scores


@PROPERTY
@given(hnp.arrays(np.float32, st.tuples(st.integers(8, 90), st.integers(8, 160)), elements=st.floats(0, 1, width=32)))
def test_read_digits_gives_boxes_inside_the_ink(ink):
    for piece in read_digits(ink, _everything_is_a_one):
        x, y, w, h = piece.box
        assert piece.image.shape == (28, 28) and w >= 1 and h >= 1
        assert x >= -2 and y >= -2 and x + w <= ink.shape[1] + 2 and y + h <= ink.shape[0] + 2


@pytest.mark.parametrize("image", [None, "ink", [[1, 2, 3]], np.zeros((20, 20), object)])
def test_non_arrays_are_value_errors(image):
    with pytest.raises(ValueError):
        ink_from_image(image)
