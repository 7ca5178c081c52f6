"""Background training jobs: real processes with a tiny config (start, progress, stop, crash, lock).

Tests of the start race use a stand-in job process (``sleep``, inheriting the lock exactly as the
real one does), so many tries cost no training; the others run the real job process.
"""

import contextlib
import datetime as dt
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from recognizer.core.runs import list_runs
from recognizer.ops import job_runner, job_state, jobs
from recognizer.ops.job_state import current_job, job_status, kill_job, list_jobs, process_identity, stop_job
from recognizer.ops.jobs import JobRunningError, prune_jobs, start_job
from recognizer.training.config import TrainConfig
from recognizer.training.run_files import training_device

TINY = dict(architecture="lenet5", batch_size=32, validation_split=0.2, augment=False)
# Seconds a job may take before a test calls it hung. Jobs run idle-class and niced, so on a machine
# busy with other work one can take minutes; this only catches a job that never gets there.
JOB_WAIT = 900


def wait_for(job_dir, done, timeout=JOB_WAIT):
    """Poll the job's status until ``done(status)``; return the last status.

    The timeout only catches a hung job: a job is niced (its session's group too), so on a machine
    busy with other work it may get a tenth of a core and take minutes.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = job_status(job_dir)
        if done(status):
            return status
        time.sleep(0.3)
    raise AssertionError(f"timed out; last status {status} log:\n{(job_dir / 'log.txt').read_text()[-3000:]}")


def ended(status):
    return status["status"] not in ("starting", "running")


def lock_is_free(runs) -> bool:
    """Whether anyone holds the job lock, found by trying to take it."""
    fd = os.open(runs / job_state.LOCK_NAME, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def lock_released(runs, timeout=10) -> bool:
    """Whether the lock is let go within ``timeout`` s: a job writes its final state first, then
    lets go, and a niced job on a busy machine may wait a while for the CPU in between."""
    deadline = time.monotonic() + timeout
    while current_job(runs) is not None or not lock_is_free(runs):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def recorded_pid(job_dir, timeout=JOB_WAIT):
    """The pid the job process records about itself once it runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = json.loads((job_dir / "state.json").read_text()).get("pid")
        if pid:
            return pid
        time.sleep(0.1)
    raise AssertionError("the job never recorded its pid")


def press_start_together(presses: int, start) -> list:
    """Call ``start()`` from ``presses`` threads released at once; each one's Job or JobRunningError."""
    outcomes, barrier = [], threading.Barrier(presses)

    def press():
        barrier.wait()
        try:
            outcomes.append(start())
        except JobRunningError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=press) for _ in range(presses)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.fixture
def job_runs(tmp_path, mnist, monkeypatch):  # mnist: the job reads DIGITS_DATA_DIR, which the fixture checks
    """A runs folder for real training jobs (their tests are slow: conftest.SLOW_FIXTURES)."""
    # No pen-digits file for the jobs: reading the held-out writers is most of a tiny job's time,
    # and these tests check the job's life, not its figures (recognizer.training's tests do).
    monkeypatch.setenv("DIGITS_PEN_DIGITS", str(tmp_path / "no-pen-digits.npz"))
    runs = tmp_path / "runs"
    yield runs
    end_a_job_left_running(runs)


def end_a_job_left_running(runs):
    """Kill the job a failed assertion left behind: a 50-epoch job would train on for minutes."""
    job_dir = current_job(runs)
    if job_dir is None:
        return
    with contextlib.suppress(AssertionError):  # kill_job signals only the process the job recorded
        recorded_pid(job_dir, timeout=JOB_WAIT)
    kill_job(job_dir)


@pytest.fixture
def stand_in_jobs(monkeypatch):
    """Jobs whose process is ``sleep 60`` holding the inherited lock: the start race without training."""
    started = []

    def spawn(job_dir, lock_fd):
        started.append(subprocess.Popen(["sleep", "60"], pass_fds=(lock_fd,)))

    monkeypatch.setattr(jobs, "_spawn", spawn)
    yield started
    for process in started:
        process.kill()
        process.wait()


def test_job_trains_reports_progress_and_writes_a_run(job_runs):
    job = start_job(TrainConfig(epochs=2, train_subset=1500, **TINY), runs_dir=job_runs)
    assert current_job(job_runs) == job.job_dir
    with pytest.raises(JobRunningError) as refused:
        start_job(TrainConfig(epochs=1, train_subset=300, **TINY), runs_dir=job_runs)
    assert refused.value.job_dir == job.job_dir

    status = wait_for(job.job_dir, ended)
    assert status["status"] == "finished", status
    progress = status["progress"]
    assert progress["epochs"] == 2 and progress["steps_per_epoch"] == 38  # ceil(1200 / 32)
    assert [h["epoch"] for h in progress["history"]] == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(progress["history"][0])
    assert progress["device"] == training_device()  # "CPU" or the GPUs: whatever this machine trains on
    run_dir = job_runs / job.job_id
    assert status["run_dir"] == str(run_dir)
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "finished"
    assert lock_released(job_runs)
    row = next(r for r in list_runs(job_runs) if r["name"] == job.job_id)
    assert row["epochs"] == 2 and not row["active"]


