"""Shared fixtures (an isolated user data dir for every test, MNIST when it is at hand) and the tiers.

Two tiers: ``python -m pytest -m "not slow and not browser"`` before every commit, the whole suite
in CI. A test is slow when it trains a model, starts a training job, runs Python or a server in a
new process, or runs a command-line tool; browser tests drive Chromium. The hook below marks a
test by the fixtures it uses (``SLOW_FIXTURES``, ``BROWSER_FIXTURES``), and in the fast tier a test
that trains or starts such a process without them fails and says why (``fast_tier_guard``), so a
new test cannot forget.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# What each fixture makes a test do that the fast tier leaves out.
SLOW_FIXTURES = {
    "train_run": "trains a model",
    "job_runs": "starts a training job process",
    "python_process": "runs Python in a new process",
    "run_cli": "runs a command-line tool",
    "shipped_mnist_answers": "reads the 10,000 MNIST test images through the shipped model",
}
BROWSER_FIXTURES = {"app_url", "browser", "page", "phone"}


def pytest_collection_modifyitems(config, items):
    """Mark ``slow`` and ``browser`` by what a test uses."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & SLOW_FIXTURES.keys():
            item.add_marker(pytest.mark.slow)
        if used & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)


class SlowInFastTier(RuntimeError):
    """A fast-tier test did what only slow tests may do."""


def _heavy_process(args) -> str | None:
    """What a command would start that only a slow test may: a job, a server, a tool; else None."""
    words = [str(a) for a in args] if isinstance(args, (list, tuple)) else str(args).split()
    text = " ".join(words)
    if "recognizer.ops.job_runner" in text:
        return "a training job"
    if "streamlit" in text or "benchmarks." in text:
        return "a server or a benchmark"
    if "recognizer.cli" in text or (words and Path(words[0]).name.startswith("digits-")):
        return "a command-line tool"
    return None


@pytest.fixture(autouse=True)
def fast_tier_guard(request, monkeypatch):
    """In a test that is neither slow nor browser, training or starting a heavy process raises."""
    if request.node.get_closest_marker("slow") or request.node.get_closest_marker("browser"):
        return
    from recognizer.training import loop, number_reader

    def refuse_to_train(*_, **__):
        raise SlowInFastTier("this test trains a model: use the train_run or run_cli fixture")

    class GuardedPopen(subprocess.Popen):
        def __init__(self, args, *more, **options):
            heavy = _heavy_process(args)
            if heavy:
                raise SlowInFastTier(f"this test starts {heavy}: use one of {sorted(SLOW_FIXTURES)}")
            super().__init__(args, *more, **options)

    monkeypatch.setattr(loop, "fit", refuse_to_train)
    monkeypatch.setattr(number_reader, "train_sequence_model", refuse_to_train)
    monkeypatch.setattr(subprocess, "Popen", GuardedPopen)


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
    """A finished one-epoch LeNet-5 run folder (not the shipped model), trained once per session.

    Without the pen hold-out (no test reads its pen figures): reading the held-out writers was most
    of its time.
    """
    from recognizer.training.config import TrainConfig
    from recognizer.training.loop import train

    config = TrainConfig(architecture="lenet5", epochs=1, batch_size=64, validation_split=0.1)
    runs = tmp_path_factory.mktemp("runs")
    return train(config, runs_dir=runs, mnist=tiny_mnist, run_name="tiny-lenet5", pen_path=runs / "no-pen-digits.npz")


@pytest.fixture
def train_run(tmp_path):
    """``train_run(config, **options)``: train ``config`` and return its run folder (a slow test).

    Options are ``recognizer.training.loop.train``'s; runs go to a temp folder unless ``runs_dir``
    is given.
    """
    from recognizer.training.loop import train

    def run(config, **options):
        options.setdefault("runs_dir", tmp_path / "runs")
        return train(config, **options)

    return run


