"""The one path from pixels to model input, shared by training and inference.

``to_model_input`` turns MNIST-format images (bright ink on dark, 28x28) into what every model
takes: float32 (N, 28, 28, 1) in 0..1. Training (``recognizer.training``) and inference
(``recognizer.reading.recognizer``) both call it, so they cannot drift apart.

    >>> import numpy as np
    >>> to_model_input(np.full((2, 28, 28), 255, np.uint8)).max()
    np.float32(1.0)
"""

from __future__ import annotations

import io

import cv2
import numpy as np

IMAGE_SIZE = 28


class BadImageError(ValueError):
    """An input that is not an image the models can take; the message says what is wrong."""


def to_unit(pixels):
    """Pixels 0..255 as float32 0..1: the one place the 1/255 scale is written.

    Takes NumPy arrays of any numeric dtype, or float32 TensorFlow tensors (a ``tf.data`` map
    scales in graph form with the same factor).
    """
    if isinstance(pixels, np.ndarray | np.generic) or not hasattr(pixels, "dtype"):  # a tensor stays in its own
        pixels = np.asarray(pixels, dtype=np.float32)
    return pixels * np.float32(1 / 255)


def to_model_input(images) -> np.ndarray:
    """(N,28,28) or (N,28,28,1), uint8 0..255 or float 0..1 -> float32 (N,28,28,1) in 0..1.

    A single image (28,28) is accepted too and becomes a batch of one; an empty batch stays
    empty. Raises ``BadImageError`` (a ``ValueError``) for any other shape, a non-numeric dtype,
    NaN or infinite values, and floats outside 0..1.
    """
    arr = np.asarray(images)
    if arr.dtype.kind not in "uif":  # "b" bool, "O" objects (None, lists of junk), "U" strings ...
        raise BadImageError(f"expected numeric images, got {arr.dtype} data")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 1):
        raise BadImageError(f"expected images of shape (N, 28, 28) or (N, 28, 28, 1), got {np.shape(images)}")
    if arr.dtype == np.uint8:
        return to_unit(arr)
    arr = arr.astype(np.float32)
    if not arr.size:
        return arr
    if not np.isfinite(arr).all():
        raise BadImageError("images hold NaN or infinite values")
    if arr.max() > 1.0 + 1e-6 or arr.min() < -1e-6:
        raise BadImageError("float images must be scaled to 0..1 (pass uint8 for 0..255)")
    return arr


# --- Drawings, photos and scans -> MNIST format -------------------------------------------------
#
# MNIST's protocol: crop the ink to its bounding box, scale the longer side to 20 px keeping the
# aspect ratio (anti-aliased), then place it in 28x28 with its centre of mass at the centre.
# Canvas drawings add one step MNIST never needed: a fixed-width brush at any drawing size gives
# strokes from hair-thin to blob-thick once scaled, so the stroke width is first set to MNIST's
# typical ratio (see STROKE_RATIO).

DIGIT_BOX = 20
# Stroke width / longer side of the digit's box, MNIST's median (2.7 px strokes in a 20 px box).
STROKE_RATIO = 0.135
INK_LEVEL = 0.25  # ink fraction above which a pixel counts as ink
MIN_CONTRAST = 0.08  # grey images whose ink differs from the paper by less than this are blank
MIN_DIGIT_FRACTION = 0.04  # ink whose extent is under this part of the image is a stray mark


def ink_from_image(image: np.ndarray) -> np.ndarray:
    """The ink of an image as float32 (H, W) in 0..1, whatever its form.

    RGBA with any transparency (what the canvas returns): ink is the alpha channel, so the stroke
    colour does not matter. Opaque RGBA, RGB and gray: ink from luminance, with the polarity
    found from the border (dark ink on light paper is inverted; light on dark kept) and the
    background level subtracted. Raises ``ValueError`` for an array that is not an image.
    """
    arr = checked_image(image)
    alpha = transparent_alpha(arr)
    if alpha is not None:
        return to_unit(alpha)
    gray = cv2.cvtColor(arr[..., :3], cv2.COLOR_RGB2GRAY) if arr.ndim == 3 else arr
    return _ink_from_gray(gray)


def transparent_alpha(arr: np.ndarray) -> np.ndarray | None:
    """The alpha plane of a checked image with a transparent background (ink on nothing, as the
    canvas returns drawings), else None (an opaque image: ink is in its luminance)."""
    if arr.ndim != 3 or arr.shape[2] != 4:
        return None
    # One contiguous copy of the alpha plane: reading it in place strides over 4 bytes per
    # pixel, which made the min and the scaling below several times slower (docs/performance.md).
    alpha = cv2.extractChannel(arr, 3)
    return alpha if alpha.min() < 250 else None


