"""The number reader's network: a convolutional-recurrent net read with CTC, and its input strip.

The ink of a written number is cropped and scaled to a strip ``STRIP_HEIGHT`` px high
(``strip_from_ink``, shared by training and reading), convolutions turn every ``BAND`` px column
band into a feature vector, a bidirectional GRU reads them in order, and each band answers one of
the ten digits or ``BLANK``. CTC (connectionist temporal classification, ``ctc_loss``) trains this
from the digit string alone, with no positions.

    >>> import numpy as np
    >>> ink = np.zeros((100, 300), np.float32); ink[20:80, 40:50] = 1; ink[20:80, 200:210] = 1
    >>> strip, (x0, y0, scale) = strip_from_ink(ink)
    >>> strip.shape[0], (x0, y0)
    (32, (40, 20))
"""

from __future__ import annotations

import cv2
import numpy as np

from recognizer.core.preprocess import INK_LEVEL

STRIP_HEIGHT = 32  # px: the model's input height


INK_HEIGHT = 24  # px: the number's ink is scaled to this height inside the strip


MARGIN = 4  # px of blank strip left and right of the ink


BAND = 4  # px of strip width per model time step


BLANK = 10  # CTC's "no digit here" class


MAX_WIDTH = 1024  # px: longer strips are squeezed (a very long scribble, not a number)


def strip_from_ink(ink: np.ndarray) -> tuple[np.ndarray, tuple[int, int, float]] | None:
    """Ink (H, W) 0..1 -> (strip (STRIP_HEIGHT, W') float32, (ink left, ink top, scale)) or None.

    The ink's box is scaled to ``INK_HEIGHT`` px high (width by the same factor), centred
    vertically, with ``MARGIN`` blank px each side; W' is a multiple of ``BAND``. ``scale`` maps
    source px to strip px, so strip column c is source column ``left + (c - MARGIN) / scale``.
    """
    mask = ink > INK_LEVEL
    if not mask.any():
        return None
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    scale = INK_HEIGHT / h
    width = max(1, round(w * scale))
    if width > MAX_WIDTH - 2 * MARGIN:
        width = MAX_WIDTH - 2 * MARGIN
    crop = ink[y : y + h, x : x + w].astype(np.float32)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (width, INK_HEIGHT), interpolation=interpolation)
    total = -(-(width + 2 * MARGIN) // BAND) * BAND
    strip = np.zeros((STRIP_HEIGHT, total), np.float32)
    top = (STRIP_HEIGHT - INK_HEIGHT) // 2
    strip[top : top + INK_HEIGHT, MARGIN : MARGIN + width] = small
    peak = float(strip.max())
    if peak > 0:
        strip /= peak
    return strip, (int(x), int(y), width / w)


CONV_FILTERS = ((16, (2, 2)), (32, (2, 2)), (64, (2, 1)), (64, (2, 1)))


def build_sequence_model(width: int | None = None, units: int = 64, filters=CONV_FILTERS):
    """The strip reader: (N, STRIP_HEIGHT, W, 1) -> logits (N, W / BAND, 11), class 10 = blank."""
    import keras
    from keras import layers

    inputs = keras.Input((STRIP_HEIGHT, width, 1))
    x = inputs
    for count, pool in filters:
        x = layers.Conv2D(count, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(pool)(x)
    # (N, 2, W/4, C): fold the two rows into the features of each column band.
    x = layers.Permute((2, 1, 3))(x)
    x = layers.Reshape((-1, 2 * filters[-1][0]))(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Bidirectional(layers.GRU(units, return_sequences=True))(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(BLANK + 1)(x)
    return keras.Model(inputs, outputs, name="strip_reader")


def ctc_loss(y_true, y_pred):
    """CTC loss for padded labels (-1 after each number's last digit) and per-band logits."""
    from keras import ops

    label_length = ops.sum(ops.cast(y_true >= 0, "int32"), axis=1)
    labels = ops.where(y_true >= 0, y_true, 0)
    batch, steps = ops.shape(y_pred)[0], ops.shape(y_pred)[1]
    logit_length = ops.full((batch,), steps, dtype="int32")
    return ops.ctc_loss(labels, y_pred, label_length, logit_length, mask_index=BLANK)
