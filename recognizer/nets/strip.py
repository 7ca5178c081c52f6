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

The app reads without TensorFlow: the convolutional front (strip to band features) is converted to
LiteRT (``FRONT_FILE``), and the bidirectional GRU and the last Dense layer run in NumPy
(``recurrent_logits``) from their weights (``RECURRENT_FILE``). Keras 3's GRU converts to a LiteRT
loop that does not run, and in NumPy it costs a few hundred microseconds per strip.
``write_reader_files`` writes both beside ``model.keras``, stamped with its hash.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np

from recognizer.core.preprocess import INK_LEVEL
from recognizer.nets.convert import litert_is_fresh, to_litert, write_litert

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


# --- The reader as the app reads it: a LiteRT front and a NumPy recurrent part ------------------

FRONT_FILE = "front.tflite"  # beside model.keras: strip (N, STRIP_HEIGHT, W, 1) -> band features (N, W / BAND, F)
RECURRENT_FILE = "recurrent.npz"  # beside model.keras: the BiGRU's and the Dense layer's weights
DIRECTIONS = ("forward", "backward")
RECURRENT_KEYS = (
    *(f"{d}_{part}" for d in DIRECTIONS for part in ("kernel", "recurrent_kernel", "bias")),
    "dense_kernel",
    "dense_bias",
)


def front_model(model):
    """The strip reader's convolutional front as a Keras model: the strip in, the output of its
    last Reshape (one feature vector per column band, before dropout and the GRU) out."""
    import keras

    reshapes = [layer for layer in model.layers if isinstance(layer, keras.layers.Reshape)]
    if not reshapes:
        raise ValueError(f"{model.name} has no Reshape layer ending its convolutional front")
    return keras.Model(model.inputs[0], reshapes[-1].output, name=f"{model.name}_front")


