"""The Train page (AppTest, no browser): form, presets, validation, live job view, run history.

Only ``test_a_tiny_job_started_from_the_page_trains_and_shows_up`` trains (one LeNet-5 epoch on
300 images); the live view and failure tests write a job's files the way ``recognizer.ops.jobs`` does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recognizer.core import paths
from recognizer.core.runs import active_model_dir, list_runs, shipped_active_dir
from recognizer.core.storage import read_json, write_json_atomic
from recognizer.ops import job_state
from recognizer.ops.safety import TOKEN_ENV
from recognizer.reading.strip_reader import SHIPPED_READER
from recognizer.training.config import TrainConfig

APP = str(Path(__file__).resolve().parent.parent / "app.py")
# Seconds before a job counts as hung: it imports TensorFlow and evaluates on 10,000 test images,
# idle-class and niced, so on a machine busy with other work it can take minutes.
JOB_TIMEOUT = 900


def open_train_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception, at.exception
    return at


def history_table(at: AppTest):
    return at.dataframe[0].value


def errors(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error)


def jobs_dir() -> Path:
    return paths.runs_dir() / job_state.JOBS_DIR


def test_page_shows_the_form_the_data_summary_and_the_run_history():
    at = open_train_page()
    assert at.title[0].value == "Train a model"
    presets = at.segmented_control(key="train_preset")
    assert presets.value == "quick" and presets.options == [
        "Quick",
        "Standard",
        "Best",
    ]  # recognizer.training.config.PRESETS
    quick = TrainConfig.preset("quick").to_dict()
    shown = {"init_from": ""}  # how the form shows None
    for field in dataclasses.fields(TrainConfig):  # every hyperparameter has a widget, showing the preset
        assert at.get_by_key(f"train_{field.name}").value == shown.get(field.name, quick[field.name]), field.name
    summary = "\n".join(m.value for m in at.markdown)
    assert "**60,000** MNIST training images (none held out for validation)" in summary  # Quick: all, no validation
    assert "Pen-written digits:" in summary and "Saved corrections: 0" in summary
    assert any("Training runs on: **" in c.value for c in at.caption)  # the device
    table = history_table(at)
    shipped = table[table["Run"] == shipped_active_dir().name].iloc[0]
    assert bool(shipped["Active"]) and bool(shipped["Shipped"])
    assert shipped["Test accuracy"] > 99
    assert any("No training job has run yet" in c.value for c in at.caption)
    assert SHIPPED_READER not in set(table["Run"])  # no classifier: named apart, with how to retrain it
    assert any(SHIPPED_READER in c.value and "digits-train-reader" in c.value for c in at.caption)


def test_a_newcomer_sees_the_preset_the_architecture_the_epochs_and_start():
    """Every other field is under "Advanced settings", closed at first and open again after a visit
    to another page when the visitor left it open."""
    at = open_train_page()
    advanced = at.expander[0]
    assert advanced.label == "Advanced settings" and not advanced.proto.expanded
    inside = {w.key for kind in ("number_input", "selectbox", "slider", "checkbox", "text_input")
              for w in getattr(advanced, kind)}  # fmt: skip
    fields = {f"train_{f.name}" for f in dataclasses.fields(TrainConfig)}
    assert fields - inside == {"train_architecture", "train_epochs"}
    assert at.button(key="train_start") not in advanced.button
    assert any(c.value.startswith("A small batch-norm CNN") for c in at.caption)  # what the preset is

    at.session_state["train_advanced"] = True  # the visitor opens it (its on_change remembers)
    at.session_state["train_advanced_open"] = True
    at.switch_page("app_pages/draw.py").run()
    at.switch_page("app_pages/train.py").run()
    assert at.expander[0].proto.expanded


def test_the_subset_field_says_all_when_it_uses_every_image():
    at = open_train_page()
    subset = at.number_input(key="train_train_subset")
    assert subset.value is None and subset.proto.placeholder == "all 60,000"
    assert subset.proto.min == 20  # the smallest subset TrainConfig accepts: the field offers no less
    subset.set_value(300).run()
    assert "**300** MNIST training images" in "\n".join(m.value for m in at.markdown)  # Quick: no validation
    at.number_input(key="train_train_subset").set_value(None).run()
    assert "**60,000** MNIST training images" in "\n".join(m.value for m in at.markdown)


def test_invalid_hyperparameters_show_the_problems_and_start_nothing():
    at = open_train_page()
    at.checkbox(key="train_early_stopping").check()
    at.slider(key="train_validation_split").set_value(0.0)
    at.run()
    assert not at.exception
    assert "early stopping and ReduceLROnPlateau watch validation loss" in errors(at)
    assert at.button(key="train_start").disabled
    assert not jobs_dir().exists() and job_state.current_job() is None


def test_presets_fill_the_form():
    at = open_train_page()
    at.segmented_control(key="train_preset").set_value("best").run()
    assert at.selectbox(key="train_architecture").value == "deepcnn"
    assert at.number_input(key="train_epochs").value == 20
    assert at.selectbox(key="train_lr_schedule").value == "cosine"
    assert at.checkbox(key="train_augment").value and at.checkbox(key="train_pen_digits").value
    assert at.slider(key="train_canvas_style").value == 0.5
    assert at.number_input(key="train_pen_copies").value == 4
    assert at.slider(key="train_pen_styles").value == 0.3
    assert at.number_input(key="train_train_subset").value is None  # all of MNIST

    at.number_input(key="train_epochs").set_value(12).run()  # a hand edit leaves the preset
    assert at.segmented_control(key="train_preset").value is None
    assert at.number_input(key="train_epochs").value == 12

    at.segmented_control(key="train_preset").set_value("quick").run()
    assert at.selectbox(key="train_architecture").value == "fastcnn"
    assert at.number_input(key="train_epochs").value == 1
    assert at.number_input(key="train_train_subset").value is None  # all of MNIST
    assert not at.checkbox(key="train_pen_digits").value and at.slider(key="train_canvas_style").value == 0
    assert at.selectbox(key="train_lr_schedule").value == "onecycle"  # Best's cosine does not linger


@pytest.fixture
def stand_in_job():
    """A job that looks running to recognizer.ops.jobs: its files and a live process (sleep) holding the lock."""
    job_dir = jobs_dir() / "20260101-120000-cnn"
    job_dir.mkdir(parents=True)
    lock = os.open(paths.runs_dir() / job_state.LOCK_NAME, os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)
    sleeper = subprocess.Popen(["sleep", "120"], pass_fds=(lock,))  # holds the lock as a job does
    os.close(lock)
    write_json_atomic(paths.runs_dir() / job_state.CURRENT_NAME, {"job_id": job_dir.name})
    write_json_atomic(job_dir / "config.json", TrainConfig(architecture="cnn", epochs=3).to_dict())
    state = {"job_id": job_dir.name, "status": "running", **job_state.process_identity(sleeper.pid)}
    write_json_atomic(job_dir / "state.json", state)
    history = [
        {"epoch": 1, "loss": 0.4, "accuracy": 0.88, "val_loss": 0.2, "val_accuracy": 0.94, "learning_rate": 1e-3}
    ]
    progress = {
        "phase": "training",
        "epoch": 1,
        "step": 5,
        "steps_per_epoch": 10,
        "epochs": 3,
        "eta_seconds": 75,
        "device": "CPU",
        "train_samples": 1280,
        "sources": {"mnist": 1280},
        "history": history,
        "learning_rate": 1e-3,
        "batch_loss": 0.3,
        "batch_accuracy": 0.9,
        "elapsed_seconds": 12,
    }
    write_json_atomic(job_dir / "progress.json", progress)
    (job_dir / "log.txt").write_text("loading data\nTraceback (most recent call last):\nMemoryError\n")
    yield job_dir, sleeper
    sleeper.kill()
    sleeper.wait()


def test_a_running_job_is_shown_live_from_disk_and_can_be_stopped(stand_in_job):
    job_dir, _ = stand_in_job
    at = open_train_page()  # a fresh session: everything comes from the job's files
    assert at.button(key="train_start").disabled
    assert any(m.value.startswith("**Training job") and job_dir.name in m.value for m in at.markdown)
    [bar] = at.get("progress")
    assert "Epoch 2 of 3 · batch 5 of 10 · about 1 min 15 s left" in bar.proto.text
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Device"] == "CPU" and metrics["Learning rate"] == "1.00e-03"
    assert at.get("plotly_chart"), "the learning curves"

    next(b for b in at.button if b.label == "Stop training").click().run()
    assert not at.exception
    assert (job_dir / "stop").exists()
    assert any("Stopping after the current batch" in i.value for i in at.info)


def test_the_curve_shows_within_the_first_epoch_with_the_rate_as_scheduled_now(stand_in_job):
    job_dir, _ = stand_in_job
    progress = read_json(job_dir / "progress.json")
    xs = [k / 100 for k in range(1, 8)]  # 7 % of the first epoch: no epoch has ended
    curve = {"epoch": xs, "loss": [2.3 - k / 10 for k in range(7)], "accuracy": [0.1 * k for k in range(7)]}
    curve["learning_rate"] = [1e-3 * (k + 1) for k in range(7)]  # a one-cycle warm-up
    write_json_atomic(job_dir / "progress.json", {**progress, "epoch": 0, "history": [], "curve": curve})
    at = open_train_page()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Learning rate"] == "7.00e-03"
    [chart] = at.get("plotly_chart")
    traces = json.loads(chart.proto.spec)["data"]
    loss = next(t for t in traces if t["name"] == "train (raw)")
    assert loss["x"] == xs and loss["y"] == curve["loss"]
    assert next(t for t in traces if t["name"] == "learning rate")["y"] == curve["learning_rate"]


def test_a_job_without_progress_for_a_while_says_why(stand_in_job):
    job_dir, _ = stand_in_job
    progress = read_json(job_dir / "progress.json")
    fresh = dt.datetime.now().isoformat(timespec="seconds")
    write_json_atomic(job_dir / "progress.json", {**progress, "updated": fresh})
    assert not [i for i in open_train_page().info if "No progress" in i.value]

    stale = (dt.datetime.now() - dt.timedelta(minutes=3)).isoformat(timespec="seconds")
    write_json_atomic(job_dir / "progress.json", {**progress, "updated": stale})
    at = open_train_page()
    [hint] = [i.value for i in at.info if "No progress" in i.value]
    assert hint.startswith("No progress for 3 min") and "idle priority" in hint


def test_a_job_that_died_shows_its_error_and_log(stand_in_job):
    job_dir, sleeper = stand_in_job
    sleeper.kill()
    sleeper.wait()
    at = open_train_page()
    assert "failed: the training process ended without reporting" in errors(at)
    assert any("MemoryError" in c.value for c in at.code)
    assert not at.button(key="train_start").disabled


@pytest.fixture
def server_address():
    """Set the address the server listens on, as `--server.address` would (restored afterwards)."""
    from streamlit import config

    before = config.get_option("server.address")
    yield lambda address: config.set_option("server.address", address)
    config.set_option("server.address", before)


def test_with_an_admin_token_the_training_controls_wait_for_it(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "s3cret")
    at = open_train_page()
    other = next(r["name"] for r in list_runs() if r["shipped"] and not r["active"])
    at.selectbox(key="train_pick").set_value(other).run()
    assert any("needs the admin token" in i.value for i in at.info)
    assert at.button(key="train_start").disabled and at.button(key="train_activate").disabled

    at.text_input(key="train_admin_token").input("s3cre").run()
    assert at.button(key="train_start").disabled
    at.text_input(key="train_admin_token").input("s3cret").run()
    assert not at.button(key="train_start").disabled and not at.button(key="train_activate").disabled
    assert not any("needs the admin token" in i.value for i in at.info)

    # The action checks again: a wrong token sent with the click is refused, whatever the button showed.
    at.text_input(key="train_admin_token").input("guess")
    at.button(key="train_activate").click().run()
    assert "needs the admin token" in errors(at)
    assert active_model_dir() == shipped_active_dir()
    at.text_input(key="train_admin_token").input("s3cret").run()
    at.button(key="train_activate").click().run()
    assert active_model_dir().name == other


def test_an_exposed_server_without_a_token_locks_the_controls(stand_in_job, server_address):
    job_dir, sleeper = stand_in_job
    server_address("0.0.0.0")
    at = open_train_page()
    assert any("Training controls are off" in i.value and TOKEN_ENV in i.value for i in at.info)
    assert not [t for t in at.text_input if t.key == "train_admin_token"]  # no token configured
    assert next(b for b in at.button if b.label == "Stop training").disabled
    assert at.button(key="train_activate").disabled

    server_address("127.0.0.1")  # the shipped default: this machine only
    at.run()
    assert not any("Training controls are off" in i.value for i in at.info)
    stop = next(b for b in at.button if b.label == "Stop training")
    assert not stop.disabled
    server_address("0.0.0.0")  # exposed between drawing the button and the click: the click is refused
    stop.click().run()
    assert "needs the admin token" in errors(at)
    assert not (job_dir / "stop").exists() and sleeper.poll() is None


def _wait_for_job(job_dir: Path) -> dict:
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        status = job_state.job_status(job_dir)
        if status["status"] not in job_state.ACTIVE_STATUSES:
            return status
        time.sleep(1)
    job_state.kill_job(job_dir)
    pytest.fail(f"the job did not end within {JOB_TIMEOUT} s:\n{job_state.log_tail(job_dir)}")


@pytest.mark.slow  # a real training job
def test_a_tiny_job_started_from_the_page_trains_and_shows_up(mnist):  # mnist: skipped without the data
    at = open_train_page()
    at.selectbox(key="train_architecture").set_value("lenet5")
    at.number_input(key="train_epochs").set_value(1)
    at.number_input(key="train_train_subset").set_value(300)
    at.run()
    assert not errors(at)
    at.button(key="train_start").click().run()
    assert not at.exception
    assert any("Started job" in s.value for s in at.success)

    job_dir = job_state.current_job() or jobs_dir() / job_state.list_jobs()[0]["job_id"]
    status = _wait_for_job(job_dir)
    assert status["status"] == "finished", f"{status.get('error')}\n{job_state.log_tail(job_dir)}"
    run_name = Path(status["run_dir"]).name
    assert run_name in [r["name"] for r in list_runs()]

    at.run()  # what any page load now shows: the outcome and the new run in the history
    assert not at.exception
    assert any(f"Last job `{job_dir.name}` finished" in s.value for s in at.success)
    table = history_table(at)
    row = table[table["Run"] == run_name].iloc[0]
    assert row["Architecture"] == "lenet5" and row["Epochs"] == 1 and not row["Active"]

    # Activate it: the user's choice wins over the shipped model, and the Draw page (a new
    # session here, same process) uses it without a restart.
    at.selectbox(key="train_pick").set_value(run_name).run()
    at.button(key="train_activate").click().run()
    assert not at.exception
    assert active_model_dir().name == run_name
    assert any(f"**{run_name}** is now the active model" in s.value for s in at.success)
    assert at.button(key="train_activate").disabled
    assert history_table(at).set_index("Run").loc[run_name, "Active"]
    draw = AppTest.from_file(APP, default_timeout=60).run()
    assert any(f"Active model: **{run_name}**" in c.value for c in draw.sidebar.caption)

    # Back to the shipped model, then the run can go.
    at.selectbox(key="train_pick").set_value(shipped_active_dir().name).run()
    at.button(key="train_activate").click().run()
    assert active_model_dir() == shipped_active_dir()
    at.selectbox(key="train_pick").set_value(run_name).run()
    at.button(key="train_delete").click().run()
    assert not at.exception
    assert run_name not in [r["name"] for r in list_runs()]
    assert run_name not in set(history_table(at)["Run"])
