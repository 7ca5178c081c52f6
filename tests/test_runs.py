"""Run listing, activation and deletion: the shipped model and the active one are protected."""

import shutil

import pytest

from recognizer.runs import active_model_dir, delete_run, list_runs, set_active, shipped_active_dir


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
    import json

    runs, first, second = two_runs
    metrics = json.loads((first / "metrics.json").read_text())
    metrics.update(test_accuracy="oops", parameter_count=None, epochs_run=[1])
    (first / "metrics.json").write_text(json.dumps(metrics))
    (second / "metrics.json").write_text("{ not json")
    rows = {r["name"]: r for r in list_runs(runs)}
    assert "run-b" not in rows  # unreadable: not a run to offer
    assert rows["run-a"]["test_accuracy"] is None and rows["run-a"]["parameters"] is None
    assert rows["run-a"]["epochs"] is None and rows["run-a"]["architecture"] == "lenet5"
