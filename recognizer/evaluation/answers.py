"""A run's answers on the MNIST test set: stored once, read by every page and report.

A run folder keeps every test probability (``test_probabilities.npz``, float16) and the images it
gets wrong (``misclassified.json``), so the Explore page never runs the model over the test set.
For an older run without them, ``test_probabilities`` runs the model once and caches the result
under ``paths.cache_dir() / "analysis"``.

    >>> import numpy as np
    >>> as_float16_keeping_answers(np.array([[0.50001, 0.50002]])).argmax(axis=1)
    array([1])
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from recognizer.core import paths
from recognizer.core.runs import MISCLASSIFIED_FILE, PROBABILITIES_FILE, model_file_of
from recognizer.core.storage import write_bytes_atomic, write_json_atomic
from recognizer.data.mnist import load_mnist
from recognizer.evaluation.metrics import misclassified
from recognizer.reading.recognizer import load_recognizer


def as_float16_keeping_answers(proba: np.ndarray) -> np.ndarray:
    """``proba`` rounded to float16 (half the bytes, plenty for plots) with every row's answer kept.

    Rounding can make a row's top two probabilities equal, and ``argmax`` then picks the first:
    a stored answer would disagree with the model's. The top one is raised by one float16 step
    where that happens, so accuracy and confusion matrices read from the file match the model's.

    >>> as_float16_keeping_answers(np.array([[0.50001, 0.50002]])).argmax(axis=1)
    array([1])
    """
    proba = np.asarray(proba, dtype=np.float32)
    rounded = proba.astype(np.float16)
    answers = proba.argmax(axis=1)
    rows = np.flatnonzero(rounded.argmax(axis=1) != answers)
    rounded[rows, answers[rows]] = np.nextafter(rounded[rows, answers[rows]], np.float16(np.inf))
    return rounded


def write_probabilities(npz_path: Path, proba: np.ndarray) -> None:
    """Write a run's test probabilities (``as_float16_keeping_answers``) atomically, compressed."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, probabilities=as_float16_keeping_answers(proba))
    write_bytes_atomic(npz_path, buffer.getvalue())


def write_test_answers(folder: Path, y_test: np.ndarray, proba: np.ndarray) -> None:
    """A run's answers on the MNIST test set: ``misclassified.json`` and ``test_probabilities.npz``.

    ``proba`` is the set as the app reads it, so the Explore page shows the answers metrics.json counts.
    """
    write_json_atomic(Path(folder) / MISCLASSIFIED_FILE, misclassified(y_test, proba))
    write_probabilities(Path(folder) / PROBABILITIES_FILE, proba)


def read_probabilities(npz_path: Path) -> np.ndarray:
    """Probabilities written by ``write_probabilities``, as float32 (N, 10)."""
    with np.load(npz_path) as data:
        return data["probabilities"].astype(np.float32)


def probabilities_cache_path(run_dir: str | os.PathLike) -> Path:
    """Where computed test probabilities of ``run_dir`` are cached.

    The model file's mtime is part of the name, so a retrained model never reads stale numbers.
    """
    run_dir = Path(run_dir)
    mtime = int(model_file_of(run_dir).stat().st_mtime)
    return paths.cache_dir() / "analysis" / f"{run_dir.name}-{mtime}.npz"


def mnist_test_set() -> tuple[np.ndarray, np.ndarray]:
    """MNIST's test images and labels, from the data folder (never downloaded here)."""
    _, (x_test, y_test) = load_mnist(download=False)
    return x_test, y_test


def test_probabilities(run_dir: str | os.PathLike) -> np.ndarray:
    """A run's probabilities on the MNIST test set, float32 (N, 10) (N = 10,000 for full runs).

    Reads the run's own ``test_probabilities.npz`` when it has one; otherwise runs the model once
    and caches the result, so opening a page never evaluates the test set twice.
    """
    run_dir = Path(run_dir)
    own = run_dir / PROBABILITIES_FILE
    if own.is_file():
        return read_probabilities(own)
    cached = probabilities_cache_path(run_dir)
    if cached.is_file():
        return read_probabilities(cached)
    x_test, _ = mnist_test_set()
    # Read back what was written, so this call and every cached one give identical numbers.
    write_probabilities(cached, load_recognizer(run_dir).predict_proba(x_test))
    return read_probabilities(cached)


# Not a test function, whatever pytest's name-based collection might think.
test_probabilities.__test__ = False
