"""How number reading holds as people vary their writing, and per source collection of the pen data.

``stress_report`` reads held-out writers' numbers composed with each row of
``recognizer.data.compose.stress_variations`` (plain, each axis alone, a mix of hands and sizes,
all together), spaced and touching. Every row of one kind writes the same digits (the seed is
shared), so a row's change from "plain" is that axis' doing. ``collection_report`` gives the plain
figures and single-digit accuracy for each source collection of the held-out writers, since a
pooled figure hides a collection that reads worse.

    >>> stress = stress_report(load_recognizer(), pen_held_out, count=300)  # doctest: +SKIP
    >>> stress["touching"]["slant ±15°"]["exact"]  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from recognizer.data.compose import GAP_KINDS, sample_numbers, sample_varied, stress_variations
from recognizer.data.pen import PenDigits, collections_of
from recognizer.evaluation.holdout import evaluate_drawings
from recognizer.evaluation.numbers import evaluate_numbers, timed_numbers


def stress_report(recognizer, pen_held_out: PenDigits, count: int = 300, seed: int = 0) -> dict:
    """{"spaced" | "touching": {row: evaluate_numbers' figures + ms_per_number}} on ``count`` numbers a row."""
    report = {}
    for kind in GAP_KINDS:
        report[kind] = {}
        for row, variation in stress_variations(kind).items():
            numbers = list(sample_varied(pen_held_out, count, variation, seed))
            report[kind][row] = timed_numbers(recognizer, numbers)
    return report


def collection_report(recognizer, pen: PenDigits, held_out: np.ndarray, count: int = 300, seed: int = 0) -> dict:
    """Per source collection of the held-out digits ``pen.subset(held_out)``: writers, single digits
    read right (one random canvas rendering each) and 4-digit plain numbers read exactly."""
    collections = collections_of(pen)[held_out]
    report = {}
    for collection in np.unique(collections):
        own = pen.subset(held_out[collections == collection])
        writers = np.unique(own.writers)
        figures = {
            "writers": f"{int(writers.min())}-{int(writers.max())}",
            "writer_count": len(writers),
            "digits": len(own),
            "single_digits": evaluate_drawings(recognizer, own, seed)["accuracy"],
        }
        for kind, gaps in GAP_KINDS.items():
            numbers = list(sample_numbers(own, count, length=4, gaps=gaps, seed=seed))
            figures[kind] = evaluate_numbers(recognizer, numbers)["exact"]
        report[f"collection {int(collection) + 1}"] = figures
    return report


def format_stress(stress: dict) -> str:
    """The stress table as markdown: a row per variation, spaced and touching side by side."""
    kinds = list(stress)
    head = " | ".join(f"{kind}: exact | {kind}: wrong count" for kind in kinds)
    lines = [f"| how the numbers vary | {head} |", "| --- |" + " ---: | ---: |" * len(kinds)]
    rows = [list(stress[kind].items()) for kind in kinds]
    for cells in zip(*rows, strict=True):
        name = cells[0][0] if len({c[0] for c in cells}) == 1 else " / ".join(c[0] for c in cells)
        figures = " | ".join(f"{f['exact']:.1%} | {f['wrong_count']}" for _, f in cells)
        lines.append(f"| {name} | {figures} |")
    return "\n".join(lines)


def format_collections(collections: dict) -> str:
    """The per-collection table as markdown."""
    lines = [
        "| source collection (writer ids) | held-out writers | single digits | spaced, 4 digits | touching, 4 digits |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, f in collections.items():
        lines.append(
            f"| {name} ({f['writers']}) | {f['writer_count']} | {f['single_digits']:.1%} "
            f"| {f['spaced']:.1%} | {f['touching']:.1%} |"
        )
    return "\n".join(lines)
