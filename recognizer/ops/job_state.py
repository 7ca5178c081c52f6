"""Background training jobs as the pages see them: state on disk, the lock, the job's process.

A job trains in its own process (``recognizer.ops.jobs`` starts it, ``recognizer.ops.job_runner``
is its body), so the Streamlit server stays responsive for every visitor. Everything about a job
lives in files, so any page load, in any browser, can reattach to it:

    <runs dir>/.jobs/<job id>/
        config.json    the TrainConfig
        state.json     status (starting, running, finished, stopped, failed), the job process's
                       identity (pid, its start time and the boot it started in), run folder, error
        progress.json  epoch, step, steps per epoch, ETA, per-epoch history (written by the job)
        log.txt        the job's stdout and stderr
        stop           present = a stop was requested
    <runs dir>/.job.lock          flock()ed by the running job for its whole life
    <runs dir>/.job.current.json  the id of the job that took the lock last

A job is alive while the lock is held and ``.job.current.json`` names it; this module only looks
(a shared lock tried for an instant), it never deletes or rewrites anything but a stop request.
A job whose process died without saying so (killed, out of memory) is reported as ``failed`` with
the tail of its log. ``kill_job`` signals a process only when its pid, start time and boot match
what the job recorded about itself, so a pid reused by another process is never touched.

Nothing here imports training: the Draw page pauses jobs (``recognizer.ops.job_pause``) through
this module. Linux and other POSIX systems (``fcntl``); the process identity is read from ``/proc``.

    >>> job_status(current_job())["status"]  # doctest: +SKIP
    'running'
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import signal
from pathlib import Path

from recognizer.core import paths
from recognizer.core.storage import read_json_or

LOCK_NAME = ".job.lock"
CURRENT_NAME = ".job.current.json"
JOBS_DIR = ".jobs"
ACTIVE_STATUSES = ("starting", "running")
LOCK_FD_ENV = "DIGITS_JOB_LOCK_FD"  # tells the job process which inherited descriptor is the lock


def runs_dir_or_default(runs_dir: str | os.PathLike | None) -> Path:
    """``runs_dir``, or the user's runs folder when it is None."""
    return Path(runs_dir) if runs_dir is not None else paths.runs_dir()


# ---------------------------------------------------------------------------------------------
# The lock and the job process's identity
# ---------------------------------------------------------------------------------------------


