"""An opt-in timing log: one JSON line per timed piece of work, for load measurements.

When the environment variable ``DIGITS_TIMING_LOG`` names a file, ``timed`` appends a line to it
each time its block ends; otherwise it costs nothing. ``digits-load-test`` sets it for the
server it starts, so the Draw page's time per rerun can be read beside the times a browser sees.

    >>> with timed("one digit") as record:  # doctest: +SKIP
    ...     record["ink"] = True  # extra fields the block knows only once it ran
    >>> read_log(path)[0]  # doctest: +SKIP
    [{'what': 'one digit', 'ms': 12.3, 'cpu_ms': 9.8, 'end': 1790000000.1, 'ok': True, 'ink': True}]

Many server threads write at once: each line goes out in a single ``os.write`` on a file opened
with ``O_APPEND``, so lines do not interleave (a line is far below what one append writes whole).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOG_ENV = "DIGITS_TIMING_LOG"


def append_line(path: str | os.PathLike, record: dict) -> None:
    """Append ``record`` as one JSON line, in one write."""
    line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


@contextmanager
def timed(what: str) -> Iterator[dict]:
    """Time the block and log it when ``DIGITS_TIMING_LOG`` is set; yields a dict for extra fields.

    A block left by an exception (Streamlit stops a rerun that a newer one replaces) is logged
    with ``ok`` false, so a reader can tell finished work from interrupted work.
    """
    path = os.environ.get(LOG_ENV)
    record: dict = {}
    if not path:
        yield record
        return
    start, cpu_start = time.perf_counter(), time.thread_time()
    ok = False
    try:
        yield record
        ok = True
    finally:
        ms = round((time.perf_counter() - start) * 1000, 2)
        # The thread's own CPU time beside the wall time: what is left of ``ms`` was spent waiting
        # (for the GIL held by other visitors' reruns, or for a CPU), not computing.
        cpu_ms = round((time.thread_time() - cpu_start) * 1000, 2)
        append_line(path, {"what": what, "ms": ms, "cpu_ms": cpu_ms, "end": round(time.time(), 3), "ok": ok, **record})


def read_log(path: str | os.PathLike, offset: int = 0) -> tuple[list[dict], int]:
    """The records from byte ``offset`` on, and the offset after the last whole line."""
    try:
        data = Path(path).read_bytes()[offset:]
    except FileNotFoundError:
        return [], offset
    whole = data[: data.rfind(b"\n") + 1]  # a line being written right now is read next time
    records = [json.loads(line) for line in whole.splitlines() if line.strip()]
    return records, offset + len(whole)
