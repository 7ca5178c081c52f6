"""How well whole numbers are read: composed numbers of held-out writers, read exactly or not.

``number_report`` reads numbers composed from held-out writers' pen digits (touching and spaced,
``recognizer.data.compose``) through ``Recognizer.read_number``; ``reader_report`` reads them with
the strip reader alone.

    >>> report = number_report(load_recognizer(), pen_held_out)  # doctest: +SKIP
"""

from __future__ import annotations

import time

from recognizer.core.preprocess import ink_from_image
from recognizer.data.compose import SPACED_GAPS, TOUCHING_GAPS, ComposedNumber, sample_numbers
from recognizer.data.pen import PenDigits


def evaluate_numbers(recognizer, numbers: list[ComposedNumber]) -> dict:
    """How often ``recognizer.read_number`` reads each composed number exactly, and per digit;
    ``wrong_count``: how many were read with too many or too few digits."""
    exact = digits_right = digit_count = wrong_count = 0
    wrong: list[dict] = []
    for number in numbers:
        read = [p.digit for p in recognizer.read_number(number.image)]
        exact += read == number.labels
        digits_right += (
            sum(a == b for a, b in zip(read, number.labels, strict=False)) if len(read) == len(number.labels) else 0
        )
        digit_count += len(number.labels)
        wrong_count += len(read) != len(number.labels)
        if read != number.labels and len(wrong) < 50:
            wrong.append({"true": "".join(map(str, number.labels)), "read": "".join(map(str, read))})
    return {
        "numbers": len(numbers),
        "exact": exact / max(1, len(numbers)),
        "digit_accuracy": digits_right / max(1, digit_count),
        "wrong_count": wrong_count,
        "examples_wrong": wrong,
    }


# The number-reading figures: (name, digits per number, gaps) on held-out writers.
NUMBER_CASES = (
    ("spaced, 4 digits", 4, SPACED_GAPS),
    ("touching, 4 digits", 4, TOUCHING_GAPS),
    ("touching, 1 digit", 1, TOUCHING_GAPS),
    ("touching, 10 digits", 10, TOUCHING_GAPS),
)


def timed_numbers(recognizer, numbers: list[ComposedNumber]) -> dict:
    """``evaluate_numbers`` with ``ms_per_number``, the mean time ``read_number`` took per number."""
    started = time.perf_counter()
    figures = evaluate_numbers(recognizer, numbers)
    figures["ms_per_number"] = round((time.perf_counter() - started) * 1000 / max(1, len(numbers)), 2)
    return figures


def number_report(recognizer, pen_held_out: PenDigits, count: int = 500, seed: int = 0) -> dict:
    """``timed_numbers`` for each of ``NUMBER_CASES`` (``count`` numbers each)."""
    report = {}
    for name, length, gaps in NUMBER_CASES:
        numbers = list(sample_numbers(pen_held_out, count, length=length, gaps=gaps, seed=seed))
        figures = timed_numbers(recognizer, numbers)
        figures["digits"], figures["gaps_px"] = length, list(gaps)
        report[name] = figures
    return report


def reader_report(reader, pen_held_out, count: int = 500, seed: int = 0) -> dict:
    """How often the strip reader alone reads held-out writers' 4-digit numbers exactly."""
    report = {}
    for name, gaps in (("touching, 4 digits", TOUCHING_GAPS), ("spaced, 4 digits", SPACED_GAPS)):
        numbers = list(sample_numbers(pen_held_out, count, length=4, gaps=gaps, seed=seed))
        right = 0
        for number in numbers:
            found = reader.read(ink_from_image(number.image))
            right += found is not None and found[0].digits == number.labels
        report[name] = right / max(1, len(numbers))
    return report
