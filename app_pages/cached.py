"""Cached reads for the pages: run files, MNIST, test probabilities, latency and reports. Not a page itself.

Streamlit reruns a page on every click; these keep each read to once per file version (keyed by
path and mtime, so a re-written file is read afresh). Opening a page never evaluates the test set:
``test_probabilities`` reads what is on disk unless asked to compute.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from app_pages.shared import recognizer_at
from recognizer.core import runs
from recognizer.core.runs import MODEL_FILE, ModelNotFoundError
from recognizer.core.storage import file_stamp, read_json_or
from recognizer.data.mnist import DataError, find_mnist_dir, load_mnist, summary
from recognizer.evaluation import answers, latency, report

AUGMENTATION_EXAMPLES = 200  # training images the augmentation preview can pick from


@st.cache_data(show_spinner=False, max_entries=64)
def _json_at(path: str, stamp: float):
    return read_json_or(path)


def run_file(run_dir: str, name: str):
    """A JSON file of a run folder, or None when missing or unreadable."""
    path = Path(run_dir) / name
    return _json_at(str(path), file_stamp(path))


def mnist_folder() -> Path | None:
    try:
        return find_mnist_dir(download=False)
    except DataError:
        return None


@st.cache_data(show_spinner="Loading the MNIST test set…", max_entries=2)
def _mnist_test(folder: str, stamp: float) -> tuple[np.ndarray, np.ndarray]:
    _, (x_test, y_test) = load_mnist(folder, download=False)
    return x_test, y_test


def mnist_test() -> tuple[np.ndarray, np.ndarray] | None:
    """The MNIST test images and labels; None when MNIST is not at hand."""
    folder = mnist_folder()
    if folder is None:
        return None
    try:
        return _mnist_test(str(folder), file_stamp(folder))
    except DataError:
        return None


@st.cache_data(show_spinner="Summarising MNIST…", max_entries=2)
def mnist_summary(folder: str, stamp: float) -> dict:
    """``recognizer.data.summary`` and the first training images, for the augmentation preview."""
    mnist = load_mnist(folder, download=False)
    (x_train, y_train), _ = mnist
    examples = {"example": x_train[:AUGMENTATION_EXAMPLES], "example_labels": y_train[:AUGMENTATION_EXAMPLES]}
    return {**summary(mnist), **examples}


@st.cache_data(show_spinner="Reading the test probabilities…", max_entries=8)
def _test_probabilities(run_dir: str, stamp: float) -> np.ndarray:
    return answers.test_probabilities(run_dir)


def probabilities_on_disk(run_dir: str) -> bool:
    """Whether the run's test probabilities can be read without evaluating the test set."""
    try:
        own = Path(run_dir) / runs.PROBABILITIES_FILE
        return own.is_file() or answers.probabilities_cache_path(run_dir).is_file()
    except (OSError, ModelNotFoundError):
        return False


def test_probabilities(run_dir: str, compute: bool = False) -> np.ndarray | None:
    """The run's MNIST test probabilities; None unless on disk (or ``compute``: evaluate once and cache)."""
    if not (compute or probabilities_on_disk(run_dir)):
        return None
    try:
        return _test_probabilities(run_dir, file_stamp(Path(run_dir) / MODEL_FILE))
    except (OSError, ValueError, DataError, ModelNotFoundError) as exc:
        st.warning(f"No test probabilities for this run: {exc}")
        return None


@st.cache_data(show_spinner="Timing the model…", max_entries=32)
def _latency(run_dir: str, stamp: float) -> float | None:
    rec = recognizer_at(run_dir)
    return None if rec is None else latency.measure_latency(rec)


def latency_ms(run_dir: str) -> float | None:
    """Median milliseconds of one image through the run's model (None: it does not load)."""
    return _latency(run_dir, file_stamp(Path(run_dir) / MODEL_FILE))


@st.cache_data(show_spinner=False, max_entries=8)
def html_report(run_dir: str, stamp: float) -> str:
    return report.html_report(run_dir)
