"""What every page shares: the cached models, the sidebar, digits blown up for st.image. Not a page itself."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from recognizer.core.installed import tensorflow_installed
from recognizer.core.runs import ACTIVE_FILE, MODEL_FILE, ModelNotFoundError, active_model_dir, shipped_active_dir
from recognizer.core.storage import file_stamp, read_json_or
from recognizer.ops.job_pause import resume_job

if TYPE_CHECKING:
    from recognizer import Recognizer


LOADING_SWITCH_INTERVAL = 0.0005  # seconds; Python's default is 0.005
# The first load waits (at most this long) until the visitor's page is on screen: importing
# TensorFlow takes the CPU and the GIL the browser and the server need to build it.
PAGE_ON_SCREEN_WAIT_S = 3.0
_page_on_screen = threading.Event()
IMPORT_NICENESS = 10  # the TensorFlow import gives way to the browser building the page

# Where the Draw page leaves the 28x28 input of its latest answer, for the Explore page's saliency.
LAST_DRAWING_KEY = "last_drawing"
# The Draw page's "See inside the network" link: the Explore page opens its "Inside the network"
# section on that drawing (``app_pages/explore_inside.py``).
INSIDE_QUERY = {"section": "inside"}


class ModelLoading:
    """One model loading in a background thread, while the Draw page shows its canvas.
    ``recognizer`` waits for it (or not). A run read with LiteRT loads at once, in a fraction of a
    second; one whose LiteRT file is missing or stale is converted first, which imports TensorFlow
    (seconds): that load waits until the visitor's page is on screen (``page_on_screen``)."""

    def __init__(self, model_dir: str):
        self.model_dir = model_dir
        self._done = threading.Event()
        self._recognizer: Recognizer | None = None
        self._error: Exception | None = None
        # Not a daemon: the interpreter's exit waits for it. A daemon load stopped where it stood
        # at exit (reading the model file, or TensorFlow's exit handlers already run) crashed or
        # hung the process; the wait is the rest of one load, seconds.
        threading.Thread(target=self._load, name=f"load-{Path(model_dir).name}").start()

    def _load(self) -> None:
        # A run read with LiteRT loads at once, in a fraction of a second. One that must be
        # converted first imports TensorFlow: seconds of CPU and of the GIL, so it waits until the
        # visitor's page is on screen. That import is thousands of small file reads, each giving up
        # the GIL; with the server's other threads about, taking it back waits out the switch
        # interval every time. A short interval while loading keeps the import near its time in a
        # bare process (docs/performance.md, "Cold start").
        from recognizer import load_recognizer
        from recognizer.reading.networks import fresh_litert_file

        converts = fresh_litert_file(Path(self.model_dir) / MODEL_FILE) is None
        if converts:
            _page_on_screen.wait(PAGE_ON_SCREEN_WAIT_S)
        previous = sys.getswitchinterval()
        sys.setswitchinterval(LOADING_SWITCH_INTERVAL)
        try:
            if converts:
                import_tensorflow()  # its conversion imports TensorFlow: never beside a page's import
            self._recognizer = load_recognizer(self.model_dir)
            _freeze_the_heap()
        except Exception as exc:  # noqa: BLE001 -- whatever a broken file raises is shown by the page
            self._error = exc
        finally:
            sys.setswitchinterval(previous)
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def failed(self) -> bool:
        return self._error is not None

    def recognizer(self, wait: bool = True) -> Recognizer | None:
        """The loaded model; None while it loads (``wait=False``); the load's error if it failed."""
        if wait:
            self._done.wait()
        if self._error is not None:
            raise self._error
        return self._recognizer


FULL_INSTALL = "pip install -r requirements.txt"  # the install with TensorFlow (training, gradients)


def needs_full_install(what: str) -> bool:
    """True, and the page says so, when TensorFlow (which ``what`` needs) is not installed: a
    serving install (requirements-serve.txt) reads every model with LiteRT and trains nothing."""
    if tensorflow_installed():
        return False
    st.info(f"{what} needs TensorFlow, which this serving install leaves out. The full install: `{FULL_INSTALL}`")
    return True


