"""A trained model in the formats others serve it in: a SavedModel for TF Serving, TFLite files.

``export_all`` writes the SavedModel and the float32, float16 and int8 TFLite files
(``recognizer.nets.convert``) and measures each: size, MNIST accuracy against Keras, and one
image's latency (``digits-export``).

    >>> rows = export_all(rec.model, "exports", x_train[:500], x_test, y_test)  # doctest: +SKIP
    >>> print(markdown_table(rows))  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from recognizer.core.preprocess import to_model_input
from recognizer.core.storage import write_bytes_atomic
from recognizer.nets.convert import LITE_KINDS, to_litert
from recognizer.reading.lite import LiteModel


def save_saved_model(model, folder: str | os.PathLike) -> Path:
    """Write the model as a TensorFlow SavedModel (the format TF Serving loads); returns ``folder``."""
    folder = Path(folder)
    model.export(str(folder), format="tf_saved_model", verbose=False)
    return folder


def folder_bytes(folder: str | os.PathLike) -> int:
    """Total size of the files under ``folder``."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


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


def lite_scorer(flatbuffer: bytes):
    """A LiteRT flatbuffer's scores for MNIST-format images, as a plain function (read with LiteRT)."""
    lite = LiteModel(flatbuffer)
    return lambda images: lite.run(to_model_input(images))[0]


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
        flatbuffer = to_litert(model, kind, calibration if kind == "int8" else None)
        path = folder / f"model_{kind}.tflite"
        write_bytes_atomic(path, flatbuffer)
        score = lite_scorer(flatbuffer)
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
    """The rows of ``export_all`` as a Markdown table (the one in docs/performance.md)."""
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