def checked_image(image) -> np.ndarray:
    """``image`` as uint8 (H, W) or (H, W, 3|4); ``ValueError`` for anything that is not an image."""
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)) or min(arr.shape[:2]) < 8:
        raise ValueError(f"expected an H x W (x 3 or 4) image of at least 8x8 pixels, got shape {arr.shape}")
    return _as_uint8(arr)


def _as_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.floating) and arr.size and np.nanmax(arr) <= 1.0:
        # Clip before scaling: a huge negative float (or -inf) times 255 would overflow.
        return (np.clip(np.nan_to_num(arr), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.number) and not np.issubdtype(arr.dtype, np.complexfloating):
        return np.clip(np.nan_to_num(arr), 0, 255).astype(np.uint8)
    raise ValueError(f"unsupported image dtype {arr.dtype}")


def border(gray: np.ndarray) -> np.ndarray:
    """The outermost pixels of an image, where the paper (or the canvas) shows: its polarity."""
    return np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])


def _ink_from_gray(gray: np.ndarray) -> np.ndarray:
    background = float(np.median(border(gray)))
    ink = (255.0 - gray.astype(np.float32)) if background > 127 else gray.astype(np.float32)
    floor = 255.0 - background if background > 127 else background
    ink = np.clip(ink - floor, 0.0, None)
    # Stretch so the darkest ink reads as full ink (pencil on grey paper is faint); a page with
    # hardly any contrast holds no ink at all, only noise.
    peak = float(ink.max())
    if peak < MIN_CONTRAST * 255:
        return np.zeros_like(ink)
    return ink / peak


# Distances by a 5x5 chamfer mask: close to exact Euclidean ones at a fraction of the exact
# transform's time, and a drawing takes two (docs/performance.md).
DISTANCE_MASK = cv2.DIST_MASK_5


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width (px) of a binary ink mask: twice the median ridge of its distance map."""
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, DISTANCE_MASK)
    ridge = (dist > 0) & (dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8)))
    return 2.0 * _median(dist[ridge]) if ridge.any() else 0.0


def _median(values: np.ndarray) -> float:
    """``np.median`` of a non-empty float32 vector, to the bit, and much faster: no copy of the whole
    array sorted, none of its generic checks (docs/performance.md)."""
    n = len(values)
    middle = np.partition(values, [(n - 1) // 2, n // 2])
    low, high = middle[(n - 1) // 2], middle[n // 2]
    return float((low + high) / values.dtype.type(2))


# Up to this half-width change, strokes are thickened or thinned by a dilation or an erosion
# instead of a distance transform: faster for a canvas drawing, and the same pixels, because the
# structuring element is every offset whose 5x5 chamfer distance is within the change (see
# ``_chamfer_disk``). Its cost grows with its radius: beyond this the transform is faster
# (docs/performance.md).
DISK_MAX_RADIUS = 4.0


def set_stroke_width(mask: np.ndarray, width: float, target: float) -> np.ndarray:
    """Thin or thicken a binary mask's strokes from ``width`` to ``target`` px.

    Distance transforms make this one threshold each way: thinning keeps pixels deeper than the
    excess half-width, thickening adds background pixels within the missing half-width.
    """
    half_change = (target - width) / 2.0
    if abs(half_change) < 0.5:
        return mask
    pad = int(np.ceil(max(half_change, 0))) + 1
    padded = cv2.copyMakeBorder(mask, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    if abs(half_change) <= DISK_MAX_RADIUS:
        disk = _chamfer_disk(abs(half_change))
        return cv2.dilate(padded, disk) if half_change > 0 else cv2.erode(padded, disk)
    if half_change < 0:
        dist = cv2.distanceTransform(padded, cv2.DIST_L2, DISTANCE_MASK)
        return (dist > -half_change).astype(np.uint8)
    dist = cv2.distanceTransform(1 - padded, cv2.DIST_L2, DISTANCE_MASK)
    return (dist <= half_change).astype(np.uint8)


def _chamfer_distances(reach: int) -> np.ndarray:
    """(2 reach + 1)² chamfer distances from the middle pixel, as ``distanceTransform`` measures them."""
    around = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    around[reach, reach] = 0
    return cv2.distanceTransform(around, cv2.DIST_L2, DISTANCE_MASK)


_FROM_MIDDLE = _chamfer_distances(int(DISK_MAX_RADIUS) + 1)


def _chamfer_disk(radius: float) -> np.ndarray:
    """The structuring element of every offset within ``radius`` by the chamfer distance.

    A pixel's chamfer distance to the nearest ink is the least over ink pixels of the distance of
    their offset, so "within ``radius`` of ink" is a dilation by these offsets, and "deeper than
    ``radius``" an erosion: the transform's thresholds to the bit. Compared as float32, as there.
    """
    disk = (radius >= _FROM_MIDDLE).astype(np.uint8)
    x, y, w, h = cv2.boundingRect(disk)
    return disk[y : y + h, x : x + w]


def center_by_mass(box_image: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Place a small image in a ``size`` square with its centre of mass at the centre."""
    h, w = box_image.shape
    total = float(box_image.sum())
    ys, xs = np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32)
    cy = float(box_image.sum(axis=1) @ ys) / total
    cx = float(box_image.sum(axis=0) @ xs) / total
    centre = (size - 1) / 2.0
    # Keep the whole box inside the frame even when the mass sits far off its middle.
    dx = float(np.clip(centre - cx, 0, size - w))
    dy = float(np.clip(centre - cy, 0, size - h))
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(box_image, shift, (size, size), flags=cv2.INTER_LINEAR, borderValue=0.0)


