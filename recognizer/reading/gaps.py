"""A blank gap separates digits: no reading of a number puts two inks into one digit across one.

People leave space between digits, and a reading must not join two inks across it, whatever their
sizes. ``Recognizer.read_number`` reads a number whole, as before; when its reading joins inks
that a clear gap keeps apart (``joins_across``), it reads those inks apart (``apart``) instead, so
a number that reads right today reads the same.

A gap is *clear* when it is at least ``CLEAR_GAP`` of the ink's height wide (and a pixel at the
least); an ink beside it stands on its own when it is *tall enough*: at least ``TALL_ENOUGH`` of
the tallest ink's height, and taller than a blot of its stroke. A shorter ink (a detached bar, a
dot, a minus) stays with the neighbour across the narrower gap, so a 5 whose bar stands apart, or
a 7 whose bar is a separate stroke, is still read as one digit: their parts overlap in x, or the
short part joins its body. No single pen digit of the held-out writers has a blank column between
two of its parts at all (docs/numbers.md, "A blank gap separates digits").

    >>> import numpy as np
    >>> ink = np.zeros((100, 200), np.float32)
    >>> ink[10:90, 20:30] = 1; ink[10:90, 60:70] = 1; ink[10:14, 72:90] = 1  # a 1, a 1 and a bar
    >>> [(int(a), int(b)) for a, b in column_groups(ink)]
    [(20, 30), (60, 90)]
"""

from __future__ import annotations

import numpy as np

from recognizer.core.preprocess import INK_LEVEL, stroke_width

CLEAR_GAP = 0.05  # of the ink's height: 9 px for a 180 px number
TALL_ENOUGH = 0.4  # of the tallest ink's height: digits written at 0.55-1.2 times a height
BLOT = 1.6  # strokes: an ink no taller than this many stroke widths is a blot, not a digit


def _ink_runs(mask: np.ndarray) -> list[list[int]]:
    """Runs of columns holding ink, as [start, end) pairs, left to right."""
    columns = np.flatnonzero(mask.any(axis=0))
    breaks = np.flatnonzero(np.diff(columns) > 1)
    starts = [columns[0], *columns[breaks + 1]]
    ends = [*columns[breaks] + 1, columns[-1] + 1]
    return [[int(a), int(b)] for a, b in zip(starts, ends, strict=True)]


def _height(mask: np.ndarray, run: list[int]) -> int:
    rows = np.flatnonzero(mask[:, run[0] : run[1]].any(axis=1))
    return int(rows[-1] - rows[0] + 1)


def _join(runs: list[list[int]], k: int) -> None:
    """Join run ``k`` and run ``k + 1`` into one, across the gap between them."""
    runs[k : k + 2] = [[runs[k][0], runs[k + 1][1]]]


def column_groups(ink: np.ndarray) -> list[tuple[int, int]]:
    """The column ranges [start, end) of the inks that clear gaps keep apart, left to right.

    One range for ink without a clear gap (or no range for no ink).
    """
    mask = ink > INK_LEVEL
    if not mask.any():
        return []
    rows = np.flatnonzero(mask.any(axis=1))
    height = int(rows[-1] - rows[0] + 1)
    runs = _ink_runs(mask)
    clear = max(1.0, CLEAR_GAP * height)
    k = 0
    while k < len(runs) - 1:  # narrow gaps do not separate
        if runs[k + 1][0] - runs[k][1] < clear:
            _join(runs, k)
        else:
            k += 1
    if len(runs) == 1:
        return [(runs[0][0], runs[0][1])]
    ink_box = mask[rows[0] : rows[-1] + 1, runs[0][0] : runs[-1][1]].astype(np.uint8)
    tall = max(TALL_ENOUGH * max(_height(mask, run) for run in runs), BLOT * stroke_width(ink_box))
    while len(runs) > 1:  # a short ink joins its neighbour across the narrower gap
        short = [k for k, run in enumerate(runs) if _height(mask, run) < tall]
        if not short:
            break
        k = short[0]
        gaps = [
            runs[k][0] - runs[k - 1][1] if k else np.inf,
            runs[k + 1][0] - runs[k][1] if k + 1 < len(runs) else np.inf,
        ]
        _join(runs, k - 1 if gaps[0] <= gaps[1] else k)
    return [(a, b) for a, b in runs]


def joins_across(boxes: list[tuple[int, int, int, int]], groups: list[tuple[int, int]]) -> bool:
    """Whether a reading's digit boxes (x, y, w, h) put two of the ``groups`` into one digit: a box
    covering at least half the width of two groups."""
    for x, _, w, _ in boxes:
        covered = [min(x + w, end) - max(x, start) >= (end - start) / 2 for start, end in groups]
        if sum(covered) >= 2:
            return True
    return False


def apart(ink: np.ndarray, groups: list[tuple[int, int]]) -> list[np.ndarray]:
    """``ink`` as one copy per group (``column_groups``), every other column blank, left to right.

    The copies keep ``ink``'s size, so what is read in one keeps its place in the whole.
    """
    if len(groups) <= 1:
        return [ink]
    # Up to 2 px of the gap on each side (at most half of it), for the faint anti-aliased edge.
    parts = []
    for k, (start, end) in enumerate(groups):
        before = groups[k - 1][1] if k else start - 4
        after = groups[k + 1][0] if k + 1 < len(groups) else end + 4
        left, right = max(0, start - min(2, (start - before) // 2)), end + min(2, (after - end) // 2)
        part = np.zeros_like(ink)
        part[:, left:right] = ink[:, left:right]
        parts.append(part)
    return parts
