"""Shared fixtures: an isolated user data dir for every test, MNIST when it is at hand."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Keep runs, corrections and active-model choices of tests out of the real home."""
    home = tmp_path_factory.mktemp("digits-home")
    monkeypatch.setenv("DIGITS_HOME", str(home))
    monkeypatch.setenv("DIGITS_CACHE_DIR", str(home / "cache"))
    return home


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST split from DIGITS_DATA_DIR; skipped (failed under CI) when absent."""
    from recognizer.data.mnist import DataError, load_mnist

    if not os.environ.get("DIGITS_DATA_DIR"):
        if os.environ.get("CI"):
            pytest.fail("CI must set DIGITS_DATA_DIR to the MNIST folder")
        pytest.skip("set DIGITS_DATA_DIR to a folder with the four MNIST IDX gz files")
    try:
        return load_mnist(download=False)
    except DataError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def tiny_mnist(mnist):
    """600 training and 200 test images: enough for a one-epoch smoke run."""
    (x_train, y_train), (x_test, y_test) = mnist
    return (x_train[:600], y_train[:600]), (x_test[:200], y_test[:200])


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_mnist):
    """A finished one-epoch LeNet-5 run folder (not the shipped model)."""
    from recognizer.training.config import TrainConfig
    from recognizer.training.loop import train

    config = TrainConfig(architecture="lenet5", epochs=1, batch_size=64, validation_split=0.1)
    return train(config, runs_dir=tmp_path_factory.mktemp("runs"), mnist=tiny_mnist, run_name="tiny-lenet5")


def _data_file(path, what: str, variable: str):
    """``path`` when it is a file; else skip the test (fail it under CI), naming ``variable``."""
    if path is None or not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide the {what} file ({variable} or ../shared beside the project)")
        pytest.skip(f"{what} development data not found: set {variable}")
    return path


@pytest.fixture(scope="session")
def pen_path():
    """Path of the pen-digits development file; skipped (failed under CI) when absent."""
    from recognizer.data.pen import default_pen_digits_path

    return _data_file(default_pen_digits_path(), "pen-digits", "DIGITS_PEN_DIGITS")


@pytest.fixture(scope="session")
def shipped_recognizer():
    """The shipped active model (``models/active.json``), without the number reader."""
    from recognizer.core.runs import shipped_active_dir
    from recognizer.reading.recognizer import load_recognizer

    return load_recognizer(shipped_active_dir(), number_reader=False)


@pytest.fixture(scope="session")
def pen(pen_path):
    from recognizer.data.pen import load_pen_digits

    return load_pen_digits(pen_path)


@pytest.fixture(scope="session")
def pen_letters():
    """The pen-letters development file (ink that is not a digit); skipped (failed under CI) when absent."""
    from recognizer.data.pen import default_pen_letters_path, load_pen_letters

    return load_pen_letters(_data_file(default_pen_letters_path(), "pen-letters", "DIGITS_PEN_LETTERS"))


# --- Browser tests: one app server and one Chromium per test module -------------------------------


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """A running `streamlit run app.py` on a free port with its own user data dir.

    Without Chromium (or Playwright) browser tests skip, except under CI, where they fail.
    """
    from benchmarks import pen_timing

    reason = pen_timing.missing_browser()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    home = tmp_path_factory.mktemp("browser-home")
    root = Path(__file__).resolve().parent.parent
    server = pen_timing.start_server(root / "app.py", home / "server.log", env={"DIGITS_HOME": str(home)})
    try:
        try:
            pen_timing.wait_until_healthy(server)
        except RuntimeError as exc:
            pytest.fail(str(exc))
        yield server.url
    finally:
        pen_timing.stop_server(server)


@pytest.fixture(scope="module")
def browser(app_url):
    from playwright.sync_api import sync_playwright

    from benchmarks import pen_timing

    with sync_playwright() as p:
        chromium = pen_timing.launch_browser(p)
        yield chromium
        chromium.close()
