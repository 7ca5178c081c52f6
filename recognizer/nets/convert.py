"""Keras networks as LiteRT flatbuffers: what the app reads with, written beside each model file.

Conversion needs TensorFlow (Keras' own LiteRT export, imported when a conversion runs); reading
the flatbuffer does not (``recognizer.reading.lite``). A classifier's LiteRT file gives two outputs
from one pass: its scores, and the penultimate features that teaching compares
(``classifier_with_features``). Every file is stamped with the SHA-256 of the ``model.keras`` it was
made from, so a retrained model never reads a stale copy (``litert_is_fresh``).

int8 is calibrated on MNIST training images (``representative``); its inputs and outputs stay
float32, so every kind is called the same way.

    >>> flat = to_litert(model, "float32")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from recognizer.core.preprocess import to_model_input
from recognizer.core.storage import read_json_or, write_bytes_atomic, write_json_atomic

LITE_KINDS = ("float32", "float16", "int8")
CALIBRATION_IMAGES = 500  # MNIST training images int8 conversion measures its ranges on
STAMP_SUFFIX = ".json"  # <file>.json: {"model_sha256": ...} of the model.keras it was made from


def representative(images: np.ndarray, count: int = CALIBRATION_IMAGES):
    """The calibration data of int8 conversion: ``count`` images, one per call, as the model takes them."""
    x = to_model_input(np.asarray(images)[:count])

    def generator():
        for i in range(len(x)):
            yield [x[i : i + 1]]

    return generator


def _kind_options(kind: str, calibration: np.ndarray | None) -> dict[str, Any]:
    """The converter settings of ``kind`` (Keras passes them on to TensorFlow's converter)."""
    if kind not in LITE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(LITE_KINDS)}, got {kind!r}")
    if kind == "float32":
        return {}
    import tensorflow as tf

    # The converter's quantization switch is TensorFlow's own enum: conversion is TensorFlow's job.
    options: dict[str, Any] = {"optimizations": [tf.lite.Optimize.DEFAULT]}
    if kind == "float16":
        options["target_spec"] = {"supported_types": [tf.float16]}
    else:
        if calibration is None or not len(calibration):
            raise ValueError("int8 conversion needs calibration images")
        options["representative_dataset"] = representative(calibration)
    return options


def to_litert(model, kind: str = "float32", calibration: np.ndarray | None = None) -> bytes:
    """``model`` as a LiteRT flatbuffer with a free batch size: ``float32``, ``float16`` weights, or
    ``int8`` (needs ``calibration`` images: weights and activations quantized, float32 in and out)."""
    options = _kind_options(kind, calibration)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.tflite"
        model.export(str(path), format="litert", verbose=False, **options)
        return path.read_bytes()


def classifier_with_features(model):
    """The classifier as a model with two outputs: its scores, then the input of its last Dense
    layer (the penultimate features). ``ValueError`` for a model that does not end in one Dense
    layer (an ensemble): it has scores only."""
    import keras

    last = model.layers[-1]
    if not isinstance(last, keras.layers.Dense) or isinstance(last.input, list | tuple):
        raise ValueError(f"{model.name} does not end in one Dense layer")
    return keras.Model(model.inputs[0], [model.outputs[0], last.input], name=f"{model.name}-with-features")


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def litert_is_fresh(litert_file: Path, model_file: Path) -> bool:
    """Whether ``litert_file`` exists and was made from ``model_file`` as it is now."""
    stamp = read_json_or(Path(str(litert_file) + STAMP_SUFFIX), {})
    made_from = stamp.get("model_sha256") if isinstance(stamp, dict) else None
    return Path(litert_file).is_file() and made_from == file_sha256(model_file)


def write_litert(flatbuffer: bytes, litert_file: Path, model_file: Path) -> None:
    """Write ``flatbuffer`` and its stamp (the model file's hash), each atomically; the stamp last,
    so a file without a matching stamp is never taken for fresh."""
    write_bytes_atomic(litert_file, flatbuffer)
    write_json_atomic(Path(str(litert_file) + STAMP_SUFFIX), {"model_sha256": file_sha256(model_file)})


def write_classifier_litert(model, litert_file: Path, model_file: Path) -> Path:
    """Convert a classifier (scores and features; scores alone for an ensemble) into ``litert_file``,
    stamped with ``model_file``'s hash (the ``model.keras`` it was saved as); the path written."""
    try:
        network = classifier_with_features(model)
    except ValueError:
        network = model
    write_litert(to_litert(network), Path(litert_file), Path(model_file))
    return Path(litert_file)
