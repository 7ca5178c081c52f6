"""Split the ink of a written number into digits, left to right.

First the ink's connected components, with the pieces of one digit merged: pieces that overlap
horizontally belong together (a 5's detached bar sits above its body, a two-stroke 4's pieces
overlap in x), while neighbouring digits, written left to right, barely overlap (``digit_masks``).

People writing fast make neighbours touch, so one component can hold several digits, and a
digit's detached stroke can stand apart. ``read_digits`` settles both with a classifier that also
answers "not one digit" (recognition-driven segmentation): a group it doubts is cut along
candidate seams (least-ink paths from top to bottom and from bottom to top, found by dynamic
programming), every run of seam intervals up to 1.3 times as wide as high is scored by the
classifier, and the left-to-right path of pieces with the highest total log-probability wins (a
piece much lower than the number pays a prior); a doubtful group may also join its neighbour.

    >>> import numpy as np
    >>> ink = np.zeros((60, 120), np.float32); ink[10:50, 10:16] = 1; ink[10:50, 60:66] = 1
    >>> [box[0] for box in digit_boxes(ink)]
    [10, 60]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from recognizer.core.preprocess import INK_LEVEL, normalize_digit, stroke_width

# Pieces whose x-ranges overlap by more than this share of the narrower one are one digit.
MERGE_OVERLAP = 0.35
# Pieces smaller than this share of the largest piece's area are specks, unless merged.
SPECK_AREA = 0.02


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0])
    return inter / max(1, min(a[1] - a[0], b[1] - b[0]))


def digit_masks(ink: np.ndarray) -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
    """Each digit's ink (a copy of ``ink`` with every other digit erased) and its box, left to right."""
    mask = (ink > INK_LEVEL).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return []
    pieces = sorted(range(1, count), key=lambda k: stats[k, cv2.CC_STAT_LEFT])
    groups: list[dict] = []
    for k in pieces:
        left, width = int(stats[k, cv2.CC_STAT_LEFT]), int(stats[k, cv2.CC_STAT_WIDTH])
        span = (left, left + width)
        target = next((g for g in groups if _overlap(g["span"], span) > MERGE_OVERLAP), None)
        if target is None:
            groups.append({"span": span, "members": [k], "area": int(stats[k, cv2.CC_STAT_AREA])})
        else:
            target["members"].append(k)
            target["span"] = (min(target["span"][0], span[0]), max(target["span"][1], span[1]))
            target["area"] += int(stats[k, cv2.CC_STAT_AREA])
    largest = max(g["area"] for g in groups)
    out = []
    for g in sorted(groups, key=lambda g: g["span"][0]):
        if g["area"] < SPECK_AREA * largest:
            continue
        member = np.isin(labels, g["members"])
        # Anti-aliased edges sit below INK_LEVEL, outside the components: keep ink near members.
        near = cv2.dilate(member.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        out.append((np.where(near, ink, 0).astype(np.float32), cv2.boundingRect(member.astype(np.uint8))))
    return out


def digit_boxes(ink: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The (x, y, w, h) box of each digit, left to right."""
    return [box for _, box in digit_masks(ink)]


# --- Recognition-driven segmentation ------------------------------------------------------------

# (N, 28, 28) float images -> (N, 10 or 11) model output; column 10, when present, is "not one digit".
Classify = Callable[[np.ndarray], np.ndarray]
WORK_HEIGHT = 128  # px: a number's ink is read at most this high
WIDE = 1.1  # a group wider than this share of its height may hold several digits
SEAM_HEIGHT = 56  # groups are cut at this height (px): plenty for a 20 px MNIST digit box
MAX_SEAMS = 14  # candidate cuts per group and direction, the cheapest ...
SEAM_SPACING = 8  # ... at least 1/SEAM_SPACING of the group's height apart
MAX_SPAN = 12  # a digit is at most this many seam intervals wide ...
MAX_ASPECT = 1.3  # ... and at most this much wider than the group is high
MAX_CROSSINGS = 2.5  # a seam crosses at most this many strokes' worth of ink
DIAGONAL_COST = 0.35  # a seam's sideways step, against 1 per ink pixel it crosses


@dataclass(frozen=True)
class Piece:
    """One digit read from a number: its 28x28 model input, box in the source, model output."""

    image: np.ndarray
    box: tuple[int, int, int, int]
    scores: np.ndarray


# Digits of one number are about one height: a piece much lower than the tallest ink is more
# likely part of a digit (a 5's bar, a 4's tail) than a digit, whatever the model thinks of it.
SHORT_PRIOR = 0.1


def _piece_score(piece: Piece, tallest: int) -> float:
    short = piece.box[3] < SHORT * tallest
    return _log_score(piece.scores) + (float(np.log(SHORT_PRIOR)) if short else 0.0)


def _log_score(scores: np.ndarray) -> float:
    """How well a piece reads as one digit: log of its best digit's probability."""
    return float(np.log(max(float(np.max(scores[:10])), 1e-9)))


def _doubtful(scores: np.ndarray) -> bool:
    return len(scores) > 10 and scores[10] >= 0.5


SHORT = 0.6  # a group lower than this share of the tallest may be a detached stroke of a digit


def _may_join(piece: Piece, tallest: int) -> bool:
    return _doubtful(piece.scores) or piece.box[3] < SHORT * tallest


def read_digits(ink: np.ndarray, classify: Classify) -> list[Piece]:
    """The digits in the ink of a written number, left to right (see the module docstring).

    Tall ink is read shrunk to ``WORK_HEIGHT``: the model sees 20 px digits, and the work is a
    fraction; boxes are given in ``ink``'s pixels.
    """
    work, scale = _work_copy(ink)
    pieces = _read_groups(work, classify)
    return pieces if scale == 1.0 else [Piece(p.image, _scaled_box(p.box, 1 / scale), p.scores) for p in pieces]


def _work_copy(ink: np.ndarray) -> tuple[np.ndarray, float]:
    """The ink shrunk so its rows of ink are at most ``WORK_HEIGHT`` high, and the factor."""
    rows = np.flatnonzero((ink > INK_LEVEL).any(axis=1))
    scale = min(1.0, WORK_HEIGHT / (rows[-1] - rows[0] + 1)) if len(rows) else 1.0
    if scale == 1.0:
        return ink, 1.0
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    return cv2.resize(ink, size, interpolation=cv2.INTER_AREA), scale


def _scaled_box(box, factor: float) -> tuple[int, int, int, int]:
    x, y, w, h = box
    return (round(x * factor), round(y * factor), max(1, round(w * factor)), max(1, round(h * factor)))


def _read_groups(ink: np.ndarray, classify: Classify) -> list[Piece]:
    groups = []
    for group_ink, box in digit_masks(ink):
        prepared = normalize_digit(group_ink)
        if prepared is not None:
            groups.append((group_ink, box, prepared[0]))
    if not groups:
        return []
    scores = classify(np.stack([image for _, _, image in groups]))
    singles = [Piece(image, box, s) for (_, box, image), s in zip(groups, scores, strict=True)]
    tallest = max(p.box[3] for p in singles)
    if not any(_may_join(p, tallest) or p.box[2] > WIDE * p.box[3] for p in singles):
        return singles
    return _best_path(groups, singles, classify)


def _best_path(groups: list, singles: list[Piece], classify: Classify) -> list[Piece]:
    """Group-level dynamic programme: each group whole or cut, or two neighbours joined.

    Every candidate piece (cuts of doubtful or wide groups, joins of neighbours) is classified in
    one model call.
    """
    tallest = max(p.box[3] for p in singles)
    to_cut = [k for k, p in enumerate(singles) if _doubtful(p.scores) or p.box[2] > WIDE * p.box[3]]
    cuts = [cut_candidates(groups[k][0]) for k in to_cut]
    pairs = [k for k in range(1, len(singles)) if _may_join(singles[k], tallest) or _may_join(singles[k - 1], tallest)]
    joins = [_join_candidate(groups[k - 1], groups[k]) for k in pairs]
    images = [img for cut in cuts for img in cut.images] + [j[0] for j in joins if j is not None]
    scores = iter(classify(np.stack(images)) if images else [])
    options: list[list[tuple[int, list[Piece]]]] = [[(1, [single])] for single in singles]  # (groups spanned, pieces)
    for k, cut in zip(to_cut, cuts, strict=True):
        pieces = cut.best([next(scores) for _ in cut.images], tallest)
        if len(pieces) > 1:
            options[k].append((1, pieces))
    for k, join in zip(pairs, joins, strict=True):
        if join is not None:
            options[k].append((2, [Piece(join[0], join[1], next(scores))]))
    best: list[tuple[float, list[Piece]]] = [(0.0, [])]
    for k in range(len(groups)):
        candidates = []
        for span, pieces in options[k]:
            before_score, before = best[k + 1 - span]
            candidates.append((before_score + sum(_piece_score(p, tallest) for p in pieces), before + pieces))
        best.append(max(candidates, key=lambda c: c[0]))
    return best[-1][1]


def _join_candidate(left: tuple, right: tuple) -> tuple[np.ndarray, tuple] | None:
    """Two neighbouring groups as one digit: (28x28 image, box), None when nothing readable."""
    prepared = normalize_digit(np.maximum(left[0], right[0]))
    if prepared is None:
        return None
    (x0, y0, w0, h0), (x1, y1, w1, h1) = left[1], right[1]
    box = (min(x0, x1), min(y0, y1), max(x0 + w0, x1 + w1) - min(x0, x1), max(y0 + h0, y1 + h1) - min(y0, y1))
    return prepared[0], box


@dataclass
class Cuts:
    """The candidate pieces of one group: between seams ``i`` < ``j``, at most ``MAX_SPAN`` apart."""

    small: np.ndarray  # the group's ink, SEAM_HEIGHT high
    bounds: list[np.ndarray]  # the group's left edge, the seams, its right edge: x per row
    spans: list[tuple[int, int, tuple[int, int, int, int]]]  # (i, j, box in the source)
    images: list[np.ndarray]  # the 28x28 model input of each span

    def best(self, scores: list[np.ndarray], tallest: int) -> list[Piece]:
        """The best cut, given the classifier's output for ``images`` and the number's ink height."""
        pieces = {
            (i, j): Piece(img, box, s) for (i, j, box), img, s in zip(self.spans, self.images, scores, strict=True)
        }
        return _best_cut(pieces, len(self.bounds) - 1, self.small, self.bounds, tallest)


def cut_candidates(ink: np.ndarray) -> Cuts:
    """Seams through one group's ink and the pieces between them (see ``Cuts``)."""
    mask = (ink > INK_LEVEL).astype(np.uint8)
    x, y, w, h = cv2.boundingRect(mask)
    scale = min(1.0, SEAM_HEIGHT / h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(ink[y : y + h, x : x + w], size, interpolation=cv2.INTER_AREA)
    seams = candidate_seams(small > INK_LEVEL)
    cols = np.arange(small.shape[1])[None, :]
    bounds = [np.full(small.shape[0], -1), *seams, np.full(small.shape[0], small.shape[1] - 1)]
    cuts = Cuts(small, bounds, [], [])
    for i in range(len(bounds) - 1):
        for j in range(i + 1, min(i + MAX_SPAN, len(bounds) - 1) + 1):
            if j > i + 1 and bounds[j].min() - bounds[i].max() > MAX_ASPECT * small.shape[0]:
                break
            inside = (cols > bounds[i][:, None]) & (cols <= bounds[j][:, None])
            prepared = normalize_digit(np.where(inside, small, 0).astype(np.float32))
            if prepared is not None:
                cuts.spans.append((i, j, _to_source(prepared[1], x, y, scale)))
                cuts.images.append(prepared[0])
    return cuts


def candidate_pieces(ink: np.ndarray) -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
    """Every cut piece the reader weighs in any group: (28x28 image, box in ``ink``'s pixels).

    Training mines its hardest "not one digit" examples from them (``negatives.mined_cuts``).
    """
    work, scale = _work_copy(ink)
    out = []
    for group_ink, _ in digit_masks(work):
        cuts = cut_candidates(group_ink)
        boxes = [_scaled_box(box, 1 / scale) for _, _, box in cuts.spans]
        out += list(zip(cuts.images, boxes, strict=True))
    return out


def split_group(ink: np.ndarray, classify: Classify) -> list[Piece]:
    """The best cut of one group's ink into digits (the group itself when no cut reads better)."""
    cuts = cut_candidates(ink)
    if not cuts.images:
        return []
    return cuts.best(list(classify(np.stack(cuts.images))), cv2.boundingRect((ink > INK_LEVEL).astype(np.uint8))[3])


def _to_source(box, x: int, y: int, scale: float) -> tuple[int, int, int, int]:
    bx, by, bw, bh = box
    return (x + round(bx / scale), y + round(by / scale), max(1, round(bw / scale)), max(1, round(bh / scale)))


def _best_cut(pieces: dict, last: int, small: np.ndarray, bounds: list, tallest: int) -> list[Piece]:
    """Seam-level dynamic programme: the best left-to-right run of pieces from seam 0 to ``last``."""
    cols = np.arange(small.shape[1])[None, :]
    best: list[tuple[float, list[Piece]] | None] = [(0.0, [])] + [None] * last
    for j in range(1, last + 1):
        for i in range(max(0, j - MAX_SPAN), j):
            if best[i] is None:
                continue
            if (i, j) in pieces:
                score = best[i][0] + _piece_score(pieces[(i, j)], tallest)
                step = [pieces[(i, j)]]
            else:  # no digit between these seams: only a gap, or a speck, may be passed over
                inside = (cols > bounds[i][:, None]) & (cols <= bounds[j][:, None])
                if (small[inside] > INK_LEVEL).sum() > 0.02 * (small > INK_LEVEL).sum():
                    continue
                score, step = best[i][0], []
            if best[j] is None or score > best[j][0]:
                best[j] = (score, best[i][1] + step)
    return best[last][1] if best[last] is not None else []


def candidate_seams(mask: np.ndarray) -> list[np.ndarray]:
    """Least-ink paths from top to bottom through a binary mask, left to right: x per row each.

    A dynamic programme over the ink's rows gives, for every bottom column, the cheapest path
    (1 per ink pixel crossed, ``DIAGONAL_COST`` per sideways step); the seams are those ending at
    local minima of that cost (the middle of a flat minimum), a few pixels apart, crossing at most
    ``MAX_CROSSINGS`` strokes, the cheapest ``MAX_SEAMS``. The same programme run from the bottom
    up adds the cuts that are clearest near the top (overlapping digits part at one end). Rows
    above and below the ink take the seam's end columns. Sorted by mean column.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    h, w = mask.shape
    if w < 6 or len(rows) < 2:
        return []
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    limit = MAX_CROSSINGS * max(stroke_width(mask.astype(np.uint8)), 1.0)
    seams: list[np.ndarray] = []
    for flipped in (False, True):
        ink = mask[top:bottom][::-1] if flipped else mask[top:bottom]
        for path in _cheapest_paths(ink, limit, margin=max(2, h // 10), min_gap=max(3, h // SEAM_SPACING)):
            path = path[::-1] if flipped else path
            full = np.concatenate([np.full(top, path[0]), path, np.full(h - bottom, path[-1])])
            if all(np.abs(full - other).mean() >= 2 for other in seams):
                seams.append(full)
    return sorted(seams, key=lambda seam: float(seam.mean()))


def _cheapest_paths(mask: np.ndarray, limit: float, margin: int, min_gap: int) -> list[np.ndarray]:
    """The cheapest top-to-bottom paths ending at local minima of the path cost (see above)."""
    w = mask.shape[1]
    total, parent = _seam_costs(mask)
    ends = [x for x in _minima(total) if margin <= x < w - margin and total[x] <= limit]
    ends = _spread(sorted(ends, key=lambda x: total[x]), min_gap=min_gap)[:MAX_SEAMS]
    paths = []
    for end in ends:
        path = np.empty(len(mask), np.int64)
        path[-1] = end
        for row in range(len(mask) - 1, 0, -1):
            path[row - 1] = path[row] + parent[row, path[row]]
        paths.append(path)
    return paths


def _seam_costs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest cost to reach each bottom column, and each row's step (-1, 0, +1) to its parent."""
    h, w = mask.shape
    cost = mask.astype(np.float32)
    total = cost[0].copy()
    parent = np.zeros((h, w), np.int8)
    for row in range(1, h):
        left = np.concatenate([[np.inf], total[:-1]]) + DIAGONAL_COST
        right = np.concatenate([total[1:], [np.inf]]) + DIAGONAL_COST
        stacked = np.stack([left, total, right])
        choice = stacked.argmin(axis=0)
        total = stacked[choice, np.arange(w)] + cost[row]
        parent[row] = choice.astype(np.int8) - 1
    return total, parent


def _minima(values: np.ndarray) -> list[int]:
    """Middles of the runs of equal values lower than both neighbouring values (not at the ends)."""
    v = np.round(values, 3)
    out, start = [], 0
    for end in range(1, len(v) + 1):
        if end == len(v) or v[end] != v[start]:
            if start > 0 and end < len(v) and v[start - 1] > v[start] < v[end]:
                out.append((start + end - 1) // 2)
            start = end
    return out


def _spread(ranked: list[int], min_gap: int) -> list[int]:
    """Keep positions in rank order, skipping any within ``min_gap`` of one already kept."""
    kept: list[int] = []
    for x in ranked:
        if all(abs(x - k) >= min_gap for k in kept):
            kept.append(x)
    return kept
