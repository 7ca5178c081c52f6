"""benchmarks.load_test (digits-load-test): its pooling of cycles and the job's effect (pure functions, made-up times),
and a smoke run: one browser session, two drawings, no training job, the default two cycles.

The smoke run checks the report's shape and that every drawing was answered; the figures
themselves are measured by running the script, never asserted here. Without Chromium (or
Playwright) or the pen digits it skips, except under CI (CI set), where it fails.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from benchmarks import load_test
from benchmarks.pen_timing import missing_browser
from recognizer.data.pen import default_pen_digits_path


def sample(sessions: int, server_ms: list[float], browser_ms: list[float] | None = None) -> dict:
    """A configuration's raw sample as run_configuration returns it: every drawing answered, each
    answer one finished rerun with ink, each clearing one blank rerun."""
    inked = [{"what": "draw", "ms": ms, "cpu_ms": ms / 2, "ok": True, "ink": True} for ms in server_ms]
    blank = [{"what": "draw", "ms": 5.0, "ok": True, "ink": False} for _ in server_ms]
    browser = browser_ms if browser_ms is not None else [400.0 + ms for ms in server_ms]
    count = len(server_ms) + sessions  # the warm-ups were drawn and answered too
    return {
        "sessions": sessions,
        "drawn": count,
        "answered": count,
        "read_right": count - 1,
        "browser_ms": browser,
        "server_records": inked + blank,
    }


TRAINING = {"id": "job", "start_phase": "training", "end_phase": "training", "status_at_end": "running"}


def two_cycles() -> list[dict]:
    """Two slow answers without the job in cycle 1, two with it in cycle 2: each cycle's p95 rests on them."""
    return [
        {"sessions_6": sample(6, [40.0] * 28 + [900.0] * 2), "sessions_6_job": sample(6, [50.0] * 30)},
        {"sessions_6": sample(6, [45.0] * 30), "sessions_6_job": sample(6, [55.0] * 28 + [700.0, 800.0])},
    ]


def test_the_answers_of_each_condition_are_pooled_across_cycles_before_the_p95():
    cycles = two_cycles()
    found = load_test.report(cycles, [TRAINING, TRAINING], [6])

    off, on = found["configurations"]["sessions_6"], found["configurations"]["sessions_6_job"]
    off_ms = [40.0] * 28 + [900.0] * 2 + [45.0] * 30
    on_ms = [50.0] * 30 + [55.0] * 28 + [700.0, 800.0]
    assert off["server"]["trials"] == on["server"]["trials"] == 60
    assert off["server"]["p95_ms"] == round(float(np.percentile(off_ms, 95)), 1)
    assert on["server"]["p95_ms"] == round(float(np.percentile(on_ms, 95)), 1)
    assert off["server"]["slowest_ms"] == [900.0, 900.0, 45.0, 45.0, 45.0]
    assert off["server"]["cpu"]["p95_ms"] == round(float(np.percentile(off_ms, 95)) / 2, 1)
    assert off["server"]["reruns_blank"] == 60 and off["server"]["reruns_stopped"] == 0
    assert off["drawn"] == off["answered"] == 72 and off["cycles"] == 2
    assert off["browser"]["trials"] == 60

    effect = found["job_effect"]["sessions_6"]
    assert effect["server_p95_ratio"] == round(on["server"]["p95_ms"] / off["server"]["p95_ms"], 2)
    assert effect["server_answers"] == [60, 60]
    per_cycle = [c["job_effect"]["sessions_6"]["server_p95_ratio"] for c in found["cycles"]]
    assert effect["server_p95_ratio_per_cycle"] == per_cycle
    # Each cycle's ratio swings on its two slow answers; the pooled p95s are taken first, so the
    # pooled ratio is neither one cycle's nor their mean.
    assert per_cycle[0] < 0.2 and per_cycle[1] > 5
    assert 1 < effect["server_p95_ratio"] < 1.5
    assert effect["met"] is (effect["server_p95_ratio"] <= load_test.JOB_TARGET)
    assert found["jobs"] == [TRAINING, TRAINING]


def test_the_effect_is_met_only_if_the_job_trained_through_every_on_phase():
    imported = {**TRAINING, "start_phase": "loading data"}
    crashed = {**TRAINING, "status_at_end": "failed"}
    quiet = [{"sessions_1": sample(1, [40.0] * 10), "sessions_1_job": sample(1, [40.0] * 10)}] * 2
    for jobs, met in (([TRAINING, TRAINING], True), ([TRAINING, imported], False), ([crashed, TRAINING], False)):
        effect = load_test.report(quiet, jobs, [1])["job_effect"]["sessions_1"]
        assert effect["server_p95_ratio"] == 1.0
        assert effect["job_trained_throughout"] is met and effect["met"] is met


def test_a_condition_measured_in_no_cycle_has_no_effect_and_an_empty_summary_no_ratio():
    only_off = [{"sessions_1": sample(1, [40.0, 50.0])}, {"sessions_1": sample(1, [45.0])}]
    found = load_test.report(only_off, [None, None], [1])
    assert found["job_effect"] == {} and found["jobs"] == []
    assert found["configurations"]["sessions_1"]["server"]["trials"] == 3
    assert [c["configurations"]["sessions_1"]["drawn"] for c in found["cycles"]] == [3, 2]

    no_answers = [{"sessions_1": sample(1, []), "sessions_1_job": sample(1, [40.0])}]
    effect = load_test.report(no_answers, [TRAINING], [1])["job_effect"]["sessions_1"]
    assert effect["server_p95_ratio"] is None and effect["met"] is False


@pytest.mark.browser
def test_one_session_two_drawings_two_cycles_all_answered(tmp_path, capsys):
    pen_path = default_pen_digits_path()
    missing = missing_browser() or (None if pen_path and pen_path.is_file() else "no pen digits (DIGITS_PEN_DIGITS)")
    if missing and os.environ.get("CI"):
        pytest.fail(f"the load test's smoke run must run in CI: {missing}")
    if missing:
        pytest.skip(missing)
    out = tmp_path / "load.json"
    assert load_test.main(["--sessions", "1", "--drawings", "2", "--job", "off", "--out", str(out)]) == 0

    figures = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == figures
    assert set(figures) >= {"configurations", "cycles", "jobs", "job_effect", "all_answered", "machine"}
    assert len(figures["cycles"]) == 2  # the default
    each = [cycle["configurations"]["sessions_1"] for cycle in figures["cycles"]]
    found = figures["configurations"]["sessions_1"]
    assert [c["drawn"] for c in each] == [3, 3]  # one warm-up and two timed per cycle
    assert found["drawn"] == 6 and found["cycles"] == 2
    assert found["answered"] == found["drawn"]
    assert figures["all_answered"] is True
    for side in ("browser", "server"):
        assert set(found[side]) >= {"median_ms", "p95_ms", "trials"}
        assert found[side]["trials"] == sum(c[side]["trials"] for c in each)  # pooled, not the last cycle's
    assert found["browser"]["trials"] == 4
    assert all(c["server"]["trials"] >= 2 for c in each)  # at least one rerun with ink per drawing
    assert figures["jobs"] == [] and figures["job_effect"] == {}
