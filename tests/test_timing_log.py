"""The opt-in timing log: wall time and the thread's own CPU time per timed block."""

import time

import pytest

from recognizer.ops.timing_log import LOG_ENV, read_log, timed


def busy(cpu_seconds: float) -> None:
    """Compute until this thread has used ``cpu_seconds`` of CPU, however long a busy machine takes."""
    end = time.thread_time() + cpu_seconds
    while time.thread_time() < end:
        pass


def test_nothing_is_written_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(LOG_ENV, raising=False)
    with timed("quiet") as record:
        record["ink"] = True
    assert list(tmp_path.iterdir()) == []


def test_a_block_that_waits_logs_wall_time_but_little_cpu_time(tmp_path, monkeypatch):
    log = tmp_path / "timing.jsonl"
    monkeypatch.setenv(LOG_ENV, str(log))
    with timed("waits") as record:
        time.sleep(0.2)
        record["ink"] = True
    with timed("computes"):
        busy(0.2)

    (waits, computes), _ = read_log(log)
    assert waits["what"] == "waits" and waits["ok"] and waits["ink"]
    assert waits["ms"] >= 200 and waits["cpu_ms"] < 50
    assert computes["cpu_ms"] >= 190  # the block's own CPU time, whatever else ran meanwhile
    assert computes["cpu_ms"] <= computes["ms"] + 1


def test_a_block_left_by_an_exception_is_logged_as_not_ok(tmp_path, monkeypatch):
    log = tmp_path / "timing.jsonl"
    monkeypatch.setenv(LOG_ENV, str(log))
    with pytest.raises(RuntimeError), timed("stopped"):
        raise RuntimeError("a newer rerun replaced this one")
    (record,), offset = read_log(log)
    assert record["ok"] is False and "cpu_ms" in record
    assert read_log(log, offset) == ([], offset)