def _check_recurrent_part(layers: list) -> None:
    """``ValueError`` unless the layers after the front are what ``recurrent_logits`` computes:
    dropout, a concatenating bidirectional GRU (reset after, tanh and sigmoid), dropout, a linear Dense."""
    import keras

    kinds = [type(layer).__name__ for layer in layers if not isinstance(layer, keras.layers.Dropout)]
    if kinds != ["Bidirectional", "Dense"]:
        raise ValueError(f"after the front expected Bidirectional and Dense layers, found {kinds}")
    recurrent, dense = [layer for layer in layers if not isinstance(layer, keras.layers.Dropout)]
    expected = {"reset_after": True, "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True}
    for gru in (recurrent.forward_layer, recurrent.backward_layer):
        found = {key: gru.get_config()[key] for key in expected}
        if not isinstance(gru, keras.layers.GRU) or found != expected:
            raise ValueError(f"{gru.name} is not a GRU as the NumPy reader computes it: {found}")
    if recurrent.merge_mode != "concat" or dense.get_config()["activation"] != "linear" or not dense.use_bias:
        raise ValueError("the GRU's directions must be concatenated and the Dense layer linear with a bias")


def recurrent_weights(model) -> dict[str, np.ndarray]:
    """The weights of the layers after the front (``RECURRENT_KEYS``), float32, for ``recurrent_logits``.

    Keras keeps a GRU's gates in the order z, r, h along the last axis; its bias holds the input
    bias and the recurrent bias (reset_after), one row each.
    """
    import keras

    after = model.layers[model.layers.index(front_model(model).layers[-1]) + 1 :]
    _check_recurrent_part(after)
    recurrent = next(layer for layer in after if isinstance(layer, keras.layers.Bidirectional))
    weights = {}
    for direction, gru in zip(DIRECTIONS, (recurrent.forward_layer, recurrent.backward_layer), strict=True):
        cell = gru.cell
        for part in ("kernel", "recurrent_kernel", "bias"):
            weights[f"{direction}_{part}"] = np.asarray(getattr(cell, part), np.float32)
    weights["dense_kernel"] = np.asarray(after[-1].kernel, np.float32)
    weights["dense_bias"] = np.asarray(after[-1].bias, np.float32)
    return weights


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function through tanh: exact in float32 and never overflows, where 1/(1+exp(-x)) can."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def recurrent_logits(features: np.ndarray, weights: dict[str, np.ndarray]) -> np.ndarray:
    """Band features (N, T, F) -> logits (N, T, 11): the bidirectional GRU and the Dense layer in NumPy.

    Both directions step together (the backward one over the bands right to left), one matrix
    product per step for the two; the input's part of every gate is computed for all steps at once.
    """
    x = np.asarray(features, np.float32)
    kernels = np.stack([weights[f"{d}_kernel"] for d in DIRECTIONS])[:, None]  # (2, 1, F, 3U)
    recurrent = np.stack([weights[f"{d}_recurrent_kernel"] for d in DIRECTIONS])  # (2, U, 3U)
    biases = np.stack([weights[f"{d}_bias"] for d in DIRECTIONS])  # (2, 2, 3U): input, recurrent
    units, steps = recurrent.shape[1], x.shape[1]
    gates_in = np.stack([x, x[:, ::-1]]) @ kernels + biases[:, None, None, 0]  # (2, N, T, 3U)
    h = np.zeros((2, x.shape[0], units), np.float32)
    out = np.empty((2, x.shape[0], steps, units), np.float32)
    for t in range(steps):
        gates_h = h @ recurrent + biases[:, None, 1]  # (2, N, 3U)
        gates_x = gates_in[:, :, t]
        z = _sigmoid(gates_x[..., :units] + gates_h[..., :units])
        r = _sigmoid(gates_x[..., units : 2 * units] + gates_h[..., units : 2 * units])
        # reset_after: the reset gate scales the recurrent part after its matrix product.
        candidate = np.tanh(gates_x[..., 2 * units :] + r * gates_h[..., 2 * units :])
        h = z * h + (1.0 - z) * candidate
        out[:, :, t] = h
    # The backward direction's outputs go back into left-to-right order, after the forward ones.
    sequence = np.concatenate([out[0], out[1][:, ::-1]], axis=-1)
    return sequence @ weights["dense_kernel"] + weights["dense_bias"]


def reader_files_fresh(folder: Path, model_file: Path) -> bool:
    """Whether ``folder`` holds both LiteRT files of the reader, made from ``model_file`` as it is now."""
    return all(litert_is_fresh(Path(folder) / name, model_file) for name in (FRONT_FILE, RECURRENT_FILE))


def reader_files(model) -> dict[str, bytes]:
    """The reader's LiteRT files as bytes, by name: the converted front and the recurrent weights."""
    weights = recurrent_weights(model)  # first: a model of another shape is refused before converting
    buffer = io.BytesIO()
    np.savez(buffer, **weights)
    return {FRONT_FILE: to_litert(front_model(model)), RECURRENT_FILE: buffer.getvalue()}


def write_reader_files(
    model, folder: Path, model_file: Path | None = None, files: dict[str, bytes] | None = None
) -> None:
    """Write the reader's ``FRONT_FILE`` and ``RECURRENT_FILE`` into ``folder`` (``files`` when already
    made), each atomically and stamped with the hash of ``model_file`` (default: the folder's ``model.keras``)."""
    folder = Path(folder)
    model_file = Path(model_file) if model_file else folder / "model.keras"
    # Both get the front's kind of stamp (``<file>.json``), so one freshness check covers both.
    for name, data in (files or reader_files(model)).items():
        write_litert(data, folder / name, model_file)


def convert_saved_reader(model_file: Path, folders: list[Path]) -> Path:
    """Load the strip reader saved in ``model_file`` (no code from it is run), convert it once, and
    write its LiteRT files, stamped against ``model_file``, into the first of ``folders`` that takes
    them; the folder written. ``OSError`` (the last folder's) when none can be written."""
    import keras

    model = keras.saving.load_model(model_file, compile=False)
    files = reader_files(model)
    for folder in folders[:-1]:
        try:
            write_reader_files(model, folder, model_file, files)
            return Path(folder)
        except OSError:
            continue  # a read-only folder (a shipped install): the next one
    write_reader_files(model, folders[-1], model_file, files)
    return Path(folders[-1])
