"""Background training jobs: one at a time per runs folder, state on disk, stoppable.

The Train page (and anything else) starts a job; the job trains in its own process, so the
Streamlit server stays responsive for every visitor. Everything about a job lives in files, so
any page load, in any browser, can reattach to it:

    <runs dir>/.jobs/<job id>/
        config.json    the TrainConfig
        state.json     status (starting, running, finished, stopped, failed), the job process's
                       identity (pid, its start time and the boot it started in), run folder, error
        progress.json  epoch, step, steps per epoch, ETA, per-epoch history (written by the job)
        log.txt        the job's stdout and stderr
        stop           present = a stop was requested
    <runs dir>/.job.lock          flock()ed by the running job for its whole life
    <runs dir>/.job.current.json  the id of the job that took the lock last

One job at a time is an OS lock, not a file anyone deletes: ``start_job`` takes an exclusive
``flock`` on ``.job.lock``, and the job process inherits that very lock (the same open file), so it
is held without a gap from the check to the job's last breath; the kernel drops it when the job
dies, however it dies. A job is alive while the lock is held and ``.job.current.json`` names it;
pages only look (a shared lock tried for an instant), they never delete or rewrite anything.
``kill_job`` signals a process only when its pid, start time and boot match what the job recorded
about itself, so a pid reused by another process is never touched.

    >>> from recognizer.jobs import start_job, job_status
    >>> job = start_job(TrainConfig(architecture="lenet5", epochs=1, train_subset=500))  # doctest: +SKIP
    >>> job_status(job.job_dir)["status"]  # doctest: +SKIP
    'running'

A job whose process died without saying so (killed, out of memory) is reported as ``failed``
with the tail of its log. What a killed job leaves behind (a half-saved ``.<job>.partial`` run) is
swept by the next start, as are job folders beyond the newest ``JOBS_KEPT``. The job runs under
``nice`` with its thread pools limited to ``JOB_THREADS``, so the server keeps a core for visitors;
its session's scheduling group (Linux autogroup) gets the same niceness, or the nice would count
only inside that group, and its threads run under ``SCHED_IDLE`` (they give way to the server's).
While the server computes an answer the job is stopped outright (``recognizer.job_pause``).

Linux and other POSIX systems (``fcntl``); the process identity is read from ``/proc``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from recognizer import paths
from recognizer.runs import DELETING_PREFIX, sweep_leftovers
from recognizer.storage import read_json, read_json_or, write_json_atomic
from recognizer.train import TrainConfig, TrainingHooks, new_run_name, train

LOCK_NAME = ".job.lock"
CURRENT_NAME = ".job.current.json"
JOBS_DIR = ".jobs"
JOBS_KEPT = 20  # job folders (logs and curves) kept; older ones go when a job starts
ACTIVE_STATUSES = ("starting", "running")
PROGRESS_INTERVAL = 0.5  # seconds between per-batch progress writes
LOCK_FD_ENV = "DIGITS_JOB_LOCK_FD"  # tells the job process which inherited descriptor is the lock
# A page's look at the lock holds a shared lock for microseconds; a start retries past that.
START_TRIES, START_RETRY_SECONDS = 25, 0.02
JOB_NICENESS = 10  # added to the server's: visitors' answers come first
AUTOGROUP = Path("/proc/self/autogroup")  # the scheduling group of this process's session
# An unprivileged write to an autogroup's niceness is refused (EAGAIN) within 0.1 s of any other.
AUTOGROUP_TRIES, AUTOGROUP_RETRY_SECONDS = 20, 0.11


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# The job leaves the server a core: on a 2-core machine it trains on one thread.
JOB_THREADS = max(1, _usable_cpus() - 1)
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


@dataclass(frozen=True)
class Job:
    job_id: str
    job_dir: Path


def _runs_dir(runs_dir: str | os.PathLike | None) -> Path:
    return Path(runs_dir) if runs_dir is not None else paths.runs_dir()


# ---------------------------------------------------------------------------------------------
# The lock and the job process's identity
# ---------------------------------------------------------------------------------------------


def _try_flock(fd: int, kind: int) -> bool:
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
        if _try_flock(fd, fcntl.LOCK_SH):
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
    runs_dir = _runs_dir(runs_dir)
    if not _lock_held(runs_dir):
        return None
    job_id = _current_id(runs_dir)
    return runs_dir / JOBS_DIR / job_id if job_id else None


def list_jobs(runs_dir: str | os.PathLike | None = None) -> list[dict]:
    """Every job's status, newest first."""
    folder = _runs_dir(runs_dir) / JOBS_DIR
    if not folder.is_dir():
        return []
    found = sorted((d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")), reverse=True)
    return [job_status(d) for d in found]


# ---------------------------------------------------------------------------------------------
# Starting and stopping
# ---------------------------------------------------------------------------------------------


def _take_lock(runs_dir: Path) -> int:
    """The folder's lock, held exclusively through the returned descriptor; or JobRunningError."""
    fd = os.open(runs_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    for _ in range(START_TRIES):
        if _try_flock(fd, fcntl.LOCK_EX):
            return fd
        time.sleep(START_RETRY_SECONDS)
    os.close(fd)
    raise JobRunningError(current_job(runs_dir) or runs_dir / JOBS_DIR / "unknown")


def prune_jobs(runs_dir: str | os.PathLike | None = None, keep: int = JOBS_KEPT) -> list[str]:
    """Delete all but the newest ``keep`` job folders; return the names deleted.

    Call it only while holding the lock (``start_job`` does), so no job being deleted runs.
    """
    folder = _runs_dir(runs_dir) / JOBS_DIR
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
            [sys.executable, "-m", "recognizer.jobs", str(job_dir)],
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
    runs_dir = _runs_dir(runs_dir)
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
            state = {"job_id": job_id, "status": "starting", "started": _now(), "data_dir": _str(data_dir)}
            write_json_atomic(job_dir / "state.json", state)
            _spawn(job_dir, lock_fd)
        except BaseException:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
    finally:
        os.close(lock_fd)  # the job holds the lock through its own copy now (or no one does)
    return Job(job_id, job_dir)


def stop_job(job_dir: str | os.PathLike) -> None:
    """Ask a job to stop after its current batch; it saves its best weights as a stopped run."""
    (Path(job_dir) / "stop").touch()
    signal_job(job_dir, signal.SIGCONT)  # a job paused for visitors (``job_pause``) must see it


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
    # Only the job process writes its state once it runs, so this read-modify-write has no rival.
    state = read_json_or(job_dir / "state.json", {})
    state.update(changes)
    write_json_atomic(job_dir / "state.json", state)


class FileProgress(TrainingHooks):
    """Writes a job's progress to ``progress.json`` (per epoch always, per batch at most twice a second)."""

    def __init__(self, job_dir: Path):
        self.job_dir = job_dir
        self.progress: dict = {"phase": "starting", "epoch": 0, "step": 0, "history": []}
        self.last_write = 0.0
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
    """The job process's body: train and record the outcome (``main`` holds the lock around it)."""
    state = read_json_or(job_dir / "state.json", {})
    runs_dir = job_dir.parent.parent
    hooks = FileProgress(job_dir)
    try:
        # Who this job is, so kill_job can tell it from a stranger that later gets the same pid.
        identity = process_identity(os.getpid()) or {"pid": os.getpid()}
        limits = _limit_threads()
        _update_state(job_dir, **identity, limits=limits)
        pid, niceness, cpus = os.getpid(), limits["niceness"], limits["cpus"]
        print(f"job {job_dir.name}: pid {pid}, niceness {niceness}, {JOB_THREADS} thread(s) on CPUs {cpus}")
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


def _limit_threads() -> dict:
    """Leave the server its share of the machine: lower priority (the threads' and the session
    group's, ``_nice_autogroup``), ``JOB_THREADS`` threads.

    The thread variables are already in the environment (``start_job`` sets them, so OpenMP and
    the BLAS libraries read them at load); TensorFlow is told again before it starts its pools.
    """
    niceness = os.nice(JOB_NICENESS)  # before TensorFlow starts threads: new threads inherit it
    autogroup_niceness = _nice_autogroup(niceness)
    policy = _idle_policy()  # inherited by new threads too
    cpus = _leave_the_first_cpu()  # and so is the CPU affinity
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(JOB_THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(JOB_THREADS)
    return {
        "niceness": niceness,
        "autogroup_niceness": autogroup_niceness,
        "policy": policy,
        "cpus": cpus,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def _idle_policy() -> str:
    """Put this thread under ``SCHED_IDLE`` where the OS has it: "idle", else "normal".

    Niceness shares the CPU out by weight, yet a visitor's request that wakes up can still wait
    for the job's time slice to end; an idle-policy thread gives way to any ordinary one as soon
    as it wakes (the tail of the server's answer times is what a job spoils). Unprivileged on Linux.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        return "normal"
    return "idle"


def _leave_the_first_cpu() -> list[int] | None:
    """Keep the job off the first usable CPU when there are two or more; the CPUs it may use after.

    Idle-class threads give the server the CPU the moment it wakes, but a job that moves between
    cores refills each core's own cache with its tensors, and the server's next answer starts
    from a cold cache wherever it runs. Kept to the other cores (``JOB_THREADS`` of them), the job
    leaves the server one core that is its own. None where affinity cannot be set.
    """
    try:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) > 1:
            os.sched_setaffinity(0, cpus[1:])
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _nice_autogroup(niceness: int) -> int | None:
    """Give this process's autogroup ``niceness``; the group's niceness after, None where there is none.

    With ``kernel.sched_autogroup_enabled`` (on here, and by default in many distributions' kernels)
    every session is a scheduling group, and the scheduler shares the CPU between groups by the
    group's niceness, not its threads'. The job starts a session of its own (``start_new_session``), so
    without this its nice 10 weighs only against its own threads: measured here, a niced busy loop
    in a new session still took half of a core it shared with a nice-0 one (0.49 / 0.49); with the
    group niced, 0.07 / 0.63. The job is alone in its session, so this lowers the job only.
    """
    for _ in range(AUTOGROUP_TRIES):
        try:
            AUTOGROUP.write_text(str(niceness))
            break
        except BlockingIOError:  # another autogroup was reniced within 0.1 s
            time.sleep(AUTOGROUP_RETRY_SECONDS)
        except OSError:
            break  # no autogroups in this kernel, or not allowed: the thread niceness still holds
    try:
        return int(AUTOGROUP.read_text().split()[-1])  # "/autogroup-552 nice 10"
    except (OSError, ValueError, IndexError):
        return None


def _inherited_lock() -> int | None:
    """The lock descriptor ``start_job`` passed down, confirmed held; None if there is none."""
    try:
        fd = int(os.environ.pop(LOCK_FD_ENV))
    except (KeyError, ValueError):
        return None
    # The same open file as the starter's lock: taking it again succeeds only if it is that one.
    if not _try_flock(fd, fcntl.LOCK_EX):
        return None
    os.set_inheritable(fd, False)  # nothing this job might start keeps the lock after it
    return fd


def main(argv: list[str]) -> int:
    """``python -m recognizer.jobs JOB_DIR``, as ``start_job`` runs it: hold the lock, train, let go."""
    if len(argv) != 2:
        print("usage: python -m recognizer.jobs JOB_DIR (started by recognizer.jobs.start_job)", file=sys.stderr)
        return 2
    lock_fd = _inherited_lock()
    if lock_fd is None:
        print("this job does not hold the training lock; start jobs with recognizer.jobs.start_job", file=sys.stderr)
        return 2
    try:
        return run_job(Path(argv[1]))
    finally:
        fcntl.flock(lock_fd, fcntl.LOCK_UN)  # the final state is written: the next job may start
        os.close(lock_fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
