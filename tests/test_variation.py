"""Numbers written as people vary them (recognizer.data.compose's Variation) and the stress table.

Each axis is checked on what it draws: the same seed writes the same digits in every row, so a row
differs from "plain" only by its axis.
"""

from dataclasses import replace

import numpy as np
import pytest

from recognizer.core.preprocess import INK_LEVEL
from recognizer.data.compose import (
    AXES,
    PLAIN,
    SPACED_GAPS,
    Variation,
    lending_writers,
    sample_numbers,
    sample_varied,
    slanted,
    stress_variations,
    varied_layout,
    varied_picks,
)
from recognizer.data.pen import collections_of, writer_split
from recognizer.evaluation.stress import format_collections, format_stress, stress_report


def _numbers(held_out, variation, count=12, seed=7):
    return list(sample_varied(held_out, count, variation, seed))


def _ink_rows(image: np.ndarray) -> np.ndarray:
    return np.flatnonzero((image[..., 3] > INK_LEVEL * 255).any(axis=1))


def test_plain_variation_writes_what_sample_numbers_writes(held_out):
    plain = _numbers(held_out, replace(PLAIN, gaps=SPACED_GAPS))
    numbers = list(sample_numbers(held_out, 12, length=4, gaps=SPACED_GAPS, seed=7))
    assert [n.labels for n in plain] == [n.labels for n in numbers]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(plain, numbers, strict=True))


def test_every_axis_row_writes_the_same_digits_as_plain(held_out):
    rows = stress_variations("touching")
    assert {"plain", "all together", *AXES} <= set(rows)
    plain = [n.labels for n in _numbers(held_out, rows["plain"])]
    for name in ("digit heights x0.55-1.2", "baseline and offsets ±20 %", "slant ±15°", "brush 6-32 px"):
        assert [n.labels for n in _numbers(held_out, rows[name])] == plain, name


def test_height_axis_spreads_digit_heights(held_out):
    def spread(variation):
        boxes = [n.boxes for n in _numbers(held_out, variation, count=30)]
        return np.median([max(b[3] for b in bs) / min(b[3] for b in bs) for bs in boxes])

    assert spread(PLAIN) < 1.2 < spread(replace(PLAIN, **AXES["digit heights x0.55-1.2"]))


def test_baseline_axis_moves_digits_up_and_down(held_out):
    def bottoms_spread(variation):
        return np.median([np.ptp([b[1] + b[3] for b in n.boxes]) for n in _numbers(held_out, variation, count=30)])

    assert bottoms_spread(PLAIN) < 20 < bottoms_spread(replace(PLAIN, offsets=0.2, drift=0.2))


def test_slant_shears_upright_strokes():
    upright = [np.array([[0.0, 0.0], [0.0, 10.0]])]  # y down: from the top to the bottom
    (leaning,) = slanted(upright, 15.0)
    assert leaning[0, 0] - leaning[1, 0] == pytest.approx(10 * np.tan(np.radians(15)))  # the top leans right
    assert np.array_equal(leaning[:, 1], upright[0][:, 1])


def test_own_brush_and_mixed_writers(held_out):
    rng = np.random.default_rng(0)
    layout = varied_layout(rng, replace(PLAIN, own_brush=True, brush=(6.0, 32.0)), 4)
    assert len(layout["brushes"]) == 4 and all(6 <= b <= 32 for b in layout["brushes"])
    assert len(set(layout["brushes"])) == 4
    writers = lending_writers(held_out, 4)

    def hands(variation):
        return [len(set(held_out.writers[varied_picks(held_out, rng, variation, writers)])) for _ in range(30)]

    assert set(hands(PLAIN)) == {1}
    assert np.mean(hands(replace(PLAIN, mixed_writers=True))) > 3


def test_length_and_place_axis(held_out):
    numbers = _numbers(held_out, replace(PLAIN, **AXES["1-10 digits, anywhere"]), count=40)
    lengths = [len(n.labels) for n in numbers]
    assert min(lengths) >= 1 and max(lengths) <= 10 and len(set(lengths)) >= 5
    centres = [(_ink_rows(n.image).min() + _ink_rows(n.image).max()) / 2 for n in numbers]
    assert np.ptp(centres) > 40  # not always in the middle of the 280 px canvas


def test_bad_variation_is_refused(held_out):
    for bad in (Variation(gaps=(10.0, 0.0)), Variation(brush=(0.0, 4.0)), Variation(slant=60.0)):
        assert bad.problems()
        with pytest.raises(ValueError):
            next(sample_varied(held_out, 1, bad))


def test_four_source_collections_in_writer_order(pen):
    collections = collections_of(pen)
    assert sorted(set(collections.tolist())) == [0, 1, 2, 3]
    for k in range(4):  # each collection is one run of writer ids, and no writer is in two
        writers = np.unique(pen.writers[collections == k])
        assert np.array_equal(writers, np.arange(writers.min(), writers.max() + 1))
    held = writer_split(pen)[1]
    assert set(collections[held].tolist()) == {0, 1, 2, 3}  # every collection has held-out writers


def test_stress_report_reads_every_row(shipped_recognizer, held_out):
    stress = stress_report(shipped_recognizer, held_out, count=2, seed=3)
    assert set(stress) == {"spaced", "touching"}
    for kind, rows in stress.items():
        assert list(rows) == list(stress_variations(kind))
        for figures in rows.values():
            assert figures["numbers"] == 2 and 0 <= figures["exact"] <= 1 and 0 <= figures["wrong_count"] <= 2
    table = format_stress(stress).splitlines()
    assert len(table) == 2 + len(stress["spaced"]) and table[2].startswith("| plain |")
    collections = {"collection 1": {"writers": "0-13", "writer_count": 8, "single_digits": 0.98, "spaced": 0.9}}
    collections["collection 1"]["touching"] = 0.85
    assert "| collection 1 (0-13) | 8 | 98.0% | 90.0% | 85.0% |" in format_collections(collections)
