"""Inside the network: every layer's activations for one 28x28 image, and pictures of them.

``LayerProbe`` is built once per Keras model: a multi-output model over the model's own layers,
converted to LiteRT once, so one forward pass gives every layer's output.
``steps`` groups a convolution with the batch norm and activation that follow it, as a learner
reads a network. The pictures are NumPy images (uint8 RGB) for ``st.image``: hundreds of small
feature maps as one tiled image, not hundreds of plot panels.

    >>> from recognizer.nets.architectures import build_model  # doctest: +SKIP
    >>> probe = LayerProbe(build_model("lenet5"))  # doctest: +SKIP
    >>> [layer.name for layer in probe.run(np.zeros((28, 28), np.float32))][:2]  # doctest: +SKIP
    ['conv2d', 'max_pooling2d']
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from recognizer.core.preprocess import to_model_input

TILE_PX = 56  # a feature map's side on screen: 28x28 maps at 2x, 4x4 maps at 14x
GAP_PX = 2
GAP_GREY = 200  # the gap between maps, light grey: white is zero on the diverging scale


@dataclass(frozen=True)
class Layer:
    """One layer's output for one image: ``values`` without the batch axis."""

    name: str
    kind: str  # conv, batchnorm, activation, pool, dropout, flatten, dense, output, other
    caption: str
    values: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    @property
    def is_maps(self) -> bool:
        """True for feature maps (height, width, channels), False for a vector."""
        return self.values.ndim == 3


# ---------------------------------------------------------------------------------------------
# The layers of a model
# ---------------------------------------------------------------------------------------------


def members(model) -> list:
    """The models an ensemble averages (its nested models, in order); [] for a plain network."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def _activation_name(layer) -> str:
    return str(layer.get_config().get("activation", "linear"))


def _conv_caption(layer) -> str:
    config = layer.get_config()
    size = "×".join(str(k) for k in config["kernel_size"])
    text = (
        f"Convolution: {config['filters']} filters of {size} slid over the input; a map is red where its filter matches"
    )
    if max(config["strides"]) > 1:
        text += f"; stride {max(config['strides'])} shrinks the maps (learned downsampling)"
    elif config["padding"] == "valid":
        text += f"; no padding, so the maps shrink by {config['kernel_size'][0] - 1}"
    activation = _activation_name(layer)
    return text + ("; then ReLU keeps the positive part." if activation == "relu" else ".")


def describe(layer, last: bool = False) -> tuple[str, str]:
    """A layer's kind and a one-line caption of what it does at inference."""
    import keras

    kinds = keras.layers
    if isinstance(layer, kinds.Conv2D):
        return "conv", _conv_caption(layer)
    if isinstance(layer, kinds.BatchNormalization):
        return "batchnorm", "Batch norm: each map shifted and scaled by amounts fixed in training."
    if isinstance(layer, kinds.Activation | kinds.ReLU):
        name = _activation_name(layer) if isinstance(layer, kinds.Activation) else "relu"
        return "activation", "ReLU: negative values (blue) become 0." if name == "relu" else f"Activation: {name}."
    if isinstance(layer, kinds.MaxPooling2D | kinds.AveragePooling2D):
        pool = "×".join(str(p) for p in layer.get_config()["pool_size"])
        how = "the strongest value" if isinstance(layer, kinds.MaxPooling2D) else "the mean"
        return "pool", f"Pooling: keeps {how} of each {pool} block, so the maps shrink."
    if isinstance(layer, kinds.Dropout):
        rate = layer.get_config()["rate"]
        return (
            "dropout",
            f"Dropout: off when reading, its input passes unchanged (in training it silences {rate:.0%} at random).",
        )
    if isinstance(layer, kinds.Flatten):
        return "flatten", "Flatten: the maps laid out as one long row of numbers, for the dense layer."
    if isinstance(layer, kinds.Dense):
        units, activation = layer.get_config()["units"], _activation_name(layer)
        if last or activation == "softmax":
            return "output", f"Output: {units} scores, one per class, turned into probabilities by {activation}."
        return (
            "dense",
            f"Dense: {units} units, each a weighted sum of every input{', then ReLU' if activation == 'relu' else ''}.",
        )
    return "other", f"{type(layer).__name__}."


class LayerProbe:
    """Every layer's output of ``model`` for one image, in one pass of a LiteRT copy.

    The copy is a multi-output model over the model's own layers, converted once (seconds), its
    weights as they are then: a model changed later needs a new probe. LiteRT rather than a traced
    TensorFlow function: Streamlit clears Keras's session before every script run, which empties
    TensorFlow's kernel cache, and the first TensorFlow pass after that took ~350 ms for the deepcnn,
    against ~1 ms here (docs/performance.md, "Inside the network"). An ensemble cannot be probed
    whole (its members are models inside it): probe each of ``members(model)`` instead.
    """

    def __init__(self, model: Any):
        import keras
        from ai_edge_litert.interpreter import Interpreter

        from recognizer.nets.convert import to_litert

        if members(model):
            raise ValueError(
                f"{model.name} is an ensemble of {len(members(model))} networks: show one member at a time"
            )
        self.model = model
        self.layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        probe = keras.Model(model.inputs[0], [layer.output for layer in self.layers])
        interpreter = Interpreter(model_content=to_litert(probe), num_threads=1)
        signature = interpreter.get_signature_list()["serving_default"]
        # The signature names the outputs in the Keras model's order (output_0, output_1, ...);
        # the interpreter's own output list is in no such order.
        self._names = [f"output_{n}" for n in range(len(self.layers))]
        if sorted(signature["outputs"]) != sorted(self._names):
            raise ValueError(f"the LiteRT copy of {model.name} gives outputs {signature['outputs']}")
        self._input = signature["inputs"][0]
        self._runner = interpreter.get_signature_runner()
        self._lock = threading.Lock()  # one interpreter, one set of buffers: visitors take turns
        self._described = [describe(layer, n == len(self.layers) - 1) for n, layer in enumerate(self.layers)]

    def run(self, image28: np.ndarray) -> list[Layer]:
        """The output of every layer (input layer left out) for a (28, 28) image in 0..1."""
        image = np.asarray(image28, dtype=np.float32)
        if image.shape != (28, 28):
            raise ValueError(f"expected one (28, 28) image, got shape {image.shape}")
        with self._lock:
            found = self._runner(**{self._input: to_model_input(image)})
            outputs = [np.array(found[name][0]) for name in self._names]
        return [
            Layer(layer.name, kind, caption, output)
            for layer, (kind, caption), output in zip(self.layers, self._described, outputs, strict=True)
        ]

    def layer(self, name: str):
        """The Keras layer called ``name`` (for its kernel)."""
        return next(layer for layer in self.layers if layer.name == name)


