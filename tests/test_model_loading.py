"""The app's model load in the background gives way to the first page (app_pages/shared.py).

The load waits until the Draw page's canvas has reported back (``page_on_screen``), or at most
``PAGE_ON_SCREEN_WAIT_S``; a page that waits for the model starts it at once.
"""

from __future__ import annotations

import time

import pytest

from app_pages import shared


@pytest.fixture
def page_not_yet_on_screen(monkeypatch):
    monkeypatch.setattr(shared, "_page_on_screen", shared.threading.Event())
    monkeypatch.setattr(shared, "PAGE_ON_SCREEN_WAIT_S", 60.0)


def test_the_load_waits_for_the_page_and_starts_when_it_is_on_screen(page_not_yet_on_screen, tiny_run):
    loading = shared.ModelLoading(str(tiny_run))
    time.sleep(1.0)
    assert not loading.done  # a one-epoch LeNet loads in well under a second once it may
    shared.page_on_screen()
    assert loading.recognizer(wait=True) is not None
    assert loading.done and not loading.failed


def test_the_load_does_not_wait_for_ever(monkeypatch, tiny_run):
    monkeypatch.setattr(shared, "_page_on_screen", shared.threading.Event())
    monkeypatch.setattr(shared, "PAGE_ON_SCREEN_WAIT_S", 0.2)
    loading = shared.ModelLoading(str(tiny_run))
    assert loading.recognizer(wait=True) is not None  # no report ever came: it loaded anyway


def test_no_page_imports_tensorflow_beside_the_background_load():
    """Pages import what needs TensorFlow only after ``shared.import_tensorflow``: a module-level
    import in the script thread, while the model loads, once made Explore fail with _DeadlockError."""
    import ast
    import subprocess
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
    run = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_a_process_leaving_during_a_load_lets_it_finish_first(tiny_run):
    """A daemon load was stopped where it stood at exit: the process crashed (segfault) or hung
    freeing h5py objects, so a test run that ended during a load failed after its last test."""
    import subprocess
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
    root = Path(__file__).resolve().parent.parent
    run = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith("finished")
