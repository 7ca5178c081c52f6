"""A trained model in other formats: SavedModel for TF Serving, TFLite float32 / float16 / int8.

    >>> from recognizer.export import to_tflite, LiteScorer
    >>> flat = to_tflite(rec.model, "float32")  # doctest: +SKIP
    >>> LiteScorer(flat).scores(x_test[:1]).shape  # doctest: +SKIP
    (1, 11)

The app answers single drawings through a float32 TFLite copy of the active model (``LiteScorer``):
the same numbers as Keras to about 1e-6, in a fraction of the time a ``tf.function`` call takes
for one image. The copy is converted once per model file and kept in the user cache folder
(``cached_tflite``). int8 is calibrated on MNIST training images (``representative``); its
inputs and outputs stay float32, so every format is called the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from recognizer import paths
from recognizer.preprocess import to_model_input
from recognizer.storage import write_bytes_atomic

LITE_KINDS = ("float32", "float16", "int8")
CALIBRATION_IMAGES = 500  # MNIST training images int8 conversion measures its ranges on
LITE_THREADS = 1  # one image is too small to share out; the other core stays free for other visitors


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


def save_saved_model(model, folder: str | os.PathLike) -> Path:
    """Write the model as a TensorFlow SavedModel (the format TF Serving loads); returns ``folder``."""
    folder = Path(folder)
    model.export(str(folder), format="tf_saved_model", verbose=False)
    return folder


def folder_bytes(folder: str | os.PathLike) -> int:
    """Total size of the files under ``folder``."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def _interpreter(flatbuffer: bytes, threads: int):
    with warnings.catch_warnings():  # tf.lite.Interpreter announces its successor package on every use
        warnings.simplefilter("ignore")
        import tensorflow as tf

        interpreter = tf.lite.Interpreter(model_content=flatbuffer, num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


class LiteScorer:
    """A TFLite model that scores MNIST-format images one at a time, safe to share between threads."""

    def __init__(self, flatbuffer: bytes, threads: int = LITE_THREADS):
        self._interpreter = _interpreter(flatbuffer, threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        # An interpreter holds one input and one output buffer: one call at a time.
        self._lock = threading.Lock()

    def scores(self, images: np.ndarray) -> np.ndarray:
        """The model's output (N, classes) for images as ``to_model_input`` takes them."""
        x = to_model_input(images)
        out = []
        with self._lock:
            for i in range(len(x)):
                self._interpreter.set_tensor(self._input, x[i : i + 1])
                self._interpreter.invoke()
                out.append(self._interpreter.get_tensor(self._output)[0].copy())
        return np.stack(out) if out else np.zeros((0, 0), np.float32)


def cache_path(model_file: str | os.PathLike) -> Path:
    """Where the float32 TFLite copy of ``model_file`` is kept: named by its path, size and mtime."""
    stat = Path(model_file).stat()
    key = f"{Path(model_file).resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return paths.cache_dir() / "tflite" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.tflite"


def cached_tflite(model, model_file: str | os.PathLike) -> bytes:
    """The float32 TFLite copy of ``model`` (loaded from ``model_file``): converted once, then read."""
    path = cache_path(model_file)
    try:
        return path.read_bytes()
    except OSError:
        pass
    flatbuffer = to_tflite(model, "float32")
    with contextlib.suppress(OSError):  # a read-only cache only costs the next start a conversion
        write_bytes_atomic(path, flatbuffer)
    return flatbuffer


def accuracy(score, images: np.ndarray, labels: np.ndarray) -> float:
    """Share of ``images`` whose highest score among the ten digits is the label."""
    return float(np.mean(np.asarray(score(images))[:, :10].argmax(axis=1) == labels))


def single_latency_ms(score, image: np.ndarray, calls: int = 200) -> float:
    """Median milliseconds of one image through ``score`` (after a warm-up call)."""
    one = np.asarray(image)[None]
    score(one)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        score(one)
        times.append((time.perf_counter() - start) * 1000)
    return round(float(np.median(times)), 3)


def keras_scorer(model):
    """A Keras model's scores for MNIST-format images, as a plain function (a traced call, as
    ``Recognizer.predict_proba`` makes it)."""
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False))
    return lambda images: forward(to_model_input(images)).numpy()


def export_all(
    model, folder: str | os.PathLike, calibration: np.ndarray, x_test, y_test, calls: int = 200
) -> list[dict]:
    """Write the SavedModel and the three TFLite files into ``folder``; one row per format with its
    file, size, MNIST accuracy (and the change from Keras) and the median ms of one image."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    keras_score = keras_scorer(model)
    base = accuracy(keras_score, x_test, y_test)
    saved = save_saved_model(model, folder / "saved_model")
    # The SavedModel holds the same graph as the Keras model: its numbers are Keras's.
    rows = [_row("SavedModel (TF Serving)", saved, folder_bytes(saved), keras_score, base, base, x_test, calls)]
    for kind in LITE_KINDS:
        flatbuffer = to_tflite(model, kind, calibration if kind == "int8" else None)
        path = folder / f"model_{kind}.tflite"
        write_bytes_atomic(path, flatbuffer)
        score = LiteScorer(flatbuffer).scores
        rows.append(
            _row(f"TFLite {kind}", path, len(flatbuffer), score, accuracy(score, x_test, y_test), base, x_test, calls)
        )
    return rows


def _row(name: str, path: Path, size: int, score, acc: float, base: float, x_test, calls: int) -> dict:
    return {
        "format": name,
        "path": str(path),
        "size_mb": round(size / 1e6, 3),
        "mnist_accuracy": round(acc, 4),
        "accuracy_delta": round(acc - base, 4),
        "latency_ms": single_latency_ms(score, x_test[0], calls),
    }


def markdown_table(rows: list[dict]) -> str:
    """The rows of ``export_all`` as a Markdown table (the README's)."""
    lines = [
        "| format | size (MB) | MNIST test accuracy | change from Keras | one image (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        delta = f"{r['accuracy_delta'] * 100:+.2f} pt"
        lines.append(
            f"| {r['format']} | {r['size_mb']:.2f} | {r['mnist_accuracy']:.2%} | {delta} | {r['latency_ms']:.2f} |"
        )
    return "\n".join(lines)