def import_tensorflow() -> None:
    """Import TensorFlow once, whichever thread asks first; the others wait for it to finish.

    A page must call this before importing a module that imports TensorFlow (``recognizer.training.augment``,
    ``recognizer.nets.architectures``): two threads importing TensorFlow's circular modules at once deadlock or
    see a half-initialised module (seen: Explore opened while the model loaded raised
    ``_DeadlockError``), and ``"tensorflow" in sys.modules`` is already true half-way through.
    """
    with _tensorflow_import_lock:
        _import_tensorflow_politely()


_tensorflow_import_lock = threading.Lock()


def _import_tensorflow_politely() -> None:
    """Import TensorFlow in a thread of lower priority, and wait for it.

    The import is seconds of CPU, at the moment the visitor's browser is busy building the page
    and the canvas, which then comes sooner (docs/performance.md). A thread of its own, because a thread's
    niceness cannot be undone without privileges, and the threads a thread starts inherit it:
    TensorFlow's compute threads, started by the model load after the import, keep nice 0.
    """
    if "tensorflow" in sys.modules:
        return

    def import_it() -> None:
        if sys.platform.startswith("linux"):  # elsewhere a thread id given to setpriority names a process
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), IMPORT_NICENESS)
        with contextlib.suppress(Exception):  # the load that follows reports a broken install
            import keras  # noqa: F401 -- keras imports tensorflow

    importer = threading.Thread(target=import_it, name="import-tensorflow", daemon=True)
    importer.start()
    importer.join()


def _freeze_the_heap() -> None:
    """Leave what is loaded now (TensorFlow, the model: ~360k objects) out of later collections.

    Streamlit collects garbage after every script run, and calls Keras's ``clear_session`` (one
    more collection) once Keras is imported: with TensorFlow on the heap each rerun pauses for it
    and the server sends nothing meanwhile (docs/performance.md). What is frozen is never
    freed, so this runs only after a load, when the heap holds little but the modules and models.
    """
    gc.collect()
    gc.freeze()


@st.cache_resource(show_spinner=False, max_entries=4)
def _loading(model_dir: str, stamp: float) -> ModelLoading:
    # `stamp` (the model file's mtime) makes a re-trained model at the same path load afresh;
    # the bound keeps a server that has switched models many times from holding them all.
    return ModelLoading(model_dir)


def _stamp(model_dir: Path) -> float:
    """The model file's mtime: a re-trained model at the same path loads afresh."""
    return (Path(model_dir) / MODEL_FILE).stat().st_mtime


@st.cache_data(show_spinner=False, max_entries=8)
def _active_dir(user_pointer: str, user_stamp: float, shipped_stamp: float) -> Path:
    # Keyed by the pointer files (the user's depends on DIGITS_HOME) and their mtimes: an
    # activation is seen at the next rerun, which costs two stat calls instead of reading JSON.
    return active_model_dir()


def _active_loading() -> ModelLoading:
    """The loading of the active model (started by the first call); ModelNotFoundError if none."""
    from recognizer.core import paths

    user, shipped = paths.user_data_dir() / ACTIVE_FILE, paths.shipped_models_dir() / ACTIVE_FILE
    model_dir = _active_dir(str(user), file_stamp(user), file_stamp(shipped))
    return _loading(str(model_dir), _stamp(model_dir))


def page_on_screen() -> None:
    """The visitor's page is built (the Draw page: its canvas has reported back): load now.

    Loading while the browser builds the page delayed the canvas (docs/performance.md, "Cold
    start"). Without a report the load starts after ``PAGE_ON_SCREEN_WAIT_S``.
    """
    _page_on_screen.set()


def start_loading_model() -> None:
    """Start loading the active model in the background (once per server); never waits."""
    with contextlib.suppress(ModelNotFoundError, OSError):  # the page that needs the model says so
        _active_loading()


@st.cache_resource(show_spinner=False)
def continue_paused_job() -> bool:
    """Once per server: continue a training job that a server which died mid-answer left paused
    (``recognizer.ops.job_pause``); True if one was signalled."""
    return resume_job()


