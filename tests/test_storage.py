"""Atomic writes: complete files with ordinary permissions, and no temp file left on failure."""

import os
import stat

import pytest

from recognizer.storage import read_json, write_bytes_atomic, write_json_atomic


def test_written_file_is_complete_and_readable_by_others(tmp_path):
    target = tmp_path / "sub" / "a.json"
    write_json_atomic(target, {"x": [1, 2]})
    assert read_json(target) == {"x": [1, 2]}
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]


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
