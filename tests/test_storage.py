"""Atomic writes: complete files with ordinary permissions, no temp file left on failure, and a
writer killed at any moment leaves the old file or the new one; the forgiving read gives a default."""

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from recognizer.core import storage
from recognizer.core.storage import read_json, read_json_or, write_bytes_atomic, write_json_atomic


def test_written_file_is_complete_and_has_the_mode_of_a_plain_open(tmp_path, monkeypatch):
    def no_umask_changes(mask):
        raise AssertionError("os.umask changes the mask of every thread in the process")

    monkeypatch.setattr(os, "umask", no_umask_changes)
    target = tmp_path / "sub" / "a.json"
    write_json_atomic(target, {"x": [1, 2]})
    assert read_json(target) == {"x": [1, 2]}
    plain = tmp_path / "plain"
    plain.write_text("")  # what open() gives under the process's umask
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]


def test_the_umask_probe_agrees_with_proc(tmp_path):
    # The fallback for systems without /proc finds the same mask by creating a file.
    assert storage._probed_umask() == storage._umask()


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "b.bin"
    write_bytes_atomic(target, b"old")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["b.bin"]


# Writes ever bigger JSON files (up to ~2 MB, so a kill often lands mid-write) until killed.
WRITE_FOREVER = """
import sys
from recognizer.core.storage import write_json_atomic
i = 0
while True:
    i += 1
    write_json_atomic(sys.argv[1], {"i": i, "pad": "x" * (i % 40) * 50_000})
"""


def test_a_writer_killed_mid_write_always_leaves_a_complete_file(tmp_path):
    target = tmp_path / "state.json"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    seen = set()
    for kill in range(12):
        writer = subprocess.Popen([sys.executable, "-c", WRITE_FOREVER, str(target)], env=env)
        deadline = time.monotonic() + 30
        while not target.exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.05 + 0.04 * kill)  # kills land at different points of different writes
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        found = json.loads(target.read_text())  # never half a file
        assert found["pad"] == "x" * (found["i"] % 40) * 50_000
        seen.add(found["i"])
    assert len(seen) > 1  # the kills did land at different moments


def test_read_json_or_a_default(tmp_path):
    good, broken, listed = tmp_path / "good.json", tmp_path / "broken.json", tmp_path / "list.json"
    good.write_text('{"a": 1}')
    broken.write_text('{"a": ')
    listed.write_text("[1, 2]")
    assert read_json_or(good, {}) == {"a": 1}
    assert read_json_or(broken, {}) == {} and read_json_or(broken) is None
    assert read_json_or(tmp_path / "missing.json", {"x": 0}) == {"x": 0}
    assert read_json_or(listed, {}) == {}  # not a dict: the default's type wins
    assert read_json_or(listed) == [1, 2]  # no default: any JSON
