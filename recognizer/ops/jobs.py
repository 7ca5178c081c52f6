"""Start a background training job: one at a time per runs folder, its process holding the lock.

One job at a time is an OS lock, not a file anyone deletes: ``start_job`` takes an exclusive
``flock`` on ``.job.lock``, and the job process (``recognizer.ops.job_runner``) inherits that very
lock (the same open file), so it is held without a gap from the check to the job's last breath;
the kernel drops it when the job dies, however it dies. What a killed job leaves behind (a
half-saved ``.<job>.partial`` run) is swept by the next start, as are job folders beyond the
newest ``JOBS_KEPT``. The job trains on ``JOB_THREADS`` threads, so the server keeps a core for
visitors (docs/serving.md says how the job gives way).

    >>> job = start_job(TrainConfig(architecture="lenet5", epochs=1, train_subset=500))  # doctest: +SKIP
    >>> job_status(job.job_dir)["status"]  # doctest: +SKIP
    'starting'
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from recognizer.core import paths
from recognizer.core.installed import usable_cpus
from recognizer.core.runs import DELETING_PREFIX, sweep_leftovers
from recognizer.core.storage import write_json_atomic
from recognizer.ops.job_state import (
    CURRENT_NAME,
    JOBS_DIR,
    LOCK_FD_ENV,
    LOCK_NAME,
    current_job,
    now_text,
    runs_dir_or_default,
    try_flock,
)
from recognizer.training.config import TrainConfig, new_run_name


@dataclass(frozen=True)
class Job:
    """A started job: its id (also its run's name) and its folder."""

    job_id: str
    job_dir: Path


JOBS_KEPT = 20  # job folders (logs and curves) kept; older ones go when a job starts
# A page's look at the lock holds a shared lock for microseconds; a start retries past that.
START_TRIES, START_RETRY_SECONDS = 25, 0.02


# The job leaves the server a core: on a 2-core machine it trains on one thread.
JOB_THREADS = max(1, usable_cpus() - 1)
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)


class JobRunningError(RuntimeError):
    """A job already holds this runs folder."""

    def __init__(self, job_dir: Path):
        super().__init__(f"a training job is already running: {job_dir.name}")
        self.job_dir = job_dir


def _take_lock(runs_dir: Path) -> int:
    """The folder's lock, held exclusively through the returned descriptor; or JobRunningError."""
    fd = os.open(runs_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    for _ in range(START_TRIES):
        if try_flock(fd, fcntl.LOCK_EX):
            return fd
        time.sleep(START_RETRY_SECONDS)
    os.close(fd)
    raise JobRunningError(current_job(runs_dir) or runs_dir / JOBS_DIR / "unknown")


def prune_jobs(runs_dir: str | os.PathLike | None = None, keep: int = JOBS_KEPT) -> list[str]:
    """Delete all but the newest ``keep`` job folders; return the names deleted.

    Call it only while holding the lock (``start_job`` does), so no job being deleted runs.
    """
    folder = runs_dir_or_default(runs_dir) / JOBS_DIR
    if not folder.is_dir():
        return []
    names = sorted((d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")), reverse=True)
    for name in names[keep:]:
        # Hidden by one rename first, so a page listing jobs never sees half a folder.
        doomed = folder / f"{DELETING_PREFIX}{name}"
        (folder / name).rename(doomed)
        shutil.rmtree(doomed, ignore_errors=True)
    for leftover in folder.glob(f"{DELETING_PREFIX}*"):  # a prune killed half-way
        shutil.rmtree(leftover, ignore_errors=True)
    return names[keep:]


def _tidy(runs_dir: Path) -> None:
    """What killed jobs and writers left behind goes; we hold the lock, so no job is at work."""
    job_names = [d.name for d in (runs_dir / JOBS_DIR).glob("*") if d.is_dir()]
    sweep_leftovers(runs_dir, dead_writers=job_names)
    prune_jobs(runs_dir, keep=JOBS_KEPT - 1)  # room for the job being started


def _job_env(lock_fd: int) -> dict[str, str]:
    threads = {name: str(JOB_THREADS) for name in THREAD_ENV_VARS}
    quiet = {"PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return {**os.environ, **quiet, **threads, LOCK_FD_ENV: str(lock_fd)}


def _spawn(job_dir: Path, lock_fd: int) -> None:
    """Start the job process; it inherits ``lock_fd``, so the lock passes to it without a gap."""
    with open(job_dir / "log.txt", "ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "recognizer.ops.job_runner", str(job_dir)],
            cwd=paths.PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives a Streamlit rerun or restart
            pass_fds=(lock_fd,),
            env=_job_env(lock_fd),
        )


def start_job(
    config: TrainConfig,
    runs_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
) -> Job:
    """Validate ``config``, take the folder's lock and start training in a new process.

    Raises ``ValueError`` for an invalid config and ``JobRunningError`` when a job is running.
    Two starts at once, from threads or processes: exactly one gets the lock.
    """
    config.validate()
    runs_dir = runs_dir_or_default(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    lock_fd = _take_lock(runs_dir)
    try:
        _tidy(runs_dir)
        job_id = _free_name(runs_dir, new_run_name(config))  # the job's run gets the same name
        job_dir = runs_dir / JOBS_DIR / job_id
        write_json_atomic(runs_dir / CURRENT_NAME, {"job_id": job_id})
        try:
            job_dir.mkdir(parents=True)
            write_json_atomic(job_dir / "config.json", config.to_dict())
            state = {"job_id": job_id, "status": "starting", "started": now_text(), "data_dir": _path_text(data_dir)}
            write_json_atomic(job_dir / "state.json", state)
            _spawn(job_dir, lock_fd)
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
    finally:
        os.close(lock_fd)  # the job holds the lock through its own copy now (or no one does)
    return Job(job_id, job_dir)


def _free_name(runs_dir: Path, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... if a job or run of that name exists (same second)."""
    name, n = base, 1
    while (runs_dir / JOBS_DIR / name).exists() or (runs_dir / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _path_text(path) -> str | None:
    return None if path is None else str(path)
