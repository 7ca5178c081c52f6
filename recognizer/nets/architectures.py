"""Named, pure model builders: ``build_model(name) -> keras.Model`` (uncompiled).

Every model takes float32 images (N, 28, 28, 1) scaled to 0..1, ink bright on dark (see
``recognizer.core.preprocess.to_model_input``), and ends in a 10-way softmax (11-way with the class
"not one digit", see ``recognizer.data.negatives``).

    >>> from recognizer.nets.architectures import build_model, MODELS
    >>> sorted(MODELS)
    ['cnn', 'deepcnn', 'fastcnn', 'lenet5', 'mlp']
    >>> build_model("lenet5").output_shape
    (None, 10)

Architectures:
- ``mlp``: two hidden dense layers; the baseline that ignores image structure.
- ``lenet5``: LeCun et al. 1998, with ReLU and max pooling.
- ``cnn``: the classic Conv-Conv-Pool-Dropout x2 -> Dense -> Dropout -> softmax.
- ``deepcnn``: the stronger design: batch-normalised 3x3 conv pairs, learned (strided 5x5)
  downsampling instead of max pooling, heavy dropout, a 4x4 conv head. ~0.33 M parameters.
- ``fastcnn``: made to learn MNIST in one epoch (the "quick" preset): three batch-normalised
  conv-pool stages (16, 32, 64 filters), no dropout, a linear head. ~30 k parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
from keras import layers

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    builder: Callable[[int], keras.Model]


def _mlp(num_classes: int = NUM_CLASSES) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            layers.Flatten(),
            layers.Dense(512, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(512, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="mlp",
    )


def _lenet5(num_classes: int = NUM_CLASSES) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            layers.Conv2D(6, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 5, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(120, activation="relu"),
            layers.Dense(84, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="lenet5",
    )


def _cnn(num_classes: int = NUM_CLASSES) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            layers.Conv2D(32, 5, padding="same", activation="relu"),
            layers.Conv2D(32, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.25),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="cnn",
    )


def _conv_bn(filters: int, kernel: int, strides: int = 1, padding: str = "same", momentum: float = 0.99) -> list:
    # Bias is redundant before batch norm, which has its own shift.
    return [
        layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False),
        layers.BatchNormalization(momentum=momentum),
        layers.Activation("relu"),
    ]


def _deepcnn(num_classes: int = NUM_CLASSES, width: int = 32, name: str = "deepcnn") -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            *_conv_bn(width, 3),
            *_conv_bn(width, 3),
            *_conv_bn(width, 5, strides=2),  # 28 -> 14
            layers.Dropout(0.4),
            *_conv_bn(2 * width, 3),
            *_conv_bn(2 * width, 3),
            *_conv_bn(2 * width, 5, strides=2),  # 14 -> 7
            layers.Dropout(0.4),
            *_conv_bn(4 * width, 4, padding="valid"),  # 7 -> 4
            layers.Flatten(),
            layers.Dropout(0.4),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name=name,
    )


def _widecnn(num_classes: int = NUM_CLASSES) -> keras.Model:
    # The deepcnn with half as many filters again: 2.25x its weights and its cost per image.
    return _deepcnn(num_classes, width=48, name="widecnn")


def _fastcnn(num_classes: int = NUM_CLASSES) -> keras.Model:
    # Sized for a one-epoch run on a CPU: about the keras.io convnet's cost per image (batch norm
    # costs more than the extra filters), yet it reaches 99 % within one epoch where that one needs
    # several (docs/performance.md). Batch-norm momentum 0.9: the moving statistics the test uses
    # follow the weights within about 10 batches; at Keras's 0.99 (100 batches) they lag a one-epoch
    # run's fast-moving weights and the test accuracy suffers. Dropout would only slow one epoch down.
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE),
            *_conv_bn(16, 5, momentum=0.9),  # 5x5 is cheap on one input channel and sees a whole stroke
            layers.MaxPooling2D(2),  # 28 -> 14
            *_conv_bn(32, 3, momentum=0.9),
            layers.MaxPooling2D(2),  # 14 -> 7
            *_conv_bn(64, 3, momentum=0.9),
            layers.MaxPooling2D(2),  # 7 -> 3
            layers.Flatten(),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="fastcnn",
    )


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("mlp", "Multilayer perceptron, 2x512 hidden units", _mlp),
        ModelSpec("lenet5", "LeNet-5 (ReLU, max pooling)", _lenet5),
        ModelSpec("cnn", "Classic CNN: (Conv-Conv-Pool-Dropout) x2, Dense 256", _cnn),
        ModelSpec("deepcnn", "Batch-norm CNN with strided-conv downsampling", _deepcnn),
        ModelSpec("widecnn", "The batch-norm CNN with 1.5x the filters (48-96-192)", _widecnn),
        ModelSpec("fastcnn", "Small batch-norm CNN (16-32-64 filters) that learns in one epoch", _fastcnn),
    )
}


def build_model(name: str, num_classes: int = NUM_CLASSES) -> keras.Model:
    """Build a fresh, uncompiled model by registry name; ``ValueError`` for an unknown name.

    ``num_classes`` 11 adds the class "not one digit" (``recognizer.core.classes.NOT_DIGIT``).
    """
    try:
        spec = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(MODELS)}") from None
    return spec.builder(num_classes)


def parameter_count(model: keras.Model) -> int:
    """Total number of weights (trainable and not) in ``model``."""
    return int(model.count_params())


def inference_copy(model: keras.Model, name: str | None = None) -> keras.Model:
    """The same layers and weights without optimizer state (a third of the file), optionally renamed.

    Not ``keras.models.clone_model``: it compiles the copy with the original's optimizer.
    """
    config = model.get_config()
    if name is not None:
        config["name"] = name
    copy = type(model).from_config(config)
    copy.set_weights(model.get_weights())
    return copy
