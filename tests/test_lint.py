"""The code passes ruff's lint and format checks (config in pyproject.toml)."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def ruff_command() -> list[str] | None:
    """Ruff from this interpreter's environment (any venv), else from PATH; None when neither has it."""
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    found = shutil.which("ruff")
    return [found] if found else None


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff(command):
    ruff = ruff_command()
    if ruff is None:
        missing = "ruff is not installed (pip install -r requirements-dev.txt)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the lint checks: {missing}")
        pytest.skip(missing)
    result = subprocess.run([*ruff, *command], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
