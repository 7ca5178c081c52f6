"""A job's progress file (``FileProgress``) and signalling a job where there are no pidfds.

``FileProgress`` runs on a stand-in clock: the ETA and the throttling are about seconds passing,
which a test should not wait for. The signalled process is a real ``sleep`` whose identity is
recorded in a ``state.json`` as the job records its own.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from recognizer.core.storage import read_json, write_json_atomic
from recognizer.ops import job_runner
from recognizer.ops.job_runner import PROGRESS_INTERVAL, FileProgress
from recognizer.ops.job_state import JOBS_DIR, job_pidfd, kill_job, process_identity, signal_job

TRAIN_INFO = {"epochs": 2, "steps_per_epoch": 10, "device": "CPU", "train_samples": 640}
LOGS = {"loss": 0.5, "accuracy": 0.9}


@pytest.fixture
def clock(monkeypatch) -> SimpleNamespace:
    """The job runner's clock, moved by hand: ``clock.now += seconds``."""
    now = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(job_runner, "time", SimpleNamespace(monotonic=lambda: now.now, sleep=time.sleep))
    return now


def written(job_dir: Path) -> dict:
    return read_json(job_dir / "progress.json")


def test_the_eta_counts_training_time_only_and_the_batches_left(tmp_path, clock):
    hooks = FileProgress(tmp_path)
    hooks.on_train_begin(TRAIN_INFO)
    clock.now += 30  # loading data and building the model: not training time
    hooks.on_phase("training")
    assert read_json(tmp_path / "state.json")["status"] == "running"
    hooks.on_epoch_begin(0, 0.001)
    for step in range(5):
        clock.now += 2
        hooks.on_batch_end(0, step, LOGS)
    progress = written(tmp_path)
    assert (progress["epoch"], progress["step"], progress["elapsed_seconds"]) == (0, 5, 10.0)
    assert progress["eta_seconds"] == 15 * 2.0  # 15 of 20 batches left at 2 s each
    for step in range(5, 10):
        clock.now += 2
        hooks.on_batch_end(0, step, LOGS)
    hooks.on_epoch_end(0, {**LOGS, "val_loss": 0.4, "learning_rate": 0.001})
    hooks.on_epoch_begin(1, 0.0005)
    clock.now += 4  # the second epoch runs slower: the estimate follows the mean so far
    hooks.on_batch_end(1, 0, LOGS)
    assert written(tmp_path)["eta_seconds"] == round(24 / 11 * 9, 1)


def test_batches_are_written_at_most_once_an_interval_epochs_always(tmp_path, clock):
    hooks = FileProgress(tmp_path)
    hooks.on_train_begin(TRAIN_INFO)
    hooks.on_epoch_begin(0, 0.001)
    for step in range(3):
        clock.now += PROGRESS_INTERVAL / 4
        hooks.on_batch_end(0, step, LOGS)
    assert written(tmp_path)["step"] == 0  # three batches within the interval: not written yet
    assert hooks.progress["step"] == 3  # though known
    clock.now += PROGRESS_INTERVAL / 4
    hooks.on_batch_end(0, 3, LOGS)
    assert written(tmp_path)["step"] == 4  # a whole interval since the last write
    hooks.on_batch_end(0, 4, LOGS)
    hooks.on_epoch_end(0, {**LOGS, "learning_rate": 0.001})  # at once, whatever the interval
    progress = written(tmp_path)
    assert progress["step"] == 5 and [h["epoch"] for h in progress["history"]] == [1]


def test_the_curve_reaches_the_progress_file_with_the_next_write(tmp_path, clock):
    hooks = FileProgress(tmp_path)
    hooks.on_train_begin(TRAIN_INFO)
    hooks.on_epoch_begin(0, 0.001)
    points = [{"epoch": 0.1 * k, "loss": 1.0 / k, "accuracy": 0.5, "learning_rate": 0.001 * k} for k in (1, 2)]
    for step, point in enumerate(points):
        clock.now += PROGRESS_INTERVAL
        hooks.on_batch_end(0, step, LOGS)
        hooks.on_curve_point(point)
    curve = written(tmp_path)["curve"]  # written by the second batch: the first point only
    assert curve == {"epoch": [0.1], "loss": [1.0], "accuracy": [0.5], "learning_rate": [0.001]}
    hooks.on_epoch_end(0, {**LOGS, "learning_rate": 0.002})
    assert written(tmp_path)["curve"]["learning_rate"] == [0.001, 0.002]
    assert [p.name for p in tmp_path.iterdir()] == ["progress.json"]  # atomic writes leave no temp files


