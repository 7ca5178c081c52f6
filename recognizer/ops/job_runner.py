"""The job process's body: hold the inherited lock, give way to the server, train, record the outcome.

``start_job`` (``recognizer.ops.jobs``) runs ``python -m recognizer.ops.job_runner JOB_DIR`` with the
lock's descriptor inherited. The job then lowers itself before TensorFlow starts its threads: it
runs under ``nice`` (its session's scheduling group too, or the nice would count only inside that
group), its threads under ``SCHED_IDLE`` (they give way to the server's), off the first CPU and on
``JOB_THREADS`` threads. Progress goes to ``progress.json`` through ``FileProgress``.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
import traceback
from pathlib import Path

from recognizer.core.storage import read_json, read_json_or, write_json_atomic
from recognizer.ops.job_state import LOCK_FD_ENV, now_text, process_identity, try_flock
from recognizer.ops.jobs import JOB_THREADS
from recognizer.training.batch_curves import append_point
from recognizer.training.config import TrainConfig
from recognizer.training.hooks import TrainingHooks
from recognizer.training.loop import train

PROGRESS_INTERVAL = 0.5  # seconds between per-batch progress writes
JOB_NICENESS = 10  # added to the server's: visitors' answers come first
AUTOGROUP = Path("/proc/self/autogroup")  # the scheduling group of this process's session
# An unprivileged write to an autogroup's niceness is refused (EAGAIN) within 0.1 s of any other.
AUTOGROUP_TRIES, AUTOGROUP_RETRY_SECONDS = 20, 0.11


class FileProgress(TrainingHooks):
    """Writes a job's progress to ``progress.json`` (per epoch always, per batch at most twice a second),
    with the training curve so far (``curve``: ``training.batch_curves``' columns)."""

    def __init__(self, job_dir: Path):
        self.job_dir = job_dir
        self.progress: dict = {"phase": "starting", "epoch": 0, "step": 0, "history": []}
        self.last_write = 0.0
        self.started = time.monotonic()

    def _write(self) -> None:
        self.progress["updated"] = now_text()
        self.progress["elapsed_seconds"] = round(time.monotonic() - self.started, 1)
        write_json_atomic(self.job_dir / "progress.json", self.progress)
        self.last_write = time.monotonic()

    def on_phase(self, phase: str) -> None:
        self.progress["phase"] = phase
        if phase == "training":
            self.started = time.monotonic()
            update_state(self.job_dir, status="running")
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

    def on_curve_point(self, point) -> None:
        append_point(self.progress.setdefault("curve", {}), point)

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
        update_state(job_dir, **identity, limits=limits)
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
        update_state(job_dir, status=status, run_dir=str(run_dir), ended=now_text())
        return 0
    except BaseException as exc:  # the page shows any failure, whatever it was
        traceback.print_exc()
        update_state(job_dir, status="failed", error=f"{type(exc).__name__}: {exc}", ended=now_text())
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
    without this its nice 10 weighs only against its own threads, and it takes an equal share of a
    core with a nice-0 process (measured: docs/serving.md). The job is alone in its session, so this
    lowers the job only.
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
    if not try_flock(fd, fcntl.LOCK_EX):
        return None
    os.set_inheritable(fd, False)  # nothing this job might start keeps the lock after it
    return fd


def main(argv: list[str]) -> int:
    """``python -m recognizer.ops.job_runner JOB_DIR``, as ``start_job`` runs it: hold the lock, train, let go."""
    if len(argv) != 2:
        print(
            "usage: python -m recognizer.ops.job_runner JOB_DIR (started by recognizer.ops.jobs.start_job)",
            file=sys.stderr,
        )
        return 2
    lock_fd = _inherited_lock()
    if lock_fd is None:
        print(
            "this job does not hold the training lock; start jobs with recognizer.ops.jobs.start_job", file=sys.stderr
        )
        return 2
    try:
        return run_job(Path(argv[1]))
    finally:
        fcntl.flock(lock_fd, fcntl.LOCK_UN)  # the final state is written: the next job may start
        os.close(lock_fd)


def update_state(job_dir: Path, **changes) -> None:
    # Only the job process writes its state once it runs, so this read-modify-write has no rival.
    state = read_json_or(job_dir / "state.json", {})
    state.update(changes)
    write_json_atomic(job_dir / "state.json", state)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
