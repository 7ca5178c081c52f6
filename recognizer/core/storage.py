"""Atomic file writes and JSON reads: a reader sees the old file or the new one, never half of one.

Every file the project saves goes through here (temp file in the same folder, fsync, rename),
so a crash or a full disk never corrupts saved runs, corrections or the active-model choice.
``read_json`` is the strict read; ``read_json_or`` the forgiving one, for files a page, a job or a
report can do without (missing, hand-edited or damaged: a default instead of an error).
``file_stamp`` tells a cache that a file (or a folder's listing) changed.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_json_atomic(d / "a.json", {"x": 1})
    >>> read_json(d / "a.json")
    {'x': 1}
    >>> read_json_or(d / "missing.json", {})
    {}
"""

from __future__ import annotations

import functools
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask, read without changing it (os.umask would, for every thread at once)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _probed_umask()


@functools.cache
def _probed_umask() -> int:
    """Where /proc is missing (macOS, old kernels): the mode a fresh file really gets, found once."""
    with tempfile.TemporaryDirectory() as folder:
        probe = os.path.join(folder, "probe")
        os.close(os.open(probe, os.O_CREAT | os.O_WRONLY, 0o777))
        return 0o777 & ~stat.S_IMODE(os.stat(probe).st_mode)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as pretty JSON, atomically."""
    write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


def read_json_or(path: str | os.PathLike, default: Any = None) -> Any:
    """The JSON in ``path``; ``default`` when it is missing or unreadable, or not of ``default``'s type.

    The type check means ``read_json_or(path, {})`` always gives a dict, whatever the file holds.
    """
    try:
        found = read_json(path)
    except (OSError, ValueError):
        return default
    if default is not None and not isinstance(found, type(default)):
        return default
    return found


def file_stamp(path: str | os.PathLike) -> float:
    """The modification time of ``path``, 0.0 when it is missing: part of a cache key.

    A file written through ``write_bytes_atomic`` is renamed into place, so a save changes its
    stamp and its folder's.
    """
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return 0.0


def report_json(figures: dict, out: str | os.PathLike | None = None) -> None:
    """Print ``figures`` as indented JSON on stdout (a script's result) and, when ``out`` is given,
    also save them there atomically."""
    import json

    print(json.dumps(figures, indent=2))
    if out:
        write_json_atomic(out, figures)