def test_the_job_runs_niced_on_limited_threads_and_stops_keeping_a_stopped_run(job_runs):
    job = start_job(TrainConfig(epochs=50, train_subset=2000, **TINY), runs_dir=job_runs)
    wait_for(job.job_dir, lambda s: len(s["progress"].get("history", [])) >= 1 or ended(s))
    pid = recorded_pid(job.job_dir)
    # Field 19 of /proc/<pid>/stat is the niceness; ours plus JOB_NICENESS (the kernel caps at 19).
    niceness = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
    assert niceness == min(19, os.nice(0) + job_runner.JOB_NICENESS)
    environ = dict(v.split("=", 1) for v in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in v)
    assert {name: environ.get(name) for name in jobs.THREAD_ENV_VARS} == dict.fromkeys(
        jobs.THREAD_ENV_VARS, str(jobs.JOB_THREADS)
    )
    limits = job_status(job.job_dir)["limits"]
    assert limits["intra_op_threads"] == limits["inter_op_threads"] == jobs.JOB_THREADS
    # The job's own session is a scheduling group where the kernel has autogroups: niced the same.
    autogroup = Path(f"/proc/{pid}/autogroup")
    if autogroup.exists():
        assert autogroup.read_text().split()[-1] == str(niceness) == str(limits["autogroup_niceness"])
    assert max(1, len(os.sched_getaffinity(0)) - 1) == jobs.JOB_THREADS
    # It keeps off the first CPU (the server's) when there is more than one, TensorFlow's threads too.
    mine = sorted(os.sched_getaffinity(0))
    expected = set(mine[1:] if len(mine) > 1 else mine)
    assert set(limits["cpus"]) == expected
    assert {frozenset(os.sched_getaffinity(int(t.name))) for t in Path(f"/proc/{pid}/task").iterdir()} == {
        frozenset(expected)
    }
    # Every thread of the job (TensorFlow's pools included) gives way to the server's at once.
    assert limits["policy"] == "idle"
    threads = list(Path(f"/proc/{pid}/task").iterdir())
    assert len(threads) > 1 and {os.sched_getscheduler(int(t.name)) for t in threads} == {os.SCHED_IDLE}

    stop_job(job.job_dir)
    status = wait_for(job.job_dir, ended)
    assert status["status"] == "stopped", status
    metrics = json.loads((job_runs / job.job_id / "metrics.json").read_text())
    assert metrics["status"] == "stopped" and metrics["epochs_run"] < 50
    row = next(r for r in list_runs(job_runs) if r["name"] == job.job_id)
    assert row["status"] == "stopped" and not row["active"]


def test_two_real_starts_at_once_make_one_job_that_reports_its_failure(job_runs, tmp_path):
    config = TrainConfig(epochs=1, train_subset=300, **TINY)
    outcomes = press_start_together(2, lambda: start_job(config, runs_dir=job_runs, data_dir=tmp_path / "nowhere"))
    [job] = [o for o in outcomes if isinstance(o, jobs.Job)]
    assert [type(o) for o in outcomes].count(JobRunningError) == 1
    assert [p.name for p in (job_runs / job_state.JOBS_DIR).iterdir()] == [job.job_id]

    status = wait_for(job.job_dir, ended)
    assert status["status"] == "failed"
    assert "DataError" in status["error"] and "nowhere" in status["error"]
    assert "Traceback" in (job.job_dir / "log.txt").read_text()
    assert [p.name for p in job_runs.iterdir() if not p.name.startswith(".")] == []  # no half-written run
    assert lock_released(job_runs)


def test_many_starts_at_once_from_threads_make_exactly_one_job_each_time(tmp_path, stand_in_jobs):
    runs = tmp_path / "runs"
    config = TrainConfig(epochs=1, train_subset=300, **TINY)
    for round_ in range(10):
        outcomes = press_start_together(4, lambda: start_job(config, runs_dir=runs))
        started = [o for o in outcomes if isinstance(o, jobs.Job)]
        assert len(started) == 1, f"round {round_}: {outcomes}"
        assert current_job(runs) == started[0].job_dir  # the stand-in process holds the lock
        stand_in_jobs[-1].kill()  # the job dies: the kernel frees the lock
        stand_in_jobs[-1].wait()
        assert current_job(runs) is None
    assert len(list_jobs(runs)) == 10 == len(stand_in_jobs)