def steps(layers: list[Layer]) -> list[list[Layer]]:
    """The layers in the steps a learner reads: a convolution with the batch norm and activation
    right after it is one step (its last layer's output is what the next step sees); every other
    layer is a step of its own."""
    grouped: list[list[Layer]] = []
    for layer in layers:
        follows_conv = grouped and grouped[-1][0].kind == "conv"
        if follows_conv and layer.kind in ("batchnorm", "activation") and layer.shape == grouped[-1][-1].shape:
            grouped[-1].append(layer)
        else:
            grouped.append([layer])
    return grouped


def kernel_image(conv_layer, channel: int) -> np.ndarray:
    """The filter behind feature map ``channel`` of a Conv2D layer, as a (k, k) float array: the
    kernel itself on a one-channel input, else its weights summed over the input channels."""
    kernel = np.asarray(conv_layer.get_weights()[0])  # (kh, kw, in, out)
    if not 0 <= channel < kernel.shape[-1]:
        raise ValueError(f"{conv_layer.name} has {kernel.shape[-1]} filters, not a filter {channel}")
    return kernel[:, :, :, channel].sum(axis=2)


# ---------------------------------------------------------------------------------------------
# Pictures
# ---------------------------------------------------------------------------------------------


def colour_scale(values: np.ndarray) -> float:
    """The magnitude that gets full colour: the 99th percentile of |values|, so a few outliers do
    not leave every other map pale (the strongest 1 % saturate); the largest when that is 0."""
    magnitude = np.abs(np.asarray(values, dtype=np.float32))
    if not magnitude.size:
        return 0.0
    return float(np.percentile(magnitude, 99)) or float(magnitude.max())


def diverging(values: np.ndarray, peak: float | None = None) -> np.ndarray:
    """Values as RGB uint8: white at zero, red for positive, blue for negative, full colour at
    ``peak`` and beyond (default: ``colour_scale``, one scale for every map passed at once)."""
    values = np.asarray(values, dtype=np.float32)
    peak = colour_scale(values) if peak is None else float(peak)
    t = np.clip(values / peak, -1.0, 1.0) if peak > 0 else np.zeros_like(values)
    pos, neg = np.clip(t, 0, 1), np.clip(-t, 0, 1)
    rgb = np.stack([1 - neg, 1 - pos - neg, 1 - pos], axis=-1)  # red keeps R, blue keeps B
    return np.round(rgb * 255).astype(np.uint8)


def upscaled(image: np.ndarray, side: int, axes: tuple[int, int] = (0, 1)) -> np.ndarray:
    """An image (or a stack of them, ``axes`` naming height and width) blown up by a whole factor
    with hard pixel edges, to about ``side`` px."""
    factor = max(1, side // max(image.shape[axes[0]], image.shape[axes[1]]))
    return np.repeat(np.repeat(image, factor, axis=axes[0]), factor, axis=axes[1])


def map_grid(values: np.ndarray, columns: int = 16, side: int = TILE_PX, peak: float | None = None) -> np.ndarray:
    """(height, width, channels) feature maps as one RGB picture: a grid of ``columns`` maps a row,
    each blown up to about ``side`` px, on one colour scale (``diverging``) for the whole layer."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 3:
        raise ValueError(f"expected feature maps (height, width, channels), got shape {values.shape}")
    maps = upscaled(diverging(np.moveaxis(values, -1, 0), peak), side, axes=(1, 2))  # (channels, s, s, 3)
    columns = min(columns, len(maps))
    rows = -(-len(maps) // columns)
    blank = rows * columns - len(maps)  # the last row's empty places
    maps = np.pad(maps, ((0, blank), (GAP_PX, 0), (GAP_PX, 0), (0, 0)), constant_values=GAP_GREY)
    height, width = maps.shape[1:3]
    grid = maps.reshape(rows, columns, height, width, 3).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * height, columns * width, 3)


def strip(values: np.ndarray, columns: int = 64, cell: int = 12) -> np.ndarray:
    """A vector (a dense layer's units) as rows of ``cell``-pixel squares on one colour scale; the
    last row's empty places grey."""
    values = np.asarray(values, dtype=np.float32).ravel()
    columns = min(columns, len(values))
    rows = -(-len(values) // columns)
    rgb = np.full((rows * columns, 3), GAP_GREY, np.uint8)
    rgb[: len(values)] = diverging(values)
    return upscaled(rgb.reshape(rows, columns, 3), cell * max(rows, columns))


def as_png(rgb: np.ndarray) -> bytes:
    """An RGB uint8 picture as PNG bytes, compressed lightly: drawn again after every drawing, so
    encoding speed matters more than a few kilobytes."""
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError(f"could not encode a picture of shape {rgb.shape} as PNG")
    return encoded.tobytes()
