"""The ink of a photo or scan of paper: uneven light, paper texture, printed lines, specks.

``ink_from_photo`` gives graded ink (0..1) like ``recognizer.core.preprocess.ink_from_image``
gives a drawing's, from the darkness below the paper's own level around each pixel, less the
lines printed on the paper; ``ink_mask_from_photo`` a mask by a local threshold, which parts
touching digits better (docs/photos.md); ``ink_region`` where the ink is.

    >>> import numpy as np
    >>> page = np.full((60, 60), 240, np.uint8)
    >>> page[10:50, 28:33] = 30  # a 1
    >>> ink = ink_from_photo(page)
    >>> float(ink[30, 30]), float(ink[5, 5])
    (1.0, 0.0)
"""

from __future__ import annotations

import cv2
import numpy as np

from recognizer.core.preprocess import INK_LEVEL, MIN_CONTRAST, border, checked_image, to_unit, transparent_alpha


def ink_from_photo(image: np.ndarray) -> np.ndarray:
    """Ink of a photo or scan under uneven light: darkness below the paper around it, specks removed.

    Returns float32 (H, W) in 0..1, graded like ``ink_from_image``'s (a stroke's anti-aliased edge
    stays grey), so a clean scan reads as a drawing does. Dark-on-light and light-on-dark are both
    handled (polarity from the border). An image with a transparent background (a PNG of ink on
    nothing) is read from its alpha channel, as drawings are. ``ValueError`` for an array that is
    not an image.
    """
    arr, drawn = _checked_with_alpha_ink(image)
    if drawn is not None:
        return drawn
    gray = _dark_on_light(arr)
    # No smoothing first: a clean scan's strokes keep their edges, as a drawing's do; noise and
    # paper grain are below the floor or go with the specks.
    gray = gray.astype(np.float32)
    darker = paper_level(gray) - gray
    darker = np.clip(darker - printed_lines(darker), 0.0, None)
    floor = _paper_floor(darker)
    strong = darker[darker > floor]
    if strong.size == 0:
        return np.zeros_like(darker)
    # The strokes' own darkness (robust to a few black specks) is full ink, as the darkest is in
    # ``ink_from_image``; a page whose darkest marks hardly differ from the paper holds no ink.
    peak = float(np.percentile(strong, 99))
    if peak < MIN_CONTRAST * 255:
        return np.zeros_like(darker)
    ink = np.clip((darker - floor) / max(peak - floor, 1.0), 0.0, 1.0)
    return _without_specks(ink)


