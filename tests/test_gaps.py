"""recognizer.reading.gaps: a clear blank gap separates digits, and a digit's own parts stay one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from recognizer.data.compose import sample_varied, stress_variations
from recognizer.data.pen import draw_strokes, render_digit, writer_split
from recognizer.reading.gaps import apart, column_groups, joins_across


def _ink(strokes: list[list[tuple[float, float]]], brush: float = 12, size=(300, 200)) -> np.ndarray:
    return draw_strokes([np.array(s, dtype=float) for s in strokes], brush, size) / 255.0


def test_inks_of_any_size_with_a_clear_gap_between_are_apart():
    tall, short = [(60, 20), (60, 180)], [(110, 90), (110, 170)]  # a 1 of 160 px, and one of 80 px
    (a, b), (c, d) = column_groups(_ink([tall, short]))
    assert a < 60 < b < c < 110 < d
    # A gap narrower than 5 % of the height is no gap: two strokes of one digit.
    assert len(column_groups(_ink([tall, [(72, 90), (72, 170)]]))) == 1


@pytest.mark.parametrize(
    "name, strokes",
    [
        (
            "a 5 whose bar stands apart",
            [[(70, 60), (70, 100), (110, 95), (115, 140), (70, 150)], [(78, 50), (130, 50)]],
        ),
        ("a 7 whose bar is its own stroke", [[(60, 40), (140, 40)], [(135, 52), (90, 170)]]),
        ("a 4 whose bar stops short of its stem", [[(90, 40), (60, 120), (110, 120)], [(118, 40), (118, 170)]]),
        ("a 1 and a dot beside it", [[(100, 40), (100, 170)], [(130, 165), (131, 166)]]),
    ],
)
def test_a_digits_own_parts_stay_one(name, strokes):
    assert len(column_groups(_ink(strokes))) == 1, name


def test_no_held_out_pen_digit_is_cut(pen):
    _, held = writer_split(pen)
    rng = np.random.default_rng(0)
    cut = []
    for i in held:
        ink = render_digit(pen.strokes(int(i)), brush=float(rng.uniform(6, 32)), height=float(rng.uniform(90, 190)))
        if len(column_groups(ink[..., 3] / 255.0)) != 1:
            cut.append(int(i))
    assert cut == []


def test_apart_keeps_each_group_in_place_and_nothing_else():
    ink = _ink([[(60, 20), (60, 180)], [(160, 20), (160, 180)]])
    groups = column_groups(ink)
    left, right = apart(ink, groups)
    assert left.shape == ink.shape and np.array_equal(left + right, ink)
    assert not left[:, groups[1][0] :].any() and not right[:, : groups[0][1]].any()
    assert apart(ink, groups[:1]) == [ink]


def test_a_box_over_two_groups_joins_them():
    groups = [(10, 50), (80, 120)]
    assert joins_across([(5, 0, 110, 50)], groups)
    assert not joins_across([(10, 0, 40, 50), (80, 0, 40, 50)], groups)
    assert not joins_across([(40, 0, 50, 50)], groups)  # a quarter of each: a cut in the wrong place, not a join


def _mixed_numbers(held_out, count: int, seed: int):
    """Spaced 4-digit numbers of digits from different held-out writers, 0.55-1.2 times a height."""
    variation = replace(stress_variations("spaced")["mixed writers, sizes and pens"], offsets=20 / 180)
    return (number.image for number in sample_varied(held_out, count, variation, seed))


def test_a_reading_never_joins_inks_a_clear_gap_keeps_apart(held_out):
    from recognizer import load_recognizer
    from recognizer.core.preprocess import ink_from_image

    rec = load_recognizer()
    for image in _mixed_numbers(held_out, 60, seed=3):
        ink = ink_from_image(image)
        groups = column_groups(ink)
        assert len(groups) == 4  # the digits stand apart
        read = rec.read_number(image)
        assert not joins_across([p.box for p in read], groups)
        assert len(read) >= 4


def test_inks_a_whole_reading_joins_are_read_apart(parted_number):
    from recognizer import load_recognizer
    from recognizer.core.preprocess import ink_from_image

    rec = load_recognizer()
    _, image, digits = parted_number
    ink = ink_from_image(image)
    groups = column_groups(ink)
    whole = rec._pieces(ink)  # read whole, without the rule
    assert len(groups) == 3 and joins_across([p.box for p in whole], groups) and len(whole) == 2
    read = rec.read_number(image)
    assert "".join(str(p.digit) for p in read) == digits
    for p, (start, end) in zip(read, groups, strict=True):  # each digit's box over its own ink
        assert abs(p.box[0] - start) <= 3 and abs(p.box[0] + p.box[2] - end) <= 3