def active_recognizer(wait: bool = True) -> Recognizer | None:
    """The active model, loaded once per process and shared by every visitor; None if missing.

    ``wait=False``: None while it still loads (the Draw page answers when it is ready).
    When the user's chosen model cannot be loaded (a corrupt or half-copied file), the page says
    so and answers with the shipped model, so the Train page can still switch or delete runs.
    """
    if wait:
        page_on_screen()  # someone waits for the model: nothing left to give way to
    try:
        loading = _active_loading()
    except (ModelNotFoundError, OSError) as exc:
        st.error(f"No model could be loaded: {exc}. Train one with `digits-train --activate`.")
        return None
    try:
        return loading.recognizer(wait)
    except Exception as exc:  # noqa: BLE001 -- whatever a broken file raises, the app must stay up
        problem = f"The active model {Path(loading.model_dir).name} could not be loaded ({type(exc).__name__}: {exc})."
    try:
        shipped = shipped_active_dir()
        rec = _loading(str(shipped), _stamp(shipped)).recognizer(wait)
    except Exception as exc:  # noqa: BLE001
        st.error(f"{problem} The shipped model could not be loaded either ({exc}).")
        return None
    st.warning(f"{problem} Answering with the shipped model {shipped.name}; pick another on the Train page.")
    return rec


def _answering_loading() -> ModelLoading:
    """The loading of the model that answers: the active one, or the shipped one if that failed."""
    loading = _active_loading()
    if loading.done and loading.failed:
        shipped = shipped_active_dir()
        loading = _loading(str(shipped), _stamp(shipped))
    return loading


def model_ready() -> bool:
    """Whether the model the pages answer with has finished loading (or failed to)."""
    try:
        return _answering_loading().done
    except (ModelNotFoundError, OSError):
        return True  # nothing to wait for: the page shows the error


@st.cache_data(show_spinner=False, max_entries=16)
def _metrics(model_dir: str, stamp: float) -> dict:
    found = read_json_or(Path(model_dir) / "metrics.json", {})
    return found if isinstance(found, dict) else {}


def sidebar() -> None:
    """The app's name and the model that answers, without waiting for it to load."""
    with st.sidebar:
        st.markdown("### Digit Recognizer")
        try:
            loading = _answering_loading()
        except (ModelNotFoundError, OSError):
            st.caption("No active model.")
            return
        st.caption(f"Active model: **{Path(loading.model_dir).name}**")
        acc = _metrics(loading.model_dir, _stamp(Path(loading.model_dir))).get("test_accuracy")
        if isinstance(acc, int | float) and not isinstance(acc, bool):
            st.caption(f"MNIST test accuracy: {acc:.2%}")


def enlarged(image28, scale: int = 6) -> np.ndarray:
    """A 28x28 image in 0..1 blown up with hard pixel edges, as uint8 for st.image."""
    pixels = np.clip(np.asarray(image28) * 255, 0, 255).astype(np.uint8)
    return np.kron(pixels, np.ones((scale, scale), np.uint8))


def tiles(images: np.ndarray, scale: int = 3) -> np.ndarray:
    """A (rows, cols, 28, 28) stack of 0..1 images as one picture, a thin grey gap between digits."""
    rows, cols = images.shape[:2]
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=0.35)
    return enlarged(padded.transpose(0, 2, 1, 3).reshape(rows * 30, cols * 30), scale)


def duration_text(seconds: float | None) -> str:
    """A duration as people say it: '45 s', '3 min 20 s', '1 h 05 min'; '–' when unknown."""
    if seconds is None:
        return "–"
    seconds = max(0, round(float(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def recognizer_at(run_dir) -> Recognizer | None:
    """The model of one run folder, loaded once per process like the active one; None (with an error) if unloadable."""
    try:
        return _loading(str(run_dir), _stamp(run_dir)).recognizer(wait=True)
    except (ModelNotFoundError, OSError, ValueError) as exc:
        st.error(f"The model in {Path(run_dir).name} could not be loaded: {exc}")
        return None