PRESS_START = """
import os, subprocess, sys, time
from recognizer.ops import job_runner, job_state, jobs
from recognizer.training.config import TrainConfig
from recognizer.training.run_files import training_device

TrainConfig.validate = lambda self: self  # validating imports TensorFlow: seconds that race nothing
config = TrainConfig(architecture="lenet5", epochs=1, train_subset=300)
stand_ins = []
jobs._spawn = lambda job_dir, lock_fd: stand_ins.append(
    subprocess.Popen(["sleep", "60"], pass_fds=(lock_fd,), stdout=subprocess.DEVNULL)
)
open(sys.argv[2] + f".{os.getpid()}", "w").close()  # ready
while not os.path.exists(sys.argv[3]):  # all press at the same instant
    time.sleep(0.0005)
try:
    jobs.start_job(config, runs_dir=sys.argv[1])
    print("started", stand_ins[0].pid)
except jobs.JobRunningError:
    print("refused")
"""


@pytest.mark.slow  # fifteen Python processes, each importing the library
def test_many_starts_at_once_from_processes_make_exactly_one_job_each_time(tmp_path):
    runs = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    for round_ in range(5):
        ready, go = tmp_path / f"ready{round_}", tmp_path / f"go{round_}"
        command = [sys.executable, "-c", PRESS_START, str(runs), str(ready), str(go)]
        presses = [subprocess.Popen(command, stdout=subprocess.PIPE, env=env) for _ in range(3)]
        deadline = time.monotonic() + JOB_WAIT  # hang catcher: fifteen imports on a busy machine
        while len(list(tmp_path.glob(f"ready{round_}.*"))) < 3:
            assert time.monotonic() < deadline and all(p.poll() is None for p in presses), "a presser died"
            time.sleep(0.05)
        go.touch()
        answers = [p.communicate(timeout=60)[0].decode().split() for p in presses]
        started = [int(a[1]) for a in answers if a[0] == "started"]
        assert len(started) == 1 and [a[0] for a in answers].count("refused") == 2, f"round {round_}: {answers}"
        assert current_job(runs) is not None  # the stand-in outlived its starter and holds the lock
        os.kill(started[0], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while current_job(runs) is not None:
            assert time.monotonic() < deadline, "the lock outlived its holder"
            time.sleep(0.05)
    assert len(list_jobs(runs)) == 5


def test_a_job_killed_mid_epoch_is_reported_failed_and_a_new_job_can_start(job_runs, monkeypatch):
    job = start_job(TrainConfig(epochs=50, train_subset=2000, **TINY), runs_dir=job_runs)
    wait_for(job.job_dir, lambda s: s["progress"].get("step", 0) > 0 or ended(s))
    pid = recorded_pid(job.job_dir)
    os.kill(pid, signal.SIGKILL)  # what the kernel's out-of-memory killer does
    status = wait_for(job.job_dir, ended, timeout=30)
    assert status["status"] == "failed"
    assert "ended without reporting" in status["error"]
    assert f"job {job.job_id}: pid {pid}," in status["log_tail"]  # what the page shows under the error
    assert current_job(job_runs) is None and lock_is_free(job_runs)  # the kernel released the dead job's lock
    assert [j["job_id"] for j in list_jobs(job_runs)] == [job.job_id]
    assert job.job_id not in [r["name"] for r in list_runs(job_runs)]
    assert not kill_job(job.job_dir)  # nothing left to signal

    started = []
    monkeypatch.setattr(jobs, "_spawn", lambda job_dir, fd: started.append(subprocess.Popen(["sleep", "60"])))
    again = start_job(TrainConfig(epochs=1, train_subset=300, **TINY), runs_dir=job_runs)
    assert again.job_id != job.job_id and len(started) == 1
    started[0].kill()
    started[0].wait()


# Loaded by the job process (PYTHONPATH): once the run's last file is in its partial folder, say so
# and wait there to be killed, i.e. after the model and metrics are written but before the rename.
PAUSE_WHILE_SAVING = """
import os, time

_replace = os.replace

def _replace_then_wait(src, dst, *args, **kwargs):
    _replace(src, dst, *args, **kwargs)
    if ".partial" in str(dst) and str(dst).endswith("test_probabilities.npz"):  # the run folder's last file
        open(os.environ["SAVING_MARK"], "w").close()
        time.sleep(120)

os.replace = _replace_then_wait
"""


def test_a_job_killed_while_saving_leaves_no_run_and_its_partial_folder_is_swept(job_runs, tmp_path, monkeypatch):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(PAUSE_WHILE_SAVING)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hooks), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("SAVING_MARK", str(tmp_path / "saving"))
    job = start_job(TrainConfig(epochs=1, train_subset=300, **TINY), runs_dir=job_runs)
    deadline = time.monotonic() + JOB_WAIT  # a hang catcher: an idle-class job may take minutes
    while not (tmp_path / "saving").exists():
        assert time.monotonic() < deadline and not ended(job_status(job.job_dir)), job_state.log_tail(job.job_dir)
        time.sleep(0.2)
    partial = job_runs / f".{job.job_id}.partial"
    assert (partial / "model.keras").is_file() and (partial / "metrics.json").is_file()
    with pytest.raises(JobRunningError):  # a start now must not sweep the partial of the live job
        start_job(TrainConfig(epochs=1, train_subset=300, **TINY), runs_dir=job_runs)
    assert partial.is_dir()

    assert kill_job(job.job_dir)  # the page's "End it now": the job's own, recorded process
    status = wait_for(job.job_dir, ended, timeout=30)
    assert status["status"] == "failed"
    assert partial.is_dir() and not (job_runs / job.job_id).exists()  # half-saved, under its hidden name
    assert job.job_id not in [r["name"] for r in list_runs(job_runs)]

    monkeypatch.setattr(jobs, "_spawn", lambda job_dir, fd: None)  # a job that ends at once
    start_job(TrainConfig(epochs=1, train_subset=300, **TINY), runs_dir=job_runs)
    assert not partial.exists()


