"""Background training jobs: one at a time per runs folder, state on disk, stoppable.

The Train page (and anything else) starts a job; the job trains in its own process, so the
Streamlit server stays responsive for every visitor. Everything about a job lives in files, so
any page load, in any browser, can reattach to it:

    <runs dir>/.jobs/<job id>/
        config.json    the TrainConfig
        state.json     status (starting, running, finished, stopped, failed), pid, run folder, error
        progress.json  epoch, step, steps per epoch, ETA, per-epoch history (written by the job)
        log.txt        the job's stdout and stderr
        stop           present = a stop was requested
    <runs dir>/.train.lock   the job id holding the folder (one job at a time)

    >>> from recognizer.jobs import start_job, job_status
    >>> job = start_job(TrainConfig(architecture="lenet5", epochs=1, train_subset=500))  # doctest: +SKIP
    >>> job_status(job.job_dir)["status"]  # doctest: +SKIP
    'running'

A job whose process died without saying so (killed, out of memory) is reported as ``failed``
with the tail of its log. Its lock is released by the next start.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from recognizer import paths
from recognizer.storage import read_json, write_json_atomic
from recognizer.train import TrainConfig, TrainingHooks, train

LOCK_NAME = ".train.lock"
JOBS_DIR = ".jobs"
ACTIVE_STATUSES = ("starting", "running")
PROGRESS_INTERVAL = 0.5  # seconds between per-batch progress writes


class JobRunningError(RuntimeError):
    """A job already holds this runs folder."""

    def __init__(self, job_dir: Path):
        super().__init__(f"a training job is already running: {job_dir.name}")
        self.job_dir = job_dir


@dataclass(frozen=True)
class Job:
    job_id: str
    job_dir: Path
    runs_dir: Path


def _runs_dir(runs_dir: str | os.PathLike | None) -> Path:
    return Path(runs_dir) if runs_dir is not None else paths.runs_dir()


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A finished child that nobody has waited for is a zombie: dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _read(path: Path, default=None):
    try:
        return read_json(path)
    except (OSError, ValueError):
        return default


def log_tail(job_dir: str | os.PathLike, lines: int = 30) -> str:
    """The last ``lines`` lines of a job's log."""
    try:
        text = (Path(job_dir) / "log.txt").read_text(errors="replace")
    except OSError:
        return ""
    # Progress bars redraw with carriage returns; keep only what a terminal would show.
    shown = [line.rsplit("\r", 1)[-1] for line in text.splitlines()]
    return "\n".join(shown[-lines:])


def job_status(job_dir: str | os.PathLike) -> dict:
    """A job's state plus its progress; a job whose process is gone is reported as failed."""
    job_dir = Path(job_dir)
    state = _read(job_dir / "state.json", {}) or {}
    state.setdefault("job_id", job_dir.name)
    state["job_dir"] = str(job_dir)
    state["progress"] = _read(job_dir / "progress.json", {}) or {}
    state["stop_requested"] = (job_dir / "stop").exists()
    if state.get("status") in ACTIVE_STATUSES and not _pid_alive(state.get("pid")):
        # Give a just-finished job a moment to write its final state before calling it dead.
        time.sleep(0.2)
        fresh = _read(job_dir / "state.json", {}) or {}
        if fresh.get("status") in ACTIVE_STATUSES:
            state["status"] = "failed"
            state["error"] = "the training process ended without reporting (killed, or out of memory?)"
            state["log_tail"] = log_tail(job_dir)
        else:
            state.update(fresh)
    return state


def _lock_holder(runs_dir: Path) -> Path | None:
    """The job dir holding the lock, if that job is still alive; a dead holder's lock is removed."""
    lock = runs_dir / LOCK_NAME
    try:
        job_id = lock.read_text().strip()
    except OSError:
        return None
    job_dir = runs_dir / JOBS_DIR / job_id
    if job_status(job_dir).get("status") in ACTIVE_STATUSES:
        return job_dir
    lock.unlink(missing_ok=True)
    return None


def current_job(runs_dir: str | os.PathLike | None = None) -> Path | None:
    """The job dir of the running job in ``runs_dir``, or None."""
    return _lock_holder(_runs_dir(runs_dir))


def list_jobs(runs_dir: str | os.PathLike | None = None) -> list[dict]:
    """Every job's status, newest first."""
    folder = _runs_dir(runs_dir) / JOBS_DIR
    if not folder.is_dir():
        return []
    return [job_status(d) for d in sorted(folder.iterdir(), reverse=True) if d.is_dir()]


def _acquire_lock(runs_dir: Path, job_id: str) -> None:
    runs_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(runs_dir / LOCK_NAME, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _lock_holder(runs_dir)  # removes a dead holder's lock
            if holder is not None:
                raise JobRunningError(holder) from None
            continue
        with os.fdopen(fd, "w") as f:
            f.write(job_id)
        return
    raise JobRunningError(runs_dir / JOBS_DIR / "unknown")


def _release_lock(runs_dir: Path, job_id: str) -> None:
    lock = runs_dir / LOCK_NAME
    try:
        if lock.read_text().strip() == job_id:
            lock.unlink()
    except OSError:
        pass


def start_job(
    config: TrainConfig,
    runs_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
) -> Job:
    """Validate ``config``, take the folder's lock and start training in a new process.

    Raises ``ValueError`` for an invalid config and ``JobRunningError`` when a job is running.
    """
    config.validate()
    runs_dir = _runs_dir(runs_dir)
    job_id = _free_name(runs_dir, f"{dt.datetime.now():%Y%m%d-%H%M%S}-{config.architecture}")
    _acquire_lock(runs_dir, job_id)
    job_dir = runs_dir / JOBS_DIR / job_id
    try:
        job_dir.mkdir(parents=True, exist_ok=False)
        write_json_atomic(job_dir / "config.json", config.to_dict())
        write_json_atomic(
            job_dir / "state.json",
            {"job_id": job_id, "status": "starting", "started": _now(), "data_dir": _str(data_dir)},
        )
        with open(job_dir / "log.txt", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "recognizer.jobs", str(job_dir)],
                cwd=paths.PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives a Streamlit rerun or restart
                env={**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "3"},
            )
        _update_state(job_dir, pid=process.pid)
    except BaseException:
        _release_lock(runs_dir, job_id)
        raise
    return Job(job_id, job_dir, runs_dir)


