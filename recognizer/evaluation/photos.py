"""How well photos are read: held-out writers' digits and numbers as photos of paper, per condition.

``photo_report`` renders, for each row of ``recognizer.data.photos.CONDITIONS`` (clean, paper
texture, uneven light, ...), single digits and 4-digit numbers of writers no model trained on, and
reads them: the digits through ``Recognizer.read_photo`` (right when it reads exactly that one
digit) and ``Recognizer.predict_drawing`` for comparison, the numbers through ``read_photo``
(right only when read exactly). Every row uses the same digits and seeds, so rows differ only by
their condition.

    >>> report = photo_report(load_recognizer(), pen_held_out, count=200)  # doctest: +SKIP
    >>> print(format_table(report))  # doctest: +SKIP
"""

from __future__ import annotations

import time

import numpy as np

from recognizer.data.pen import PenDigits
from recognizer.data.photos import CONDITIONS, condition, scan_digit, scan_number

NUMBER_LENGTH = 4
BATCH = 16  # photos rendered and read at a time


def _digit_picks(pen: PenDigits, count: int, seed: int) -> np.ndarray:
    """``count`` digits, the same for every row: a random order of all, repeated when too few."""
    order = np.random.default_rng(seed).permutation(len(pen))
    return np.resize(order, count)


def _number_picks(pen: PenDigits, count: int, seed: int) -> list[np.ndarray]:
    """``count`` numbers of ``NUMBER_LENGTH`` digits, each of one writer's digits."""
    rng = np.random.default_rng(seed + 1)
    writers, sizes = np.unique(pen.writers, return_counts=True)
    writers = writers[sizes >= NUMBER_LENGTH]
    return [rng.choice(np.flatnonzero(pen.writers == rng.choice(writers)), NUMBER_LENGTH, False) for _ in range(count)]


def condition_row(recognizer, pen: PenDigits, name: str, count: int, numbers: int, seed: int = 0) -> dict:
    """One row of the table: the figures of condition ``name`` on ``count`` digits and ``numbers``
    numbers. ``ms_per_photo`` is the median time ``read_photo`` took on one digit's photo."""
    pen_kind, change = condition(name)
    rng = np.random.default_rng([seed, CONDITIONS.index((name, pen_kind, change))])
    picks = _digit_picks(pen, count, seed)
    photo_right = drawing_right = 0
    times, size = [], None
    # A few photos at a time: a phone photo is 36 MB, and the row holds hundreds.
    for start in range(0, count, BATCH):
        batch = [change(scan_digit(pen.strokes(int(i)), rng, pen_kind), rng) for i in picks[start : start + BATCH]]
        labels = [int(label) for label in pen.labels[picks[start : start + BATCH]]]
        size = size or list(batch[0].shape[1::-1])
        for photo, label in zip(batch, labels, strict=True):
            started = time.perf_counter()
            read = recognizer.read_photo(photo)
            times.append(time.perf_counter() - started)
            photo_right += [p.digit for p in read] == [label]
        drawn = recognizer.predict_drawings(batch)
        drawing_right += sum(p is not None and p.digit == label for p, label in zip(drawn, labels, strict=True))
    exact = 0
    for picks in _number_picks(pen, numbers, seed):
        photo = change(scan_number([pen.strokes(int(i)) for i in picks], rng, pen_kind), rng)
        exact += [p.digit for p in recognizer.read_photo(photo)] == [int(pen.labels[i]) for i in picks]
    return {
        "digits": count,
        "read_photo": photo_right / max(1, count),
        "predict_drawing": drawing_right / max(1, count),
        "numbers": numbers,
        "numbers_exact": exact / max(1, numbers),
        "ms_per_photo": round(1000 * float(np.median(times)), 1) if times else None,
        "image_size": size,
    }


def photo_report(
    recognizer, pen: PenDigits, count: int = 500, numbers: int = 200, seed: int = 0, rows: list[str] | None = None
) -> dict:
    """``condition_row`` for every row of ``CONDITIONS`` (or those named in ``rows``), in order."""
    names = rows or [name for name, _, _ in CONDITIONS]
    return {name: condition_row(recognizer, pen, name, count, numbers, seed) for name in names}


def format_table(report: dict) -> str:
    """The report as a Markdown table, one row per condition."""
    lines = [
        f"| condition | one digit, read_photo | one digit, predict_drawing | {NUMBER_LENGTH}-digit numbers exact "
        "| read_photo ms (median) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, row in report.items():
        numbers = f"{row['numbers_exact']:.1%}" if row["numbers"] else "-"
        lines.append(
            f"| {name} | {row['read_photo']:.1%} | {row['predict_drawing']:.1%} | {numbers} | {row['ms_per_photo']} |"
        )
    return "\n".join(lines)
