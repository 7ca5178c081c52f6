"""Pen-written digits and numbers as photos and scans of paper, clean or under one hard condition.

``scan_digit`` and ``scan_number`` render pen strokes as ink on white paper (RGB uint8): a 112x112
scan of one digit, with some margin and a realistic pen, or a strip of a few digits of one
writer. Ink darkens the paper it lies on (reflectances multiply), so lines printed on the paper,
uneven light and the ink's colour combine as on a real page. Each condition of ``CONDITIONS`` is
a function of such an image and a seeded ``np.random.Generator``; the ballpoint one is a pen,
not a change of the image (``BALLPOINT``), since a thinner stroke is drawn, not filtered.

    >>> import numpy as np
    >>> bar = [np.array([[0.0, 0.0], [0.0, 10.0]])]
    >>> scan_digit(bar, np.random.default_rng(0)).shape
    (112, 112, 3)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from recognizer.data.compose import place_digits
from recognizer.data.pen import draw_strokes

SCAN_SIZE = 112  # px, the side of a scanned digit
PHONE_SIZE = (3000, 4000)  # width, height of a phone photo, portrait
PAPER = 246.0  # white paper's grey level in a scan


@dataclass(frozen=True)
class Pen:
    """How the ink is laid down: stroke width as a share of the digit's height (or px), colour."""

    width: tuple[float, float] = (0.06, 0.12)  # share of the digit's height
    pixels: bool = False  # ``width`` is in px instead
    colours: tuple[tuple[int, int, int], ...] = ((25, 25, 30),)  # RGB, one picked per image


FELT_PEN = Pen()
# A ballpoint's line: 2-4 px whatever the digit's size, black or blue ink (blue is lighter).
BALLPOINT = Pen(width=(2.0, 4.0), pixels=True, colours=((25, 25, 30), (30, 50, 150)))


