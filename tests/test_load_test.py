"""A smoke run of scripts/load_test.py: one browser session, two drawings, no training job.

It checks the report's shape and that every drawing was answered; the figures themselves are
measured by running the script, never asserted here. Without Chromium (or Playwright) it skips.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from recognizer.paths import PROJECT_ROOT
from recognizer.pen_timing import missing_browser
from recognizer.pendigits import default_pen_digits_path

pytestmark = pytest.mark.browser


def _load_script():
    spec = importlib.util.spec_from_file_location("load_test", PROJECT_ROOT / "scripts" / "load_test.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_session_two_drawings_all_answered(tmp_path, capsys):
    reason = missing_browser()
    if reason:
        pytest.skip(reason)
    if default_pen_digits_path() is None:
        pytest.skip("no pen digits (DIGITS_PEN_DIGITS)")
    out = tmp_path / "load.json"
    assert _load_script().main(["--sessions", "1", "--drawings", "2", "--job", "off", "--out", str(out)]) == 0

    figures = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == figures
    assert set(figures) >= {"configurations", "job", "job_effect", "all_answered", "machine"}
    found = figures["configurations"]["sessions_1"]
    assert found["drawn"] == 3  # one warm-up and two timed
    assert found["answered"] == found["drawn"]
    assert figures["all_answered"] is True
    for side in ("browser", "server"):
        assert set(found[side]) >= {"median_ms", "p95_ms", "trials"}
    assert found["browser"]["trials"] == 2
    assert found["server"]["trials"] >= 2  # at least one rerun with ink per drawing
    assert figures["job"] is None and figures["job_effect"] == {}