def stop_job(job_dir: str | os.PathLike) -> None:
    """Ask a job to stop after its current batch; it saves its best weights as a stopped run."""
    (Path(job_dir) / "stop").touch()


def kill_job(job_dir: str | os.PathLike) -> None:
    """End a job's process at once (for a job that no longer answers a stop)."""
    pid = _read(Path(job_dir) / "state.json", {}).get("pid")
    if _pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)


def _free_name(runs_dir: Path, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... if a job or run of that name exists (same second)."""
    name, n = base, 1
    while (runs_dir / JOBS_DIR / name).exists() or (runs_dir / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


def _str(path) -> str | None:
    return None if path is None else str(path)


def _update_state(job_dir: Path, **changes) -> None:
    state = _read(job_dir / "state.json", {}) or {}
    state.update(changes)
    write_json_atomic(job_dir / "state.json", state)


class FileProgress(TrainingHooks):
    """Writes a job's progress to ``progress.json`` (per epoch always, per batch at most twice a second)."""

    def __init__(self, job_dir: Path):
        self.job_dir = job_dir
        self.progress: dict = {"phase": "starting", "epoch": 0, "step": 0, "history": []}
        self.last_write = 0.0
        self.epoch_started = time.monotonic()
        self.started = time.monotonic()

    def _write(self) -> None:
        self.progress["updated"] = _now()
        self.progress["elapsed_seconds"] = round(time.monotonic() - self.started, 1)
        write_json_atomic(self.job_dir / "progress.json", self.progress)
        self.last_write = time.monotonic()

    def on_phase(self, phase: str) -> None:
        self.progress["phase"] = phase
        if phase == "training":
            self.started = time.monotonic()
            _update_state(self.job_dir, status="running")
        self._write()

    def on_download(self, done, total, name) -> None:
        self.progress.update(phase="downloading data", download={"file": name, "done": done, "total": total})
        if time.monotonic() - self.last_write >= PROGRESS_INTERVAL:
            self._write()

    def on_train_begin(self, info) -> None:
        self.progress.update(
            epochs=info["epochs"],
            steps_per_epoch=info["steps_per_epoch"],
            device=info["device"],
            train_samples=info["train_samples"],
            sources=info.get("sources", {}),
        )
        self._write()

    def on_epoch_begin(self, epoch, learning_rate) -> None:
        self.progress.update(epoch=epoch, step=0, learning_rate=learning_rate)
        self._write()

    def on_batch_end(self, epoch, step, logs) -> None:
        if step == 0:
            self.epoch_started = time.monotonic()
        self.progress.update(
            epoch=epoch, step=step + 1, batch_loss=logs.get("loss"), batch_accuracy=logs.get("accuracy")
        )
        steps = self.progress.get("steps_per_epoch") or 1
        done = epoch * steps + step + 1
        total = (self.progress.get("epochs") or 1) * steps
        elapsed = time.monotonic() - self.started
        self.progress["eta_seconds"] = round(elapsed / done * (total - done), 1)
        if time.monotonic() - self.last_write >= PROGRESS_INTERVAL:
            self._write()

    def on_epoch_end(self, epoch, logs) -> None:
        self.progress["history"].append({"epoch": epoch + 1, **logs})
        self.progress["learning_rate"] = logs.get("learning_rate")
        self._write()

    def should_stop(self) -> bool:
        return (self.job_dir / "stop").exists()


def run_job(job_dir: Path) -> int:
    """The job process's body: train, record the outcome, release the lock."""
    state = _read(job_dir / "state.json", {}) or {}
    runs_dir = job_dir.parent.parent
    hooks = FileProgress(job_dir)
    try:
        config = TrainConfig.from_dict(read_json(job_dir / "config.json"))
        run_dir = train(
            config,
            runs_dir=runs_dir,
            hooks=hooks,
            data_dir=state.get("data_dir"),
            run_name=job_dir.name,
            made_by=f"Train page job {job_dir.name}",
        )
        status = "stopped" if hooks.should_stop() else "finished"
        _update_state(job_dir, status=status, run_dir=str(run_dir), ended=_now())
        return 0
    except BaseException as exc:  # the page shows any failure, whatever it was
        traceback.print_exc()
        _update_state(job_dir, status="failed", error=f"{type(exc).__name__}: {exc}", ended=_now())
        return 1
    finally:
        hooks.progress["phase"] = "done"
        hooks._write()
        _release_lock(runs_dir, job_dir.name)


if __name__ == "__main__":
    sys.exit(run_job(Path(sys.argv[1])))