Box = tuple[int, int, int, int]  # x, y, w, h


def normalize_digit(ink: np.ndarray, normalize_stroke: bool = True) -> tuple[np.ndarray, Box] | None:
    """Ink (H, W) float 0..1 -> (28x28 float32 MNIST-format image, (x, y, w, h) box) or None.

    None when there is nothing to read: no ink, or only a stray dot or speck (ink smaller than a
    blob of its own stroke width, or than ``MIN_DIGIT_FRACTION`` of the image).
    """
    mask = (ink > INK_LEVEL).astype(np.uint8)
    if not mask.any():
        return None
    x, y, w, h = cv2.boundingRect(mask)
    crop = mask[y : y + h, x : x + w]
    width = stroke_width(crop)
    extent = max(w, h)
    if extent < MIN_DIGIT_FRACTION * max(ink.shape) or extent < 1.6 * width:
        return None
    if normalize_stroke:
        spine = max(extent - width, 1.0)  # extent of the stroke centre lines
        target = STROKE_RATIO / (1 - STROKE_RATIO) * spine
        crop = set_stroke_width(crop, width, target)
        bx, by, bw, bh = cv2.boundingRect(crop)
        if bw == 0:
            return None
        crop = crop[by : by + bh, bx : bx + bw].astype(np.float32)
    else:
        crop = ink[y : y + h, x : x + w].astype(np.float32)
    ch, cw = crop.shape
    scale = DIGIT_BOX / max(ch, cw)
    new_w, new_h = max(1, round(cw * scale)), max(1, round(ch * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (new_w, new_h), interpolation=interpolation)
    peak = float(small.max())
    if peak <= 0:
        return None
    # INTER_AREA over a wide box can overshoot 1 by a few float32 steps, which the models refuse.
    small = np.clip(small / peak, 0.0, 1.0) if peak < 1 else np.minimum(small, 1.0)
    return center_by_mass(small), (int(x), int(y), int(w), int(h))


MAX_PIXELS = 50_000_000  # larger photos (or small files claiming huge sizes) are refused unread


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from an image file's header, without decoding it; None when unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as header:
            return header.size
    except Image.DecompressionBombError:
        return (2**31 - 1, 1)  # Pillow's own bound said it is far too large
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def decode_image(data: bytes, max_side: int = 1600) -> np.ndarray:
    """Decode PNG/JPEG/... bytes to RGB (or RGBA when the file has transparency) uint8.

    The size in the header is checked before any pixel is decoded: more than ``MAX_PIXELS`` is
    refused. Large photos are shrunk so the longer side is ``max_side`` (digits stay far above
    28 px). Raises ``ValueError`` when the bytes are not an image OpenCV can read.
    """
    size = image_size(data)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise ValueError(f"this image is {size[0]:,}×{size[1]:,} pixels; the limit is {MAX_PIXELS // 10**6} megapixels")
    buffer = np.frombuffer(data, np.uint8)
    try:
        decoded = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED) if buffer.size else None
    except cv2.error:
        decoded = None
    if decoded is None:
        raise ValueError("this file is not an image that can be read (use PNG or JPEG)")
    if decoded.dtype != np.uint8:  # 16-bit PNGs: the high byte, without a float copy
        decoded = (decoded >> 8).astype(np.uint8)
    if decoded.ndim == 2:
        image = decoded
    elif decoded.shape[2] == 4:
        image = cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGBA)
    else:
        image = cv2.cvtColor(decoded[..., :3], cv2.COLOR_BGR2RGB)
    return shrunk(image, max_side)[0]


def shrunk(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """``image`` with its longer side at most ``max_side`` (area-averaged), and the factor applied
    (1.0: the image itself, not copied)."""
    longest = max(image.shape[:2])
    if longest <= max_side:
        return image, 1.0
    scale = max_side / longest
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale
