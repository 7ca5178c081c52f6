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


def test_flag_and_foot_add_two_strokes_and_the_foot_sits_at_the_bottom():
    strokes = styled(_one(), "1 flag and foot", np.random.default_rng(1))
    assert len(strokes) == 3
    assert np.allclose(strokes[-1][:, 1], 100.0)


@pytest.mark.parametrize("variant", ["7 crossed", "0 slashed", "0 dotted"])
def test_each_style_adds_one_stroke(variant):
    ring = [np.column_stack([50 + 40 * np.cos(t), 50 + 50 * np.sin(t)]) for t in [np.linspace(0, 2 * np.pi, 40)]]
    strokes = styled(ring, variant, np.random.default_rng(2))
    assert len(strokes) == 2 and VARIANTS[variant][0] in (0, 7)


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
