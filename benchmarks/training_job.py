"""A training job that runs beside a measurement: the load a server's visitors share the machine
with when someone trains from the Train page (``digits-benchmark`` and ``digits-load-test``).

    >>> job = start_long_job(runs_dir)  # doctest: +SKIP
    >>> end_job(job)  # after the measurement, in a ``finally``  # doctest: +SKIP
    'stopped'
"""

from __future__ import annotations

import time
from pathlib import Path


def start_long_job(runs_dir: Path, data_dir: Path | None = None, ready_within: float = 120.0, config=None):
    """A training job that outlasts a measurement (by default 50 epochs of the cnn on all of
    MNIST), returned once it trains (or after ``ready_within`` s): timing it while it imports
    TensorFlow would measure the wrong load. The caller ends it with ``end_job``, in a ``finally``."""
    from recognizer.ops.job_state import job_status
    from recognizer.ops.jobs import start_job
    from recognizer.training.config import TrainConfig

    config = config or TrainConfig(architecture="cnn", epochs=50, train_subset=None)
    job = start_job(config, runs_dir, data_dir)
    deadline = time.monotonic() + ready_within
    while time.monotonic() < deadline:
        status = job_status(job.job_dir)
        if status.get("status") not in ("starting", "running"):
            break  # failed: the caller reads why from its status
        progress = status.get("progress", {})
        if progress.get("phase") == "training" and progress.get("step"):
            break
        time.sleep(0.5)
    return job


def end_job(job, grace: float = 30.0) -> str:
    """Ask ``job`` to stop; after ``grace`` s (a job still importing does not look yet) kill it.
    Its final status."""
    from recognizer.ops.job_state import job_status, kill_job, stop_job

    stop_job(job.job_dir)
    deadline = time.monotonic() + grace
    while job_status(job.job_dir).get("status") in ("starting", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
    if job_status(job.job_dir).get("status") in ("starting", "running"):
        kill_job(job.job_dir)
        time.sleep(1.0)  # the kernel frees the lock; the status then reads failed
    return job_status(job.job_dir).get("status", "?")
