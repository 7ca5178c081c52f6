"""The app's model load in the background (app_pages/shared.py).

A run read with LiteRT loads at once. One that must be converted first (its LiteRT file missing or
stale: TensorFlow's import, seconds of CPU) waits until the Draw page's canvas has reported back
(``page_on_screen``), or at most ``PAGE_ON_SCREEN_WAIT_S``; a page that waits for the model starts
it at once.
"""

from __future__ import annotations

import time

import pytest

from app_pages import shared


@pytest.fixture
def page_not_yet_on_screen(monkeypatch):
    monkeypatch.setattr(shared, "_page_on_screen", shared.threading.Event())
    monkeypatch.setattr(shared, "PAGE_ON_SCREEN_WAIT_S", 60.0)


@pytest.fixture
def load_begins(monkeypatch):
    """``load_begins(timeout)``: when a load began its work (None if not within ``timeout`` s).

    Past the gate, the load thread's work is ``load_recognizer``: its call is recorded on entry.
    """
    from recognizer.reading import recognizer

    begun: list[float] = []
    entered = shared.threading.Condition()
    real_load = recognizer.load_recognizer

    def recording_load(*args, **kwargs):
        with entered:
            begun.append(time.monotonic())
            entered.notify_all()
        return real_load(*args, **kwargs)

    def first_begun(timeout: float) -> float | None:
        with entered:
            entered.wait_for(lambda: begun, timeout)
            return begun[0] if begun else None

    monkeypatch.setattr(recognizer, "load_recognizer", recording_load)
    return first_begun


HOLD_S = 2.0  # how long the held load is watched; an ungated one begins within milliseconds
HANG_S = 120.0  # a cap that only a hang reaches


@pytest.fixture
def unconverted_run(tiny_run, tmp_path):
    """A copy of the tiny run without its LiteRT file: loading it converts it first."""
    import shutil

    run = shutil.copytree(tiny_run, tmp_path / "unconverted")
    (run / "model.tflite").unlink()
    return run


def test_a_run_read_with_litert_loads_at_once(page_not_yet_on_screen, load_begins, tiny_run):
    started = time.monotonic()
    loading = shared.ModelLoading(str(tiny_run))
    begun = load_begins(timeout=HANG_S)
    assert begun is not None and begun - started < HOLD_S  # no wait for the page: nothing to give way to
    assert loading.recognizer(wait=True) is not None


def test_a_load_that_converts_waits_for_the_page_and_starts_when_it_is_on_screen(
    page_not_yet_on_screen, load_begins, unconverted_run
):
    loading = shared.ModelLoading(str(unconverted_run))
    # Held at the gate: the load's work has not even begun.
    assert load_begins(timeout=HOLD_S) is None
    assert not loading.done
    released = time.monotonic()
    shared.page_on_screen()
    begun = load_begins(timeout=HANG_S)
    assert begun is not None and begun >= released  # it began once the page was on screen, not before
    assert loading.recognizer(wait=True) is not None
    assert loading.done and not loading.failed


def test_the_probe_sees_an_ungated_load_begin_at_once(page_not_yet_on_screen, load_begins, unconverted_run):
    """The control: with the page already on screen the same probe sees the load begin well within
    ``HOLD_S``, so its silence above is the gate holding the load, not a probe that sees nothing."""
    shared.page_on_screen()
    started = time.monotonic()
    loading = shared.ModelLoading(str(unconverted_run))
    begun = load_begins(timeout=HANG_S)
    assert begun is not None and begun - started < HOLD_S
    assert loading.recognizer(wait=True) is not None


def test_the_load_does_not_wait_for_ever(monkeypatch, unconverted_run):
    monkeypatch.setattr(shared, "_page_on_screen", shared.threading.Event())
    monkeypatch.setattr(shared, "PAGE_ON_SCREEN_WAIT_S", 0.2)
    loading = shared.ModelLoading(str(unconverted_run))
    assert loading.recognizer(wait=True) is not None  # no report ever came: it loaded anyway


def test_no_page_imports_tensorflow_beside_the_background_load(python_process):
    """Pages import what needs TensorFlow only after ``shared.import_tensorflow``: a module-level
    import in the script thread, while the model loads, once made Explore fail with _DeadlockError."""
    import ast
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    imported = set()
    for page in [root / "app.py", *sorted((root / "app_pages").glob("*.py"))]:
        for node in ast.parse(page.read_text()).body:  # module level only
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("recognizer"):
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(a.name for a in node.names if a.name.startswith("recognizer"))
    assert "recognizer.training.config" in imported  # the scan sees the pages' imports
    script = (
        f"import sys\nfor m in {sorted(imported)!r}:\n    __import__(m)\n    assert 'tensorflow' not in sys.modules, m"
    )
    python_process([sys.executable, "-c", script], cwd=root)


def test_a_process_leaving_during_a_load_lets_it_finish_first(tiny_run, python_process):
    """A daemon load was stopped where it stood at exit: the process crashed (segfault) or hung
    freeing h5py objects, so a test run that ended during a load failed after its last test."""
    import sys
    from pathlib import Path

    script = f"""
import atexit, time
seen = {{}}
atexit.register(lambda: print("finished" if seen["load"].done else "cut short"))  # after the threads are joined
from app_pages import shared
shared.page_on_screen()
seen["load"] = shared.ModelLoading({str(tiny_run)!r})
time.sleep(0.5)  # the load is under way: the import of TensorFlow alone takes seconds
"""
    run = python_process([sys.executable, "-c", script], cwd=Path(__file__).resolve().parent.parent)
    assert run.stdout.strip().endswith("finished")