def test_a_download_is_reported_as_its_own_phase_throttled_like_batches(tmp_path, clock):
    hooks = FileProgress(tmp_path)
    hooks.on_download(0, 9_912_422, "train-images-idx3-ubyte.gz")
    assert written(tmp_path)["phase"] == "downloading data"
    clock.now += PROGRESS_INTERVAL / 2
    hooks.on_download(1_000_000, 9_912_422, "train-images-idx3-ubyte.gz")
    assert written(tmp_path)["download"]["done"] == 0  # within the interval: not written
    clock.now += PROGRESS_INTERVAL / 2
    hooks.on_download(2_000_000, None, "train-labels-idx1-ubyte.gz")  # a server that gives no size
    progress = written(tmp_path)
    assert progress["download"] == {"file": "train-labels-idx1-ubyte.gz", "done": 2_000_000, "total": None}
    assert not (tmp_path / "state.json").exists()  # the job is not "running" until it trains
    hooks.on_phase("loading data")
    assert written(tmp_path)["phase"] == "loading data"


@pytest.fixture
def sleeper():
    """A short-lived stand-in for a job's process."""
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def job_of(process, runs: Path, **changes) -> Path:
    """A job folder whose ``state.json`` names ``process`` as the job does (pid, start, boot)."""
    job_dir = runs / JOBS_DIR / "20260101-120000-cnn"
    job_dir.mkdir(parents=True)
    write_json_atomic(job_dir / "state.json", {**process_identity(process.pid), "status": "running", **changes})
    return job_dir


def _stopped(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "T":
            return True
        time.sleep(0.02)
    return False


def _no_pidfd_open(monkeypatch):
    monkeypatch.delattr(os, "pidfd_open", raising=False)


def _pidfd_open_refused(monkeypatch):
    def refused(pid, flags=0):
        raise OSError(errno.ENOSYS, "pidfd_open is not implemented")  # an older kernel

    monkeypatch.setattr(os, "pidfd_open", refused, raising=False)


@pytest.fixture
def kills(monkeypatch) -> list:
    """``os.kill`` calls, passed through; and any use of a pidfd fails the test."""
    sent, kill = [], os.kill

    def recorded(pid, signum):
        sent.append((pid, signum))
        kill(pid, signum)

    def no_pidfds(*_):
        pytest.fail("a pidfd was used where there are none")

    monkeypatch.setattr(os, "kill", recorded)
    monkeypatch.setattr(signal, "pidfd_send_signal", no_pidfds, raising=False)
    return sent


@pytest.mark.parametrize("without", [_no_pidfd_open, _pidfd_open_refused], ids=["missing", "refused"])
def test_without_pidfds_the_jobs_own_process_is_signalled_by_pid(tmp_path, monkeypatch, sleeper, kills, without):
    without(monkeypatch)
    job_dir = job_of(sleeper, tmp_path / "runs")
    assert job_pidfd(job_dir) is None
    assert signal_job(job_dir, signal.SIGSTOP)  # paused, as for a visitor (recognizer.ops.job_pause)
    assert _stopped(sleeper.pid)
    assert signal_job(job_dir, signal.SIGCONT)
    assert kill_job(job_dir)
    assert sleeper.wait(timeout=10) == -signal.SIGKILL
    assert kills == [(sleeper.pid, signal.SIGSTOP), (sleeper.pid, signal.SIGCONT), (sleeper.pid, signal.SIGKILL)]
    assert not kill_job(job_dir)  # gone: nothing left to signal


def test_without_pidfds_a_process_that_only_has_the_jobs_pid_is_left_alone(tmp_path, monkeypatch, sleeper, kills):
    _no_pidfd_open(monkeypatch)
    started = process_identity(sleeper.pid)["pid_started"]
    job_dir = job_of(sleeper, tmp_path / "runs", pid_started=started - 1000)  # the job's pid, reused
    assert not kill_job(job_dir)
    write_json_atomic(job_dir / "state.json", {"status": "running", "pid": sleeper.pid})  # no start time
    assert not kill_job(job_dir)
    assert kills == [] and sleeper.poll() is None


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="this system has no pidfds")
def test_with_pidfds_the_job_is_signalled_through_one(tmp_path, sleeper, monkeypatch):
    sent = []
    monkeypatch.setattr(os, "kill", lambda *args: sent.append(args))
    job_dir = job_of(sleeper, tmp_path / "runs")
    assert kill_job(job_dir)
    assert sleeper.wait(timeout=10) == -signal.SIGKILL and sent == []  # the pidfd, not the pid
