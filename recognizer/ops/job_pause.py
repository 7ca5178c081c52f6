"""Visitors first: a training job is paused while the server answers a visitor, and resumed after.

The job already runs idle-class, niced and off the first CPU (``recognizer.ops.jobs``). The load
test (``digits-load-test``) showed that this left the server computing as fast as alone while its
answers waited longer (figures in docs/serving.md, "Visitors first"). A CPU that has an idle-class
task to run is never idle, so work queued on the other CPU is not pulled to it at once. A stopped
job leaves its CPU idle for real. So while any answer is being computed, the job's process is
stopped (SIGSTOP) and it continues (SIGCONT) when the last one ends. It loses the time the
answers take, at each stroke a visitor draws.

    >>> with visitors_first():  # doctest: +SKIP
    ...     answer = recognizer.predict_drawing(image)

Only the process the job recorded as itself is signalled (pid, start time and boot, through a
pidfd held from the stop to the continue, so a reused pid is never touched). A pause never lasts
longer than ``MAX_PAUSE`` seconds, whatever the answer does; a job left stopped by a server that
died mid-answer is continued by ``resume_job`` (the app calls it at start) and by ``jobs.stop_job``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from recognizer.ops import job_state

MAX_PAUSE = 3.0  # seconds: a rerun that hangs must not hold the job for longer than this

_lock = threading.Lock()
_answering = 0  # answers being computed in this process now
_paused: _Paused | None = None  # the job stopped for them, if any
_pinned: tuple[str, int] | None = None  # (job folder, pidfd of its process): found once per job


class _Paused:
    """A stopped job process; ``resume`` continues it (at most ``MAX_PAUSE`` s later, by a timer)."""

    def __init__(self, handle: int):
        self.handle = handle
        self.timer = threading.Timer(MAX_PAUSE, _resume_if, args=(self,))
        self.timer.daemon = True

    def resume(self) -> None:
        self.timer.cancel()
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile (a stopped job can be killed)
            signal.pidfd_send_signal(self.handle, signal.SIGCONT)


def _job_handle(runs_dir) -> int | None:
    """A pidfd of the running job's own process, kept while that job runs; None without a job.

    Checking who the job is (its state file, /proc) is too slow to repeat for every answer: done
    once per job (docs/serving.md).
    """
    global _pinned
    job_dir = job_state.current_job(runs_dir)
    if _pinned is not None and _pinned[0] == str(job_dir):
        return _pinned[1]
    if _pinned is not None:
        os.close(_pinned[1])
        _pinned = None
    handle = job_state.job_pidfd(job_dir) if job_dir is not None else None
    if handle is not None:
        _pinned = (str(job_dir), handle)
    return handle  # None without pidfds too: the pid could be reused before the continue


def _pause(runs_dir) -> _Paused | None:
    """Stop the running job of ``runs_dir``; None when there is none (or it cannot be pinned)."""
    handle = _job_handle(runs_dir)
    if handle is None:
        return None
    try:
        signal.pidfd_send_signal(handle, signal.SIGSTOP)
    except ProcessLookupError:  # the job ended since it was pinned
        return None
    paused = _Paused(handle)
    paused.timer.start()
    return paused


def _resume_if(paused: _Paused) -> None:
    """Continue ``paused`` if it is still the current pause (the ``MAX_PAUSE`` timer)."""
    global _paused
    with _lock:
        if _paused is paused:
            paused.resume()
            _paused = None


@contextmanager
def visitors_first(runs_dir: str | os.PathLike | None = None) -> Iterator[None]:
    """Keep the running training job of ``runs_dir`` (default: the user's) stopped during the block.

    Blocks may overlap, from any thread: the job continues when the last one ends. Never raises
    for the job's sake: no job, or one that cannot be signalled, leaves the block to run as is.
    """
    global _answering, _paused
    with _lock:
        _answering += 1
        if _answering == 1 and _paused is None:
            try:
                _paused = _pause(runs_dir)
            except (OSError, ValueError):  # an unreadable runs folder: answer without pausing
                _paused = None
    try:
        yield
    finally:
        with _lock:  # under the lock: a new answer's stop cannot slip in before this continue
            _answering -= 1
            if _answering == 0 and _paused is not None:
                _paused.resume()
                _paused = None


def resume_job(runs_dir: str | os.PathLike | None = None) -> bool:
    """Continue the running job if it is stopped (a server that paused it died); True if signalled."""
    job_dir = job_state.current_job(runs_dir)
    if job_dir is None:
        return False
    return job_state.signal_job(job_dir, signal.SIGCONT)