def try_flock(fd: int, kind: int) -> bool:
    """Take ``kind`` (LOCK_EX or LOCK_SH) on ``fd`` without waiting; False if someone else holds it."""
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _lock_held(runs_dir: Path) -> bool:
    """Whether a job holds the folder's lock. Only looks: nothing is created, written or deleted."""
    try:
        fd = os.open(runs_dir / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return False  # no job ever started here
    try:
        if try_flock(fd, fcntl.LOCK_SH):
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        return True
    finally:
        os.close(fd)


def _current_id(runs_dir: Path) -> str | None:
    job_id = read_json_or(runs_dir / CURRENT_NAME, {}).get("job_id")
    return job_id if isinstance(job_id, str) and job_id else None


def _job_alive(job_dir: Path) -> bool:
    runs_dir = job_dir.parent.parent
    # The lock first, then the name: a job named after the lock was seen held did hold it.
    return _lock_held(runs_dir) and _current_id(runs_dir) == job_dir.name


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def process_identity(pid: int) -> dict | None:
    """``{"pid", "pid_started", "boot_id"}`` of a live process; None when there is none (or a zombie).

    ``pid_started`` is field 22 of ``/proc/<pid>/stat`` (clock ticks after boot): a pid can be
    reused, a pid with the same start time in the same boot cannot.
    """
    try:
        text = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = text.rsplit(")", 1)[-1].split()  # the name in brackets may hold spaces
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return {"pid": int(pid), "pid_started": int(fields[19]), "boot_id": _boot_id()}


def _same_process(state: dict) -> int | None:
    """The pid recorded in ``state`` if that very process still runs (same start and boot)."""
    pid = state.get("pid")
    if type(pid) is not int or pid <= 0 or pid == os.getpid():
        return None  # never 0 or -1 (a whole group), never ourselves
    now = process_identity(pid)
    if now is None or state.get("pid_started") is None:
        return None
    same = now["pid_started"] == state.get("pid_started") and now["boot_id"] == state.get("boot_id")
    return pid if same else None


# ---------------------------------------------------------------------------------------------
# Reading jobs (what the pages call on every refresh)
# ---------------------------------------------------------------------------------------------


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
    state = read_json_or(job_dir / "state.json", {})
    state.setdefault("job_id", job_dir.name)
    state["job_dir"] = str(job_dir)
    state["progress"] = read_json_or(job_dir / "progress.json", {})
    state["stop_requested"] = (job_dir / "stop").exists()
    if state.get("status") in ACTIVE_STATUSES and not _job_alive(job_dir):
        # A job writes its last state before it lets go of the lock: read it again.
        fresh = read_json_or(job_dir / "state.json", {})
        if fresh.get("status") in ACTIVE_STATUSES:
            state["status"] = "failed"
            state["error"] = "the training process ended without reporting (killed, or out of memory?)"
            state["log_tail"] = log_tail(job_dir)
        else:
            state.update(fresh)
    return state


def seconds_without_progress(progress: dict, now: dt.datetime | None = None) -> float | None:
    """Seconds since a training job last wrote its progress; None outside the training phase.

    While it trains a job writes at least once a batch (capped at twice a second), so a long
    silence means it gets no processor: its threads run at idle priority and give way to any
    other busy program on the machine.
    """
    if progress.get("phase") != "training" or not progress.get("updated"):
        return None
    try:
        updated = dt.datetime.fromisoformat(progress["updated"])
    except (TypeError, ValueError):
        return None
    return max(0.0, ((now or dt.datetime.now()) - updated).total_seconds())


def current_job(runs_dir: str | os.PathLike | None = None) -> Path | None:
    """The job dir of the running job in ``runs_dir``, or None. Reads; never deletes."""
    runs_dir = runs_dir_or_default(runs_dir)
    if not _lock_held(runs_dir):
        return None
    job_id = _current_id(runs_dir)
    return runs_dir / JOBS_DIR / job_id if job_id else None


def list_jobs(runs_dir: str | os.PathLike | None = None) -> list[dict]:
    """Every job's status, newest first."""
    folder = runs_dir_or_default(runs_dir) / JOBS_DIR
    if not folder.is_dir():
        return []
    found = sorted((d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")), reverse=True)
    return [job_status(d) for d in found]


# ---------------------------------------------------------------------------------------------
# Starting and stopping
# ---------------------------------------------------------------------------------------------


def stop_job(job_dir: str | os.PathLike) -> None:
    """Ask a job to stop after its current batch; it saves its best weights as a stopped run."""
    (Path(job_dir) / "stop").touch()
    signal_job(job_dir, signal.SIGCONT)  # a job paused for visitors (``recognizer.ops.job_pause``) must see it


def kill_job(job_dir: str | os.PathLike) -> bool:
    """End a job's process at once (for a job that no longer answers a stop); True if signalled.

    Only the process the job recorded as itself is signalled: same pid, start time and boot. A
    stale state whose pid now belongs to another process leaves that process alone.
    """
    return signal_job(job_dir, signal.SIGKILL)


def job_pidfd(job_dir: str | os.PathLike) -> int | None:
    """A pidfd of the job's own process (same pid, start time and boot), or None: no such process,
    or no pidfds here. It pins that very process: a signal through it never reaches a reused pid.
    The caller closes it."""
    state = read_json_or(Path(job_dir) / "state.json", {})
    if _same_process(state) is None:
        return None
    try:
        handle = os.pidfd_open(state["pid"])
    except (AttributeError, OSError):
        return None
    if _same_process(state) is None:  # the pid was reused between the check and the open
        os.close(handle)
        return None
    return handle


def signal_job(job_dir: str | os.PathLike, signum: int) -> bool:
    """Send ``signum`` to the job's own process (see ``kill_job``); True if signalled."""
    handle = job_pidfd(job_dir)
    try:
        if handle is not None:
            signal.pidfd_send_signal(handle, signum)
            return True
        state = read_json_or(Path(job_dir) / "state.json", {})
        pid = _same_process(state)  # no pidfds here: the identity is checked just before
        if pid is None:
            return False
        os.kill(pid, signum)
        return True
    except ProcessLookupError:
        return False
    finally:
        if handle is not None:
            os.close(handle)


def now_text() -> str:
    """The time now as the job files record it (ISO 8601, to the second)."""
    return dt.datetime.now().isoformat(timespec="seconds")
