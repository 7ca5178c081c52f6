"""Visitors first: the running job is stopped while answers are computed, and only that job."""

import fcntl
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from recognizer.ops import job_pause, job_state
from recognizer.ops.job_pause import resume_job, visitors_first
from recognizer.ops.job_state import process_identity, stop_job


def run_state(pid: int) -> str:
    """The process's state letter from /proc: "T" stopped, "S" sleeping, "R" running."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]


def wait_state(pid: int, stopped: bool, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (run_state(pid) in ("T", "t")) == stopped:
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def running_job(tmp_path):
    """A runs folder whose running job is a small process; the lock is held as a job holds it.

    Yields (runs dir, job dir, process)."""
    runs = tmp_path / "runs"
    job_dir = runs / job_state.JOBS_DIR / "20260101-120000-cnn"
    job_dir.mkdir(parents=True)
    process = subprocess.Popen(["sleep", "60"])
    (job_dir / "state.json").write_text(json.dumps({**process_identity(process.pid), "status": "running"}))
    (runs / job_state.CURRENT_NAME).write_text(json.dumps({"job_id": job_dir.name}))
    lock = os.open(runs / job_state.LOCK_NAME, os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        yield runs, job_dir, process
    finally:
        os.close(lock)
        process.kill()
        process.wait()


def test_the_job_is_stopped_during_an_answer_and_continues_after(running_job):
    runs, _, job = running_job
    assert not wait_state(job.pid, stopped=True, timeout=0.2)
    with visitors_first(runs):
        assert wait_state(job.pid, stopped=True)
    assert wait_state(job.pid, stopped=False)


def test_overlapping_answers_keep_it_stopped_until_the_last_ends(running_job):
    runs, _, job = running_job
    first_in, second_in, first_may_end = threading.Event(), threading.Event(), threading.Event()

    def first():
        with visitors_first(runs):
            first_in.set()
            first_may_end.wait(5)

    other = threading.Thread(target=first)
    other.start()
    assert first_in.wait(5)
    with visitors_first(runs):
        second_in.set()
        first_may_end.set()
        other.join(5)  # the first answer has ended; this one still runs
        assert wait_state(job.pid, stopped=True)
    assert wait_state(job.pid, stopped=False)


def test_a_pause_never_outlasts_its_bound(running_job, monkeypatch):
    runs, _, job = running_job
    monkeypatch.setattr(job_pause, "MAX_PAUSE", 0.3)
    with visitors_first(runs):
        assert wait_state(job.pid, stopped=True)
        assert wait_state(job.pid, stopped=False, timeout=3)  # the answer has not ended, the job runs
    assert run_state(job.pid) not in ("T", "t")


def test_a_job_left_stopped_is_continued_by_resume_and_by_stop(running_job):
    runs, job_dir, job = running_job
    for continue_it in (lambda: resume_job(runs), lambda: stop_job(job_dir)):
        os.kill(job.pid, 19)  # SIGSTOP, as a server that died mid-answer leaves it
        assert wait_state(job.pid, stopped=True)
        continue_it()
        assert wait_state(job.pid, stopped=False)


def test_a_stale_pid_of_another_process_is_never_stopped(running_job):
    runs, job_dir, stranger = running_job
    identity = process_identity(stranger.pid)
    stale = {**identity, "pid_started": identity["pid_started"] - 1000, "status": "running"}
    (job_dir / "state.json").write_text(json.dumps(stale))
    with visitors_first(runs):
        assert not wait_state(stranger.pid, stopped=True, timeout=0.3)
    assert not resume_job(runs)


def test_without_a_job_an_answer_runs_as_usual(tmp_path):
    with visitors_first(tmp_path / "never-used"):
        pass
    assert not resume_job(tmp_path / "never-used")
    assert job_pause._answering == 0 and job_pause._paused is None
