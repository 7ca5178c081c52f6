"""The serving install: the Draw page in full with LiteRT and without TensorFlow (tests/serving_check.py).

CI runs this file twice: with the full install, where the check blocks TensorFlow's import, and in
a virtual environment made from requirements-serve.txt alone, where TensorFlow is not there at all.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_draw_page_serves_without_tensorflow(python_process, pen_path, mnist):
    done = python_process([sys.executable, str(ROOT / "tests" / "serving_check.py")], cwd=ROOT, timeout=600)
    assert done.stdout.strip().endswith("served without TensorFlow")


def test_the_serving_requirements_leave_tensorflow_out():
    import tomllib

    serving = (ROOT / "requirements-serve.txt").read_text().split()
    assert "-e" in serving and "." in serving  # the project without its "train" extra
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("tensorflow") for d in project["dependencies"])
    assert any(d.startswith("tensorflow") for d in project["optional-dependencies"]["train"])
    assert any(d.startswith("ai-edge-litert") for d in project["dependencies"])