def test_a_stale_state_whose_pid_now_belongs_to_another_process_leaves_it_alone(tmp_path):
    runs = tmp_path / "runs"
    stranger = subprocess.Popen(["sleep", "60"])
    also_stranger = subprocess.Popen(["sleep", "60"])
    try:
        identity = process_identity(stranger.pid)
        crashed = runs / job_state.JOBS_DIR / "20260101-120000-cnn"
        crashed.mkdir(parents=True)
        # The job that recorded this pid died; the pid was then given to `sleep` (another start time).
        stale = {**identity, "pid_started": identity["pid_started"] - 1000, "job_id": crashed.name, "status": "running"}
        (crashed / "state.json").write_text(json.dumps(stale))
        (runs / job_state.CURRENT_NAME).write_text(json.dumps({"job_id": crashed.name}))
        assert job_status(crashed)["status"] == "failed"
        assert current_job(runs) is None
        stop_job(crashed)
        assert not kill_job(crashed)
        # An older state file without the start time is no identity either.
        (crashed / "state.json").write_text(json.dumps({"status": "running", "pid": also_stranger.pid}))
        assert not kill_job(crashed)
        time.sleep(0.2)
        assert stranger.poll() is None and also_stranger.poll() is None  # both untouched

        # The same check lets the job's own process be killed (here: the state names `sleep` exactly).
        (crashed / "state.json").write_text(json.dumps({**identity, "status": "running"}))
        assert kill_job(crashed)
        assert stranger.wait(timeout=10) == -signal.SIGKILL
    finally:
        for process in (stranger, also_stranger):
            process.kill()
            process.wait()


def test_old_job_folders_are_pruned_to_a_bound(tmp_path, stand_in_jobs):
    runs = tmp_path / "runs"
    names = [f"20250101-1200{i:02d}-cnn" for i in range(jobs.JOBS_KEPT + 5)]
    for name in names:
        (runs / job_state.JOBS_DIR / name).mkdir(parents=True)
        (runs / job_state.JOBS_DIR / name / "state.json").write_text('{"status": "finished"}')
    assert prune_jobs(runs, keep=jobs.JOBS_KEPT) == sorted(names, reverse=True)[jobs.JOBS_KEPT :]
    assert [j["job_id"] for j in list_jobs(runs)] == sorted(names, reverse=True)[: jobs.JOBS_KEPT]

    job = start_job(TrainConfig(epochs=1, train_subset=300, **TINY), runs_dir=runs)  # prunes to make room
    kept = [j["job_id"] for j in list_jobs(runs)]
    assert len(kept) == jobs.JOBS_KEPT and kept[0] == job.job_id
    assert kept[1:] == sorted(names, reverse=True)[: jobs.JOBS_KEPT - 1]
    assert sorted(p.name for p in (runs / job_state.JOBS_DIR).iterdir()) == sorted(kept)  # nothing half-deleted


def test_invalid_config_is_refused_before_any_process(tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(ValueError, match="epochs"):
        start_job(TrainConfig(epochs=0), runs_dir=runs)
    assert not runs.exists()


def test_seconds_without_progress_counts_only_while_training():
    now = dt.datetime(2026, 1, 1, 12, 0, 0)
    training = {"phase": "training", "updated": "2026-01-01T11:58:30"}
    assert job_state.seconds_without_progress(training, now) == 90.0
    assert job_state.seconds_without_progress({**training, "phase": "loading data"}, now) is None  # no per-batch writes
    assert job_state.seconds_without_progress({"phase": "training"}, now) is None
    assert job_state.seconds_without_progress({**training, "updated": "yesterday"}, now) is None
    assert job_state.seconds_without_progress({**training, "updated": "2026-01-01T12:00:05"}, now) == 0.0  # clock skew
