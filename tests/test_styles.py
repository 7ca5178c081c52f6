"""Styled 1s, 7s and 0s (recognizer.data.styles): each variant adds the stroke it names."""

import numpy as np
import pytest

from recognizer.data.styles import VARIANTS, styled


def _one():
    return [np.column_stack([np.full(20, 50.0), np.linspace(0, 100, 20)])]  # a plain stem, y down


def test_plain_variants_leave_the_strokes_as_written():
    strokes = _one()
    assert styled(strokes, "1 plain", np.random.default_rng(0)) is strokes


def test_a_long_flag_rises_from_the_lower_left_to_the_top():
    flag = styled(_one(), "1 long flag", np.random.default_rng(0))[0]
    (x0, y0), (x1, y1) = flag[0], flag[-1]
    assert (x1, y1) == (50.0, 0.0)  # ends at the top of the stem
    assert x0 <= 50 - 30 and 35 <= y0 <= 55  # starts well left, a third to half way down


def test_flag_and_foot_add_a_flag_to_the_top_and_a_foot_centred_under_the_stem():
    for seed in range(20):
        strokes = styled(_one(), "1 flag and foot", np.random.default_rng(seed))
        assert len(strokes) == 3
        flag, stem, foot = strokes
        np.testing.assert_array_equal(stem, _one()[0])  # the writer's own stroke, unchanged
        assert tuple(flag[-1]) == (50.0, 0.0) and flag[0][0] < 50 - 25 and flag[0][1] > 30  # lower left to the top
        # The stem runs x = 50, y 0..100: the foot lies flat along its bottom, as far out on each side.
        assert np.allclose(foot[:, 1], 100.0)
        left, right = foot[:, 0].min(), foot[:, 0].max()
        assert left < 50 < right and abs((left + right) / 2 - 50) < 1e-6
        assert 0.3 * 100 - 1e-6 <= right - left <= 0.6 * 100 + 1e-6  # 15-30 % of the height each way


# A 7 as written in screen coordinates (y down): a bar along the top, then a stem from its right
# end down to the lower left; the stem is at x = 80 - 0.4 y.
SEVEN = [np.array([[20.0, 0.0], [80.0, 0.0]]), np.column_stack([np.linspace(80, 40, 21), np.linspace(0, 100, 21)])]
# A 0: an upright ring, centre (50, 50), 40 wide each side and 50 high each side.
RING = [np.column_stack([50 + 40 * np.cos(t), 50 + 50 * np.sin(t)]) for t in [np.linspace(0, 2 * np.pi, 40)]]


def _added(variant, strokes, seed):
    """The stroke ``variant`` adds to ``strokes``, after checking it keeps the writer's own strokes."""
    out = styled(strokes, variant, np.random.default_rng(seed))
    assert len(out) == len(strokes) + 1 and VARIANTS[variant][0] in (0, 7)
    for kept, written in zip(out, strokes, strict=False):
        np.testing.assert_array_equal(kept, written)
    return out[-1]


@pytest.mark.parametrize("seed", range(10))
def test_a_crossed_seven_is_crossed_flat_across_the_middle_of_its_stem(seed):
    cross = _added("7 crossed", SEVEN, seed)
    (x0, y0), (x1, y1) = cross[0], cross[-1]
    assert min(y0, y1) >= 40 and max(y0, y1) <= 65  # about half way down the 100 px high 7
    assert abs(y1 - y0) <= 0.1 * abs(x1 - x0)  # flat
    middle_y = (y0 + y1) / 2
    stem_x = 80 - 0.4 * middle_y
    assert abs((x0 + x1) / 2 - stem_x) <= 3  # centred on the stem at that height
    assert min(x0, x1) <= stem_x - 10 and max(x0, x1) >= stem_x + 10  # and out on both sides of it


def _outside_ring(x, y) -> bool:
    return ((x - 50) / 40) ** 2 + ((y - 50) / 50) ** 2 > 1


@pytest.mark.parametrize("seed", range(10))
def test_a_slashed_zero_is_slashed_through_its_middle_from_outside_to_outside(seed):
    slash = _added("0 slashed", RING, seed)
    (x0, y0), (x1, y1) = slash[0], slash[-1]
    assert x0 > x1 and y0 < y1  # from upper right to lower left
    assert _outside_ring(x0, y0) and _outside_ring(x1, y1)  # it starts and ends beyond the loop ...
    # ... on a straight line through the ring's centre, so it crosses the loop twice
    to_centre = abs((x1 - x0) * (y0 - 50) - (y1 - y0) * (x0 - 50)) / np.hypot(x1 - x0, y1 - y0)
    assert to_centre < 1.0
    assert np.all(np.diff(slash[:, 0]) < 0) and np.all(np.diff(slash[:, 1]) > 0)  # one straight stroke


@pytest.mark.parametrize("seed", range(10))
def test_a_dotted_zero_has_one_dot_in_its_middle(seed):
    dot = _added("0 dotted", RING, seed)
    assert dot.shape == (1, 2)  # a single point: the canvas draws it as a round dot
    points = np.concatenate(RING)
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    size = points.max(axis=0) - points.min(axis=0)
    assert np.all(np.abs(dot[0] - centre) <= 0.05 * size + 1e-6)  # within 5 % of the box of its centre


@pytest.mark.parametrize("lean", [0.0, 0.5, -0.3])  # upright, leaning right like "/", leaning left
def test_a_slash_crosses_even_a_narrow_zero_at_a_slant(lean):
    t = np.linspace(0, 2 * np.pi, 40)
    y = 40 * np.sin(t)
    narrow = [np.column_stack([50 + 3 * np.cos(t) - lean * y, 50 + y])]  # screen coordinates, y down
    zero_angle = np.degrees(np.arctan2(1.0, lean))  # as it looks, from the horizontal
    for seed in range(20):
        slash = styled(narrow, "0 slashed", np.random.default_rng(seed))[-1]
        (x0, y0), (x1, y1) = slash[0], slash[-1]
        assert x0 > x1 and y0 < y1  # from upper right to lower left
        slash_angle = np.degrees(np.arctan2(y1 - y0, x0 - x1))
        assert abs(slash_angle - zero_angle) >= 29.9 and 5 <= slash_angle <= 85
