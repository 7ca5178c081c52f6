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

from recognizer.core.preprocess import ink_from_image, ink_from_photo, normalize_digit, to_model_input
from recognizer.reading.segment import read_digits

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


# --- Fast paths that must give the slow path's answer to the bit -----------------------------


def _transform_thresholded(mask: np.ndarray, width: float, target: float) -> np.ndarray:
    """``set_stroke_width`` as it was before its disk fast path: always the distance transform."""
    import cv2

    from recognizer.core.preprocess import DISTANCE_MASK

    half_change = (target - width) / 2.0
    pad = int(np.ceil(max(half_change, 0))) + 1
    padded = cv2.copyMakeBorder(mask, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    if half_change < 0:
        return (cv2.distanceTransform(padded, cv2.DIST_L2, DISTANCE_MASK) > -half_change).astype(np.uint8)
    return (cv2.distanceTransform(1 - padded, cv2.DIST_L2, DISTANCE_MASK) <= half_change).astype(np.uint8)


MASKS = hnp.arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40)), elements=st.integers(0, 1))


@PROPERTY
@given(mask=MASKS, half_change=st.floats(-4.0, 4.0).filter(lambda h: abs(h) >= 0.5))
def test_thickening_and_thinning_by_a_disk_equal_the_distance_transform(mask, half_change):
    from recognizer.core.preprocess import set_stroke_width

    width = 6.0
    target = width + 2 * half_change
    assert np.array_equal(set_stroke_width(mask, width, target), _transform_thresholded(mask, width, target))


@pytest.mark.parametrize("radius", [0.5, 1.0, 1.4, 1.41, 2.0, 2.19, 2.2, 2.8, 2.83, 3.0, 3.2, 3.6, 4.0])
def test_disk_equals_the_transform_at_the_chamfer_steps(radius):
    """Radii on and beside the chamfer mask's own distances (1, 1.4, 2.1969, 2.8, ...), where an
    exact Euclidean disk would differ from the transform."""
    from recognizer.core.preprocess import set_stroke_width

    mask = np.zeros((30, 30), np.uint8)
    mask[15, 15] = 1
    mask[5:25, 20:27] = 1
    for target in (6.0 + 2 * radius, 6.0 - 2 * radius):
        assert np.array_equal(set_stroke_width(mask, 6.0, target), _transform_thresholded(mask, 6.0, target))


@PROPERTY
@given(values=hnp.arrays(np.float32, st.integers(1, 60), elements=st.floats(0, 100, width=32)))
def test_stroke_width_median_is_numpys_median(values):
    from recognizer.core.preprocess import _median

    assert _median(values) == float(np.median(values))