def _on_paper(alpha: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """Ink alpha (H, W) uint8 as RGB float32 paper: each channel darkened towards ``colour``."""
    reflectance = np.asarray(colour, np.float32) / 255.0
    a = alpha.astype(np.float32)[..., None] / 255.0
    return PAPER * (1.0 - a * (1.0 - reflectance))


def _stroke_width(pen: Pen, height: float, rng: np.random.Generator) -> float:
    share = float(rng.uniform(*pen.width))
    return share if pen.pixels else share * height


def scan_digit(
    strokes: list[np.ndarray],
    rng: np.random.Generator,
    pen: Pen = FELT_PEN,
    size: int = SCAN_SIZE,
    fill: tuple[float, float] = (0.55, 0.8),
) -> np.ndarray:
    """One digit as a ``size`` square scan: RGB uint8, the digit ``fill`` of the height (55-80 %),
    centred within a few px, as a scanned form's box holds it."""
    pts = np.concatenate(strokes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    height = float(rng.uniform(*fill)) * size
    width = _stroke_width(pen, height, rng)
    scale = min(height / span[1], (size - width - 8) / span[0])
    centre = np.full(2, size / 2) + rng.uniform(-4, 4, 2)
    offset = centre - (lo + hi) / 2 * scale
    alpha = draw_strokes([s * scale + offset for s in strokes], width, (size, size))
    colour = pen.colours[rng.integers(len(pen.colours))]
    return _finished(_on_paper(alpha, colour), rng)


def scan_number(
    digits: list[list[np.ndarray]], rng: np.random.Generator, pen: Pen = FELT_PEN, height: int = 160
) -> np.ndarray:
    """Digits written side by side on paper, 8-30 % of their height apart: RGB uint8,
    ``height`` px high, as wide as they need (digits 50-70 % of the height)."""
    tall = float(rng.uniform(0.5, 0.7)) * height
    width = _stroke_width(pen, tall, rng)
    gaps = list(rng.uniform(0.08, 0.3, len(digits) - 1) * tall)
    size = (int(len(digits) * tall * 1.1 + sum(gaps) + 2 * height), height)
    placed, _, pen_widths = place_digits(digits, gaps, tall, width, size, drops=list(rng.uniform(-3, 3, len(digits))))
    alpha = draw_strokes([s for strokes in placed for s in strokes], pen_widths[0], size)
    colour = pen.colours[rng.integers(len(pen.colours))]
    return _finished(_on_paper(alpha, colour), rng)


def _finished(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Float RGB -> uint8, with a scanner's faint noise."""
    return np.clip(image + rng.normal(0, 1.5, image.shape), 0, 255).astype(np.uint8)


# --- Conditions: each a function of an RGB uint8 photo ----------------------------------------


def paper_texture(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Recycled or cheap paper: fibre grain and blotches, a few % of its brightness, and specks."""
    h, w = image.shape[:2]
    grain = rng.normal(0, 1, (h, w)).astype(np.float32)
    blotches = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), max(2.0, min(h, w) / 30))
    blotches *= 1.0 / max(float(blotches.std()), 1e-6)
    shade = 1.0 + 0.025 * cv2.GaussianBlur(grain, (0, 0), 0.8) / 0.35 + 0.02 * blotches
    out = image.astype(np.float32) * shade[..., None]
    specks = rng.random((h, w)) < 3e-4  # dust: dark single pixels
    out[specks] *= float(rng.uniform(0.4, 0.7))
    return _to_uint8(out)


def uneven_light(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A lamp to one side (a smooth falloff to 55-75 %) and a soft shadow edge across the page."""
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    along = ((xs - w / 2) * np.cos(angle) + (ys - h / 2) * np.sin(angle)) / max(h, w)  # -0.7..0.7
    light = 1.0 - float(rng.uniform(0.25, 0.45)) * (along + 0.7) / 1.4
    # The shadow of a hand or a phone: a band where the light drops by a third, soft-edged.
    turn = rng.uniform(0, 2 * np.pi)
    across = ((xs - w / 2) * np.cos(turn) + (ys - h / 2) * np.sin(turn)) / max(h, w)
    edge = float(rng.uniform(-0.3, 0.3))
    light *= 1.0 - float(rng.uniform(0.2, 0.35)) / (1.0 + np.exp(-(across - edge) / 0.04))
    return _to_uint8(image.astype(np.float32) * light[..., None])


def defocus(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Out of focus: a disc blur 3-6 % of the shorter side wide (3-7 px on a 112 px scan)."""
    diameter = max(3, int(round(float(rng.uniform(0.03, 0.06)) * min(image.shape[:2]))))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (diameter, diameter)).astype(np.float32)
    return cv2.filter2D(image, -1, disc / disc.sum(), borderType=cv2.BORDER_REPLICATE)


def jpeg(image: np.ndarray, rng: np.random.Generator, quality: tuple[int, int] = (40, 90)) -> np.ndarray:
    """Saved as JPEG at a quality of 40-90 and read back."""
    q = int(rng.integers(quality[0], quality[1] + 1))
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def ruled_paper(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lines printed on the paper under the ink, light blue or grey: ruled (every 25-40 % of the
    height, so a line crosses each digit) or squared (every 12-20 %)."""
    h, w = image.shape[:2]
    squared = bool(rng.integers(2))
    step = float(rng.uniform(0.12, 0.2) if squared else rng.uniform(0.25, 0.4)) * h
    colour = np.array([(150, 190, 235), (175, 175, 175)][rng.integers(2)], np.float32) / 255.0
    thick = max(1, int(round(h / 112)))
    lines = np.zeros((h, w), np.uint8)
    for y in np.arange(rng.uniform(0, step), h, step):
        cv2.line(lines, (0, int(y)), (w - 1, int(y)), 255, thick)
    if squared:
        for x in np.arange(rng.uniform(0, step), w, step):
            cv2.line(lines, (int(x), 0), (int(x), h - 1), 255, thick)
    a = lines.astype(np.float32)[..., None] / 255.0
    return _to_uint8(image.astype(np.float32) * (1.0 - a * (1.0 - colour)))


def turned(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Turned by up to 10 degrees either way and seen slightly askew (a perspective of a few %)."""
    h, w = image.shape[:2]
    centre = (w / 2, h / 2)
    rotation = np.vstack([cv2.getRotationMatrix2D(centre, float(rng.uniform(-10, 10)), 1.0), [0, 0, 1]])
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    askew = corners + rng.uniform(-0.04, 0.04, (4, 2)).astype(np.float32) * np.float32([w, h])
    matrix = cv2.getPerspectiveTransform(corners, askew) @ rotation
    return cv2.warpPerspective(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def phone_sized(image: np.ndarray, rng: np.random.Generator, size: tuple[int, int] = PHONE_SIZE) -> np.ndarray:
    """The photo as a small part of a phone photo of the whole sheet (3000x4000 px): enlarged 1.5-3x
    as a camera that close sees it, on a page of the same paper, anywhere but the very edge."""
    factor = float(rng.uniform(1.5, 3.0))
    h, w = image.shape[:2]
    big = cv2.resize(image, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_CUBIC)
    page = np.empty((size[1], size[0], 3), np.uint8)
    page[:] = np.median(image.reshape(-1, 3), axis=0).astype(np.uint8)  # the paper's own colour
    bh, bw = big.shape[:2]
    top = int(rng.integers(size[1] // 10, max(size[1] // 10 + 1, size[1] - bh - size[1] // 10)))
    left = int(rng.integers(size[0] // 10, max(size[0] // 10 + 1, size[0] - bw - size[0] // 10)))
    page[top : top + bh, left : left + bw] = big
    return page


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(image, 0, 255).astype(np.uint8)


Condition = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def unchanged(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The clean scan itself."""
    return image


# The stress table's rows: (name, the pen it is written with, what is done to the image).
CONDITIONS: tuple[tuple[str, Pen, Condition], ...] = (
    ("clean", FELT_PEN, unchanged),
    ("paper texture", FELT_PEN, paper_texture),
    ("uneven light and a shadow", FELT_PEN, uneven_light),
    ("defocus blur", FELT_PEN, defocus),
    ("JPEG quality 40-90", FELT_PEN, jpeg),
    ("thin ballpoint, blue or black", BALLPOINT, unchanged),
    ("ruled or squared paper", FELT_PEN, ruled_paper),
    ("turned ±10° and askew", FELT_PEN, turned),
    ("phone photo size (3000×4000)", FELT_PEN, phone_sized),
)


def condition(name: str) -> tuple[Pen, Condition]:
    """The pen and the change of the row called ``name``; ``KeyError`` naming the rows otherwise."""
    for row, pen, change in CONDITIONS:
        if row == name:
            return pen, change
    raise KeyError(f"no condition {name!r}; the rows are {[row for row, _, _ in CONDITIONS]}")
