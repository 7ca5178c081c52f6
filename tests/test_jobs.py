"""Background training jobs: real processes with a tiny config (start, progress, stop, crash, lock)."""

import json
import os
import signal
import time

import pytest

from recognizer.jobs import (
    JobRunningError,
    current_job,
    job_status,
    list_jobs,
    start_job,
    stop_job,
)
from recognizer.runs import list_runs
from recognizer.train import TrainConfig

TINY = dict(architecture="lenet5", batch_size=32, validation_split=0.2, augment=False)


def wait_for(job_dir, done, timeout=120):
    """Poll the job's status until ``done(status)``; return the last status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = job_status(job_dir)
        if done(status):
            return status
        time.sleep(0.3)
    raise AssertionError(f"timed out; last status {status} log:\n{(job_dir / 'log.txt').read_text()[-3000:]}")


def ended(status):
    return status["status"] not in ("starting", "running")


@pytest.fixture
def runs(tmp_path, mnist):  # mnist: the job reads DIGITS_DATA_DIR, which the fixture checks
    return tmp_path / "runs"


def test_job_trains_reports_progress_and_writes_a_run(runs):
    job = start_job(TrainConfig(epochs=2, train_subset=1500, **TINY), runs_dir=runs)
    assert current_job(runs) == job.job_dir
    with pytest.raises(JobRunningError) as refused:
        start_job(TrainConfig(epochs=1, train_subset=300, **TINY), runs_dir=runs)
    assert refused.value.job_dir == job.job_dir

    status = wait_for(job.job_dir, ended)
    assert status["status"] == "finished", status
    progress = status["progress"]
    assert progress["epochs"] == 2 and progress["steps_per_epoch"] == 38  # ceil(1200 / 32)
    assert [h["epoch"] for h in progress["history"]] == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(progress["history"][0])
    assert progress["device"] == "CPU"
    run_dir = runs / job.job_id
    assert status["run_dir"] == str(run_dir)
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "finished"
    assert current_job(runs) is None
    assert not (runs / ".train.lock").exists()
    row = next(r for r in list_runs(runs) if r["name"] == job.job_id)
    assert row["epochs"] == 2 and not row["active"]


def test_stop_keeps_the_run_marked_stopped_and_not_active(runs):
    job = start_job(TrainConfig(epochs=50, train_subset=2000, **TINY), runs_dir=runs)
    wait_for(job.job_dir, lambda s: len(s["progress"].get("history", [])) >= 1 or ended(s))
    stop_job(job.job_dir)
    status = wait_for(job.job_dir, ended)
    assert status["status"] == "stopped", status
    metrics = json.loads((runs / job.job_id / "metrics.json").read_text())
    assert metrics["status"] == "stopped" and metrics["epochs_run"] < 50
    row = next(r for r in list_runs(runs) if r["name"] == job.job_id)
    assert row["status"] == "stopped" and not row["active"]


def test_a_failing_job_reports_its_error_and_frees_the_lock(runs, tmp_path):
    job = start_job(TrainConfig(epochs=1, train_subset=300, **TINY), runs_dir=runs, data_dir=tmp_path / "nowhere")
    status = wait_for(job.job_dir, ended)
    assert status["status"] == "failed"
    assert "DataError" in status["error"] and "nowhere" in status["error"]
    assert "Traceback" in (job.job_dir / "log.txt").read_text()
    assert [p.name for p in runs.iterdir() if not p.name.startswith(".")] == []  # no half-written run
    assert current_job(runs) is None
    again = start_job(TrainConfig(epochs=1, train_subset=300, **TINY), runs_dir=runs, data_dir=tmp_path / "nowhere")
    wait_for(again.job_dir, ended)


def test_a_killed_job_is_reported_failed_with_its_log_and_its_lock_is_released(runs):
    job = start_job(TrainConfig(epochs=50, train_subset=2000, **TINY), runs_dir=runs)
    wait_for(job.job_dir, lambda s: s["progress"].get("step", 0) > 0 or ended(s))
    pid = json.loads((job.job_dir / "state.json").read_text())["pid"]
    os.killpg(pid, signal.SIGKILL)  # what the kernel's out-of-memory killer does
    status = wait_for(job.job_dir, ended, timeout=30)
    assert status["status"] == "failed"
    assert "ended without reporting" in status["error"]
    assert "log_tail" in status
    assert current_job(runs) is None  # the dead holder's lock is removed
    assert [j["job_id"] for j in list_jobs(runs)] == [job.job_id]


def test_invalid_config_is_refused_before_any_process(runs):
    with pytest.raises(ValueError, match="epochs"):
        start_job(TrainConfig(epochs=0), runs_dir=runs)
    assert not runs.exists() or not (runs / ".train.lock").exists()
