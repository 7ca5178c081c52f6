"""Split the ink of a written number into digits, left to right.

Connected components of the ink, then the pieces of one digit are merged: pieces that overlap
horizontally belong together (a 5's detached bar sits above its body, a two-stroke 4's pieces
overlap in x), while neighbouring digits, written left to right, barely overlap.

    >>> import numpy as np
    >>> ink = np.zeros((60, 120), np.float32); ink[10:50, 10:16] = 1; ink[10:50, 60:66] = 1
    >>> [box[0] for box in digit_boxes(ink)]
    [10, 60]
"""

from __future__ import annotations

import cv2
import numpy as np

from recognizer.preprocess import INK_LEVEL

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
