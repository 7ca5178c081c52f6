"""Run listing, activation and deletion: the shipped model and the active one are protected."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from recognizer.core import paths
from recognizer.core.runs import (
    STALE_PARTIAL_SECONDS,
    active_model_dir,
    delete_run,
    list_runs,
    set_active,
    shipped_active_dir,
    sweep_leftovers,
    write_run_folder,
)
from recognizer.evaluation.answers import read_probabilities, write_probabilities


@pytest.fixture
def two_runs(tiny_run, tmp_path):
    """Two copies of a finished tiny run in a fresh runs folder."""
    runs = tmp_path / "runs"
    first, second = runs / "run-a", runs / "run-b"
    shutil.copytree(tiny_run, first)
    shutil.copytree(tiny_run, second)
    return runs, first, second


def test_list_shows_shipped_and_user_runs_with_the_active_marked(two_runs):
    runs, first, _ = two_runs
    (runs / ".run-c.partial").mkdir()  # a run being written is never listed
    rows = {r["name"]: r for r in list_runs(runs)}
    assert {"run-a", "run-b", shipped_active_dir().name} <= set(rows)
    assert ".run-c.partial" not in rows
    assert rows[shipped_active_dir().name]["active"] and rows[shipped_active_dir().name]["shipped"]
    set_active(first)
    rows = {r["name"]: r for r in list_runs(runs)}
    assert rows["run-a"]["active"] and not rows[shipped_active_dir().name]["active"]
    assert rows["run-a"]["architecture"] == "lenet5" and rows["run-a"]["parameters"] == 61_706


def test_the_shipped_strip_reader_is_no_run_to_list_or_activate(two_runs):
    from recognizer.reading.strip_reader import SHIPPED_READER

    assert (paths.shipped_models_dir() / SHIPPED_READER / "model.keras").is_file()
    assert SHIPPED_READER not in {r["name"] for r in list_runs(two_runs[0])}


def test_delete_refuses_active_and_shipped_and_removes_others(two_runs):
    runs, first, second = two_runs
    set_active(first)
    with pytest.raises(ValueError, match="active"):
        delete_run(first)
    with pytest.raises(ValueError, match="ships with the app"):
        delete_run(shipped_active_dir())
    delete_run(second)
    assert not second.exists()
    assert [p.name for p in runs.iterdir()] == ["run-a"]
    assert active_model_dir().resolve() == first.resolve()


def test_damaged_metrics_list_with_what_can_be_read(two_runs):
    runs, first, second = two_runs
    metrics = json.loads((first / "metrics.json").read_text())
    metrics.update(test_accuracy="oops", parameter_count=None, epochs_run=[1])
    (first / "metrics.json").write_text(json.dumps(metrics))
    (second / "metrics.json").write_text("{ not json")
    rows = {r["name"]: r for r in list_runs(runs)}
    assert "run-b" not in rows  # unreadable: not a run to offer
    assert rows["run-a"]["test_accuracy"] is None and rows["run-a"]["parameters"] is None
    assert rows["run-a"]["epochs"] is None and rows["run-a"]["architecture"] == "lenet5"


def test_activating_never_rewrites_the_repos_active_json(two_runs, tmp_path, monkeypatch):
    runs, first, _ = two_runs
    repo_pointer = paths.shipped_models_dir() / "active.json"
    before = (repo_pointer.read_bytes(), repo_pointer.stat().st_mtime_ns)
    default = shipped_active_dir()
    other = next(p for p in paths.shipped_models_dir().iterdir() if (p / "model.keras").is_file() and p != default)

    set_active(other)  # another shipped model: remembered by name in the user's pointer
    assert active_model_dir() == other
    assert json.loads((paths.user_data_dir() / "active.json").read_text()) == {"shipped": other.name}
    set_active(first)
    assert active_model_dir().resolve() == first.resolve()
    set_active(default)  # the shipped default: the user's pointer goes, the repo's default rules
    assert active_model_dir() == default and not (paths.user_data_dir() / "active.json").exists()
    assert (repo_pointer.read_bytes(), repo_pointer.stat().st_mtime_ns) == before


@pytest.mark.parametrize("pointer", [{"shipped": "../models/x"}, {"shipped": ".hidden"}, {"shipped": 3}, ["path"]])
def test_an_odd_user_pointer_falls_back_to_the_shipped_default(pointer):
    (paths.user_data_dir() / "active.json").write_text(json.dumps(pointer))
    assert active_model_dir() == shipped_active_dir()


def test_leftovers_of_killed_writers_are_swept_and_nothing_else(two_runs):
    runs, first, second = two_runs
    for name in (".job-a.partial", ".fresh.partial", ".old.partial", ".deleting-run-x-1a2b3c"):
        (runs / name).mkdir()
        (runs / name / "model.keras").write_bytes(b"half")
    hours_ago = time.time() - 2 * STALE_PARTIAL_SECONDS
    for path in (runs / ".old.partial", runs / ".old.partial" / "model.keras"):
        os.utime(path, (hours_ago, hours_ago))
    removed = sweep_leftovers(runs, dead_writers=["job-a", "job-b"])
    assert removed == [".deleting-run-x-1a2b3c", ".job-a.partial", ".old.partial"]
    # A partial folder written to a moment ago may belong to a live writer (a terminal training).
    assert sorted(p.name for p in runs.iterdir()) == [".fresh.partial", "run-a", "run-b"]


# Switches the active model back and forth between two runs until killed.
SWITCH_FOREVER = """
import sys
from recognizer.core.runs import set_active
while True:
    set_active(sys.argv[1])
    set_active(sys.argv[2])
