"""Training-time augmentation as TensorFlow ops on batches (runs inside ``tf.data``).

One random affine transform per image (rotation, zoom, shift, shear, composed into a single
resampling so the digit is interpolated once), and optionally an elastic distortion (a smooth
random warp, as hands wobble). Never flips: a mirrored 2, 3 or 7 is not a digit.

    >>> import tensorflow as tf
    >>> batch = tf.zeros((4, 28, 28, 1))
    >>> random_affine(batch, rotation=10, zoom=0.1, shift=0.1, shear=10).shape
    TensorShape([4, 28, 28, 1])
    >>> random_elastic(batch, strength=1.5).shape
    TensorShape([4, 28, 28, 1])
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import tensorflow as tf

from recognizer.core.preprocess import normalize_digit


def random_affine(
    images: tf.Tensor,
    rotation: float = 0.0,
    zoom: float = 0.0,
    shift: float = 0.0,
    shear: float = 0.0,
    elastic: float = 0.0,
) -> tf.Tensor:
    """Randomly transform a batch (B, H, W, C) of float images.

    rotation and shear are maximum angles in degrees, zoom a maximum relative scale change
    (0.1 -> 0.9..1.1), shift a maximum translation as a fraction of the image size. elastic > 0
    also bends each image (``random_elastic``) in the same resampling: resampling twice blurs the
    strokes, and a net trained on blurred digits misreads sharp ones (measured: docs/models.md).
    """
    inverse = _random_inverse_affine(images, rotation, zoom, shift, shear)
    if elastic <= 0:
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=inverse,
            output_shape=tf.shape(images)[1:3],
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="CONSTANT",
        )
    rows, cols = _source_pixels(inverse, tf.shape(images)[1], tf.shape(images)[2])
    field = _elastic_field(tf.shape(images), elastic)
    return _bilinear(images, rows + field[..., 0], cols + field[..., 1])


def _random_inverse_affine(images: tf.Tensor, rotation: float, zoom: float, shift: float, shear: float) -> tf.Tensor:
    """One random transform per image, as ImageProjectiveTransform's 8 numbers (output -> input)."""
    batch = tf.shape(images)[0]
    height = tf.cast(tf.shape(images)[1], tf.float32)
    width = tf.cast(tf.shape(images)[2], tf.float32)

    def uniform(limit: float) -> tf.Tensor:
        return tf.random.uniform([batch], -limit, limit)

    angle = uniform(math.radians(rotation))
    shear_angle = uniform(math.radians(shear))
    scale = 1.0 + uniform(zoom)
    tx, ty = uniform(shift) * width, uniform(shift) * height

    # Forward map (input -> output) is A = R(angle) @ Shear @ Scale about the image centre.
    # ImageProjectiveTransform wants the inverse (output -> input), written out for 2x2.
    cos, sin, tan = tf.cos(angle), tf.sin(angle), tf.tan(shear_angle)
    a00, a01 = cos * scale, (cos * tan - sin) * scale
    a10, a11 = sin * scale, (sin * tan + cos) * scale
    det = a00 * a11 - a01 * a10
    i00, i01, i10, i11 = a11 / det, -a01 / det, -a10 / det, a00 / det
    cx, cy = (width - 1) / 2, (height - 1) / 2
    # input = Ainv @ (output - c - t) + c
    ox, oy = cx + tx, cy + ty
    b0 = cx - (i00 * ox + i01 * oy)
    b1 = cy - (i10 * ox + i11 * oy)
    zeros = tf.zeros([batch])
    return tf.stack([i00, i01, b0, i10, i11, b1, zeros, zeros], axis=1)


def _source_pixels(inverse: tf.Tensor, height: tf.Tensor, width: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Where each output pixel (B, H, W) reads from under the transforms ``inverse`` (rows, cols)."""
    rows, cols = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij")
    t = inverse[:, :, None, None]
    source_cols = t[:, 0] * cols + t[:, 1] * rows + t[:, 2]
    source_rows = t[:, 3] * cols + t[:, 4] * rows + t[:, 5]
    return source_rows, source_cols


# Knots of the elastic warp's coarse grid per side: 4 knots over 28 px bends a stroke over about a
# third of the digit, the scale of Simard et al.'s Gaussian-smoothed fields (sigma 4-6 px).
ELASTIC_KNOTS = 4


def random_elastic(images: tf.Tensor, strength: float) -> tf.Tensor:
    """Warp each image of a batch (B, H, W, C) by its own smooth random displacement field.

    The field is Gaussian noise on an ``ELASTIC_KNOTS`` × ``ELASTIC_KNOTS`` grid (standard deviation
    ``strength`` pixels) resized bicubically to the image, so neighbouring pixels move together and
    strokes bend rather than tear (elastic distortion, Simard et al. 2003). Pixels are resampled
    bilinearly; ink pulled from outside the image is blank. With an affine transform too, use
    ``random_affine(..., elastic=strength)``: one resampling instead of two.
    """
    return random_affine(images, elastic=strength) if strength > 0 else images


def _elastic_field(shape: tf.Tensor, strength: float) -> tf.Tensor:
    """Smooth random displacements (B, H, W, 2: rows, cols) in pixels for images of ``shape``."""
    coarse = tf.random.normal(tf.stack([shape[0], ELASTIC_KNOTS, ELASTIC_KNOTS, 2]), stddev=strength)
    return tf.image.resize(coarse, shape[1:3], method="bicubic")


def _bilinear(images: tf.Tensor, rows: tf.Tensor, cols: tf.Tensor) -> tf.Tensor:
    """Sample images (B, H, W, C) at fractional (rows, cols) of shape (B, H, W); outside is 0."""
    # One blank pixel around each image, so a sample past the edge reads blank ink.
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]])
    limit_r = tf.cast(tf.shape(padded)[1] - 1, tf.float32)
    limit_c = tf.cast(tf.shape(padded)[2] - 1, tf.float32)
    rows = tf.clip_by_value(rows + 1, 0, limit_r)
    cols = tf.clip_by_value(cols + 1, 0, limit_c)
    r0, c0 = tf.floor(rows), tf.floor(cols)
    r1, c1 = tf.minimum(r0 + 1, limit_r), tf.minimum(c0 + 1, limit_c)
    wr, wc = (rows - r0)[..., None], (cols - c0)[..., None]

    def at(r, c):
        return tf.gather_nd(padded, tf.cast(tf.stack([r, c], axis=-1), tf.int32), batch_dims=1)

    top = at(r0, c0) * (1 - wc) + at(r0, c1) * wc
    bottom = at(r1, c0) * (1 - wc) + at(r1, c1) * wc
    return top * (1 - wr) + bottom * wr


def canvas_style(images: np.ndarray, upscale: int = 4) -> np.ndarray:
    """MNIST digits redrawn the way the app sees a canvas drawing: crisp, even-width strokes.

    Each image is enlarged, cut to ink / no ink and sent through the drawing preprocessing
    (``recognizer.core.preprocess.normalize_digit``: stroke width set to MNIST's median ratio, box to
    20 px, centred by mass). Training on a share of these teaches the model the look of drawings
    while the labels stay MNIST's. uint8 (N, 28, 28) in and out; an image the preprocessing
    reads as blank is kept as it was.
    """
    size = 28 * upscale
    out = images.copy()
    for i, image in enumerate(images):
        big = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
        prepared = normalize_digit(big)
        if prepared is not None:
            out[i] = np.round(prepared[0] * 255).astype(np.uint8)
    return out