@pytest.fixture
def python_process():
    """``python_process(command, cwd=..., timeout=...)``: run ``command`` (Python, a console command,
    a job) in a new process without PYTHONPATH; the finished process, which must have succeeded."""

    def run(command: list[str], cwd: Path | None = None, timeout: float = 300, env: dict | None = None):
        clean = {k: v for k, v in (env or os.environ).items() if k != "PYTHONPATH"}
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=clean, timeout=timeout)
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    return run


@pytest.fixture
def run_cli():
    """``run_cli(name, args)``: a command-line tool's ``main(args)`` in this process (``digits-<name>``)."""
    import importlib
    import tomllib

    root = Path(__file__).resolve().parent.parent
    commands = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]

    def run(name: str, args: list[str]):
        module = importlib.import_module(commands[f"digits-{name.replace('_', '-')}"].split(":")[0])
        return module.main(args)

    return run


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


# Numerics (thread counts, CPU instructions) may flip an answer on the edge: a regression of the
# model moves far more answers than this.
EDGE_ANSWERS = 2


@pytest.fixture(scope="session")
def shipped_mnist_answers(shipped_recognizer, mnist) -> dict:
    """The shipped model's MNIST test answers measured now from its files, not read from its
    metrics.json: accuracy as the app reads (unsure images looked at again) and the network alone's,
    the confusion matrix of the app's answers, and how many answers may flip on the edge."""
    _, (x_test, y_test) = mnist
    read = shipped_recognizer.predict(x_test)
    alone = shipped_recognizer.predict(x_test, views=False)
    matrix = np.zeros((10, 10), np.int64)
    np.add.at(matrix, (y_test, read), 1)
    return {
        "samples": len(y_test),
        "read": float(np.mean(read == y_test)),
        "alone": float(np.mean(alone == y_test)),
        "matrix": matrix,
        "edge": EDGE_ANSWERS,
    }


@pytest.fixture(scope="session")
def pen(pen_path):
    from recognizer.data.pen import load_pen_digits

    return load_pen_digits(pen_path)


@pytest.fixture(scope="session")
def held_out(pen):
    """The pen digits of the writers no model trains on (``writer_split``)."""
    from recognizer.data.pen import writer_split

    return pen.subset(writer_split(pen)[1])


# Three pen digits of held-out writers (a tall 0, a small 7, a 5), written apart on the Draw page's
# number canvas, that the shipped readers read whole as two digits: the gap rule parts them.
PARTED_NUMBER = {"picks": (518, 2558, 620), "gaps": [16.0, 15.0], "heights": [1.12, 0.46, 0.83], "digits": "075"}


@pytest.fixture(scope="session")
def parted_number(pen):
    """``PARTED_NUMBER`` composed on the 700x240 number canvas (brush 18, as the page draws):
    (its strokes placed on the canvas, its RGBA image, its digits)."""
    from recognizer.data.compose import compose_number, place_digits

    strokes = [pen.strokes(i) for i in PARTED_NUMBER["picks"]]
    args = (strokes, PARTED_NUMBER["gaps"], 150.0, 18.0, (700, 240), PARTED_NUMBER["heights"])
    assert "".join(str(int(pen.labels[i])) for i in PARTED_NUMBER["picks"]) == PARTED_NUMBER["digits"]
    return place_digits(*args)[0], compose_number(*args)[0], PARTED_NUMBER["digits"]


@pytest.fixture(scope="session")
def pen_letters():
    """The pen-letters development file (ink that is not a digit); skipped (failed under CI) when absent."""
    from recognizer.data.pen import default_pen_letters_path, load_pen_letters

    return load_pen_letters(_data_file(default_pen_letters_path(), "pen-letters", "DIGITS_PEN_LETTERS"))


@pytest.fixture(scope="session")
def held_out_letters(pen_letters):
    """The pen letters of the held-out writers: ink that is not a digit, by people no model trained on."""
    from recognizer.data.pen import writer_split

    return pen_letters.subset(writer_split(pen_letters)[1])


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


@pytest.fixture
def page(browser):
    """A fresh laptop-sized page (1280x900) in its own browser context."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()