def ink_mask_from_photo(image: np.ndarray) -> np.ndarray:
    """A photo's ink as a mask (float32 0 or 1) by a local threshold, specks removed.

    What a number in a photo is cut and read from: where two digits touch, the ink around is
    dense, the local threshold stricter, and the touch often drops, so touching digits read
    apart better than from ``ink_from_photo``'s graded ink (docs/photos.md). It hollows strokes
    wider than about a tenth of the image, so one digit is read from the graded ink.
    """
    arr, drawn = _checked_with_alpha_ink(image)
    if drawn is not None:
        return drawn
    light = _dark_on_light(arr).astype(np.float32)
    lines = printed_lines(paper_level(light) - light)
    gray = np.clip(light + lines, 0, 255).astype(np.uint8)  # the lines printed on the paper, paled away
    block = max(15, (min(gray.shape) // 4) | 1)  # odd, a quarter of the image: several strokes wide
    blurred = cv2.GaussianBlur(gray, (5, 5), 0)
    binary = cv2.adaptiveThreshold(blurred, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY_INV, block, 12)
    return _without_specks((binary > 0).astype(np.float32))


def _checked_with_alpha_ink(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The checked image, and its ink when it is ink on a transparent background (read from its
    alpha, as a drawing is; else None). ``ValueError`` for an array that is not an image."""
    arr = checked_image(image)
    alpha = transparent_alpha(arr)
    return arr, None if alpha is None else to_unit(alpha)


def _dark_on_light(arr: np.ndarray) -> np.ndarray:
    """An opaque image as grey uint8 with dark ink on light paper (polarity from the border)."""
    gray = cv2.cvtColor(arr[..., :3], cv2.COLOR_RGB2GRAY) if arr.ndim == 3 else arr
    return gray if np.median(border(gray)) > 127 else 255 - gray


def paper_level(gray: np.ndarray) -> np.ndarray:
    """The paper's brightness under each pixel of a dark-on-light float32 image, strokes left out.

    A closing (brightest, then darkest, within a square wider than any stroke) removes dark marks
    narrower than the square and keeps what is wider (a shadow, a darker half of the page) as
    paper. Computed on a copy at most ``PAPER_SIDE`` px long, the paper being smooth: a phone
    photo's takes milliseconds, not seconds.
    """
    h, w = gray.shape
    shrink = min(1.0, PAPER_SIDE / max(h, w))
    small = cv2.resize(gray, (max(1, round(w * shrink)), max(1, round(h * shrink))), interpolation=cv2.INTER_AREA)
    reach = max(7, (min(small.shape) // PAPER_REACH) | 1)
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (reach, reach))
    level = cv2.morphologyEx(small, cv2.MORPH_CLOSE, square, borderType=cv2.BORDER_REPLICATE)
    level = cv2.blur(level, (reach // 2 | 1, reach // 2 | 1))  # the closing's blocks, smoothed
    return cv2.resize(level, (w, h), interpolation=cv2.INTER_LINEAR) if shrink < 1 else level


def printed_lines(darker: np.ndarray) -> np.ndarray:
    """How much lines printed across the whole page (ruled or squared paper) darken each pixel.

    A printed line darkens its whole row, and ink on it only darkens it more, so the row's
    darkness at its lightest (the 2nd percentile, above noise) is the line's; a digit's stroke,
    even a 7's bar or a heavy 1 in a tight box, leaves a margin of paper in its row or column.
    The same for each column (squared paper); where lines cross, the grid is one layer of
    printing, as dark as either line. Printed lines are thin and come several to a page: a band
    of dark rows wider than ``LINE_WIDTH`` (a heavy 1 filling a tight scan's height), or a
    single line, is taken for ink. Zero on plain paper. Lines that are not level with the image
    (a page photographed at an angle) are not found.
    """
    # A line runs the whole row, so every few pixels along it tell as much as all of them.
    h, w = darker.shape
    rows = _ruled(_lightest(darker[:, :: max(1, w // LINE_SAMPLES)], axis=1))
    columns = _ruled(_lightest(np.ascontiguousarray(darker[:: max(1, h // LINE_SAMPLES)].T), axis=1))
    return np.maximum(rows[:, None], columns[None, :])


LINE_SAMPLES = 400  # pixels looked at along a row or column (more on a large photo is slower, no surer)
LINE_WIDTH = 0.03  # of the image's side (at least 4 px): a printed line is thinner
MIN_LINES = 2  # a page's ruling has several lines; one dark band across is more likely a stroke


def _ruled(darkness: np.ndarray) -> np.ndarray:
    """``darkness`` (one value per row, or column) where it is a printed line; zero elsewhere."""
    dark = np.concatenate([[False], darkness > MIN_CONTRAST * 255 / 2, [False]])
    edges = np.flatnonzero(np.diff(dark.astype(np.int8)))
    starts, ends = edges[::2], edges[1::2]
    thin = (ends - starts) <= max(4, LINE_WIDTH * len(darkness))
    lines = np.zeros(len(darkness), np.float32)
    if thin.sum() >= MIN_LINES:
        for start, end in zip(starts[thin], ends[thin], strict=True):
            # The line's faint edge too (its blur, its anti-aliasing): a pixel beyond the run.
            lines[max(0, start - 1) : end + 1] = 1.0
    return np.maximum(darkness, 0.0) * lines


def _lightest(values: np.ndarray, axis: int) -> np.ndarray:
    """The 2nd percentile along ``axis`` (a partition, not a sort)."""
    k = (values.shape[axis] - 1) // 50
    return np.partition(values, k, axis=axis).take(k, axis=axis)


PAPER_SIDE = 384  # px, the longer side of the copy the paper's brightness is found on
PAPER_REACH = 2  # the closing's square is half the copy's shorter side: wider than any stroke


def _paper_floor(darker: np.ndarray) -> float:
    """How much darker than the paper level paper texture and noise make a pixel: ink is more.

    Otsu's split of a sample of the image tells paper from ink (a heavy digit may cover half of a
    tight scan, so not "most pixels are paper"); the paper's side gives the noise.
    """
    sample = darker[:: max(1, darker.shape[0] // 256), :: max(1, darker.shape[1] // 256)]
    split, _ = cv2.threshold(np.clip(sample, 0, 255).astype(np.uint8), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    paper = sample[sample <= split]
    noise = float(np.median(paper)) + 4.0 * _spread(paper) if paper.size else 0.0
    return max(noise, MIN_CONTRAST * 255 / 2)


def _spread(values: np.ndarray) -> float:
    """A robust standard deviation (1.48 median absolute deviations)."""
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def _without_specks(ink: np.ndarray) -> np.ndarray:
    """``ink`` less the small blobs (paper texture, dust, sensor noise): real strokes are long."""
    mask = (ink > INK_LEVEL).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    min_area = max(12, int(1e-4 * ink.size))
    small = np.zeros(count, bool)
    small[1:] = stats[1:, cv2.CC_STAT_AREA] < min_area
    if small.any():
        # The faint fringe around a removed speck goes with it (it is below INK_LEVEL, so the
        # reading ignores it, but a drawn box or a saved piece would show it).
        gone = cv2.dilate(small[labels].astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        ink[gone & ~(mask > 0) | small[labels]] = 0.0
    return ink


def ink_region(ink: np.ndarray, margin: float = 0.5, least: int = 16) -> tuple[int, int, int, int] | None:
    """Where a photo's ink is, with room around it: (left, top, right, bottom), None for no ink.

    The room is ``margin`` times the ink's longer side (at least ``least`` px) on every side, so
    a local threshold there still sees paper around the strokes as it does on a small scan.
    """
    mask = (ink > INK_LEVEL).astype(np.uint8)
    if not mask.any():
        return None
    x, y, w, h = cv2.boundingRect(mask)
    room = max(least, round(margin * max(w, h)))
    height, width = ink.shape
    return max(0, x - room), max(0, y - room), min(width, x + w + room), min(height, y + h + room)
