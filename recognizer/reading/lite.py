"""Networks read with LiteRT (``ai-edge-litert``): every answer the app gives, without TensorFlow.

A run folder holds its classifier as a LiteRT flatbuffer beside ``model.keras``
(``recognizer.core.runs.LITERT_FILE``): one pass gives the scores and the penultimate features.
``LiteModel`` runs any such file on float32 batches of any size; LiteRT imports in a fraction of a
second, where TensorFlow takes seconds and hundreds of MB.

    >>> model = load_lite_model(Path("models/deepcnn-drawings-v4/model.tflite"))  # doctest: +SKIP
    >>> scores, features = model.run(x)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import numpy as np

from recognizer.core.installed import usable_cpus

# A second thread nearly halves a drawing's LiteRT pass (docs/performance.md), and the server pauses a
# training job while it answers, so that core is free then. Two at most: one 28x28 image has little
# more to share out, and a bigger machine's other cores serve other visitors.
LITE_THREADS = min(2, usable_cpus())
THREADS_ENV = "DIGITS_LITE_THREADS"  # a server's own choice: how many threads one LiteRT pass uses
MAX_THREADS = 16


def lite_threads() -> int:
    """The threads one LiteRT pass uses: ``DIGITS_LITE_THREADS`` when it is a whole number from 1
    to ``MAX_THREADS``, else ``LITE_THREADS`` (a bad setting must not stop a server answering)."""
    setting = os.environ.get(THREADS_ENV, "").strip()
    return int(setting) if setting.isdigit() and 1 <= int(setting) <= MAX_THREADS else LITE_THREADS


class LiteFileError(ValueError):
    """A LiteRT file that cannot be read (missing, truncated, corrupt); the message names it."""


def _output_order(name: str) -> int:
    """The place of an output in the Keras model's outputs: its name ends in ``:<index>``."""
    found = re.search(r":(\d+)$", name)
    return int(found.group(1)) if found else 0


class LiteModel:
    """A LiteRT model run on float32 batches of any size, its outputs in the Keras model's order.

    Resizing an interpreter's buffers costs more than a drawing's whole pass, and the app alternates
    between one drawing and its few views: each input shape keeps an interpreter of its own (the
    last ``SHAPES_KEPT``; past that the oldest is resized, as strips of ever new widths need).
    Safe to share between threads: an interpreter holds one set of buffers, so calls take turns.
    """

    SHAPES_KEPT = 4

    def __init__(self, flatbuffer: bytes, threads: int | None = None, name: str = "LiteRT model"):
        self.name = name
        self._flatbuffer = bytes(flatbuffer)
        self.threads = lite_threads() if threads is None else threads
        first = self._interpreter()
        details = first.get_input_details()[0]
        self._interpreters = {tuple(details["shape"]): first}
        outputs = sorted(first.get_output_details(), key=lambda d: _output_order(d["name"]))
        self._outputs = [d["index"] for d in outputs]
        self.output_widths = [int(d["shape_signature"][-1]) for d in outputs]
        self._input_index = details["index"]
        self._lock = threading.Lock()

    def _interpreter(self, shape: tuple[int, ...] | None = None):
        from ai_edge_litert.interpreter import Interpreter

        try:
            interpreter = Interpreter(model_content=self._flatbuffer, num_threads=self.threads)
            if shape is not None:
                index = interpreter.get_input_details()[0]["index"]
                interpreter.resize_tensor_input(index, shape, strict=False)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise LiteFileError(f"{self.name} is not a readable LiteRT model ({exc})") from exc
        return interpreter

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """Every output for the batch ``x`` (float32, the input's shape with any batch size)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        with self._lock:
            interpreter = self._interpreter_for(x.shape)
            interpreter.set_tensor(self._input_index, x)
            interpreter.invoke()
            return [interpreter.get_tensor(index).copy() for index in self._outputs]

    def _interpreter_for(self, shape: tuple[int, ...]):
        """The interpreter sized for ``shape``, kept as the newest: a new one while fewer than
        ``SHAPES_KEPT`` are kept, else the oldest resized (cheaper than building one)."""
        interpreter = self._interpreters.pop(shape, None)
        if interpreter is None and len(self._interpreters) < self.SHAPES_KEPT:
            interpreter = self._interpreter(shape)
        elif interpreter is None:
            interpreter = self._interpreters.pop(next(iter(self._interpreters)))
            interpreter.resize_tensor_input(self._input_index, shape, strict=False)
            interpreter.allocate_tensors()
        self._interpreters[shape] = interpreter
        return interpreter


def load_lite_model(path: Path, threads: int | None = None) -> LiteModel:
    """The LiteRT model in ``path``, run on ``threads`` (None: ``lite_threads()``); ``LiteFileError``
    naming the file when it cannot be read."""
    try:
        flatbuffer = Path(path).read_bytes()
    except OSError as exc:
        raise LiteFileError(f"{path} cannot be read ({exc.strerror or exc})") from exc
    return LiteModel(flatbuffer, threads, name=str(path))
