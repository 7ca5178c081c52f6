"""What the network looks at: saliency maps and Grad-CAM for one 28x28 image.

Both need the network's gradients, so they run the Keras model through TensorFlow.

    >>> from recognizer import load_recognizer
    >>> rec = load_recognizer()  # the active model   # doctest: +SKIP
    >>> saliency_map(rec, np.zeros((28, 28), np.float32)).shape  # doctest: +SKIP
    (28, 28)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recognizer.core.preprocess import to_model_input
from recognizer.reading.recognizer import Recognizer


def _one_image_batch(image28: np.ndarray) -> np.ndarray:
    image = np.asarray(image28)
    if image.shape != (28, 28):
        raise ValueError(f"expected one (28, 28) image, got shape {image.shape}")
    return to_model_input(image)


def _unit_range(values: np.ndarray) -> np.ndarray:
    """Scaled to 0..1 by the maximum; all zeros stay zeros (a flat map, not a division by 0)."""
    values = np.maximum(np.asarray(values, dtype=np.float32), 0.0)
    peak = float(values.max())
    return (values / peak if peak > 0 else values).astype(np.float32)


def saliency_map(recognizer: Recognizer, image28: np.ndarray) -> np.ndarray:
    """|d p(predicted class) / d pixel| for a (28, 28) image in 0..1: float32 (28, 28) in 0..1."""
    import tensorflow as tf

    x = tf.convert_to_tensor(_one_image_batch(image28))
    with tf.GradientTape() as tape:
        tape.watch(x)
        proba = recognizer.model(x, training=False)
        target = proba[0, int(tf.argmax(proba[0]))]
    gradient = tape.gradient(target, x).numpy()[0, :, :, 0]
    return _unit_range(np.abs(gradient))


def last_conv_layer(model) -> Any | None:
    """The model's last top-level ``Conv2D`` layer, None when it has none (an MLP, an ensemble)."""
    import keras

    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    return convs[-1] if convs else None


def _conv_maps_and_output(model, conv, x):
    """The activations of ``conv`` and the model's output for ``x``, in one forward pass."""
    import keras

    if isinstance(model, keras.Sequential):
        # Layer by layer: a loaded Sequential's conv.output can belong to another graph than
        # model.outputs (built twice), which leaves the gradient disconnected.
        maps, h = None, x
        for layer in model.layers:
            h = layer(h, training=False)
            if layer is conv:
                maps = h
        return maps, h
    probe = keras.Model(model.inputs, [conv.output, model.outputs[0]])
    return probe(x, training=False)


def grad_cam(recognizer: Recognizer, image28: np.ndarray) -> np.ndarray | None:
    """Grad-CAM of the predicted class on the last Conv2D layer: float32 (28, 28) in 0..1.

    None for models without a convolution layer (e.g. the MLP).
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(_one_image_batch(image28))
    model = recognizer.model
    conv = last_conv_layer(model)
    if conv is None:
        return None
    with tf.GradientTape() as tape:
        maps, proba = _conv_maps_and_output(model, conv, x)
        target = proba[0, int(tf.argmax(proba[0]))]
    gradient = tape.gradient(target, maps)
    weights = tf.reduce_mean(gradient, axis=(1, 2))  # one importance per channel
    cam = tf.nn.relu(tf.reduce_sum(maps * weights[:, None, None, :], axis=-1))[..., None]
    cam28 = tf.image.resize(cam, (28, 28), method="bilinear").numpy()[0, :, :, 0]
    return _unit_range(cam28)
