"""A Keras network as a TFLite flatbuffer: float32, float16 weights, or int8 (calibrated).

Conversion needs TensorFlow (imported when a conversion runs); reading the flatbuffer does not
(``recognizer.reading.lite``). int8 is calibrated on MNIST training images (``representative``);
its inputs and outputs stay float32, so every kind is called the same way.

    >>> flat = to_tflite(rec.model, "float32")  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from recognizer.core.preprocess import to_model_input

LITE_KINDS = ("float32", "float16", "int8")


CALIBRATION_IMAGES = 500  # MNIST training images int8 conversion measures its ranges on


def _converter(model):
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_keras_model(model)


def representative(images: np.ndarray, count: int = CALIBRATION_IMAGES):
    """The calibration data of int8 conversion: ``count`` images, one per call, as the model takes them."""
    x = to_model_input(np.asarray(images)[:count])

    def generator():
        for i in range(len(x)):
            yield [x[i : i + 1]]

    return generator


def to_tflite(model, kind: str = "float32", calibration: np.ndarray | None = None) -> bytes:
    """The model as a TFLite flatbuffer: ``float32``, ``float16`` weights, or ``int8`` (needs
    ``calibration`` images: weights and activations quantized, float32 in and out)."""
    import tensorflow as tf

    if kind not in LITE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(LITE_KINDS)}, got {kind!r}")
    converter = _converter(model)
    if kind == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif kind == "int8":
        if calibration is None or not len(calibration):
            raise ValueError("int8 conversion needs calibration images")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative(calibration)
    return converter.convert()
