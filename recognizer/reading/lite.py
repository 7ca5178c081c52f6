"""A TFLite copy of a network that answers single drawings fast.

The app answers single drawings through a float32 TFLite copy of the active model
(``LiteScorer``): the same numbers as Keras up to float rounding, in a fraction of the time a
``tf.function`` call takes for one image. The copy is converted once per model file and kept in
the user cache folder (``cached_tflite``).

    >>> LiteScorer(flatbuffer).scores(x_test[:1]).shape  # doctest: +SKIP
    (1, 11)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import warnings
from pathlib import Path

import numpy as np

from recognizer.core import paths
from recognizer.core.preprocess import to_model_input
from recognizer.core.storage import write_bytes_atomic
from recognizer.nets.convert import to_tflite

LITE_THREADS = 1  # one image is too small to share out; the other core stays free for other visitors


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