"""


def test_activation_killed_at_any_moment_leaves_a_whole_pointer_readers_always_see(two_runs, isolated_user_dirs):
    _, first, second = two_runs
    pointer = isolated_user_dirs / "active.json"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    chosen = set()
    for kill in range(10):
        switcher = subprocess.Popen([sys.executable, "-c", SWITCH_FOREVER, str(first), str(second)], env=env)
        deadline = time.monotonic() + 30
        while not pointer.exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        until = time.monotonic() + 0.05 + 0.03 * kill
        while time.monotonic() < until:  # what the app reads meanwhile is always a whole pointer
            chosen.add(json.loads(pointer.read_text())["path"])
        switcher.send_signal(signal.SIGKILL)
        switcher.wait()
        chosen.add(json.loads(pointer.read_text())["path"])  # always whole JSON naming a run
        assert active_model_dir().resolve() in (first.resolve(), second.resolve())
    assert chosen <= {str(first.resolve()), str(second.resolve())}


def test_a_run_folder_appears_only_when_complete(tmp_path):
    def fails_half_way(folder):
        (folder / "model.keras").write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_run_folder(tmp_path, "r", fails_half_way)
    assert list(tmp_path.iterdir()) == []  # nothing, not even the partial folder

    seen = []

    def writes(folder):
        seen.append((folder.name, (tmp_path / "r").exists()))
        (folder / "model.keras").write_bytes(b"whole")

    assert write_run_folder(tmp_path, "r", writes) == tmp_path / "r"
    assert seen == [(".r.partial", False)]  # written under the hidden name; the run did not exist yet
    assert [p.name for p in tmp_path.iterdir()] == ["r"] and (tmp_path / "r" / "model.keras").read_bytes() == b"whole"


def test_stored_probabilities_keep_every_answer_of_an_undecided_model(tmp_path):
    # An untrained model's rows are nearly flat: float16 rounding alone ties many top pairs.
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=1e-3, size=(5000, 10))
    proba = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
    assert np.any(proba.astype(np.float16).argmax(axis=1) != proba.argmax(axis=1))  # the trap is real

    write_probabilities(tmp_path / "p.npz", proba)
    stored = read_probabilities(tmp_path / "p.npz")
    assert stored.dtype == np.float32 and stored.shape == proba.shape
    assert np.array_equal(stored.argmax(axis=1), proba.argmax(axis=1))
    assert np.max(np.abs(stored - proba)) < 1e-3  # still the model's numbers, to float16's precision
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]  # written atomically, no temp file left
