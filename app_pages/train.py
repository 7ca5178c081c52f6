"""Train page: the training dashboard. Set up a run (or pick a preset), start it as a background job,
watch it live, and manage the runs: activate one for the Draw page, delete the ones you don't need.

The page is laid out here; its parts live beside it: the form (``train_form``, ``train_data``),
the running or last job (``train_jobs``), the run table (``train_runs``) and who may manage
training (``train_admin``).
"""

from __future__ import annotations

import streamlit as st

from app_pages.shared import import_tensorflow, needs_full_install
from app_pages.train_admin import NOT_ADMIN, admin_gate, admin_ok, flash, show_flash
from app_pages.train_data import data_section, data_summary, page_problems, pen_digits_available
from app_pages.train_form import (
    advanced_settings,
    augmentation_section,
    essentials,
    form_config,
    model_section,
    other_fields_section,
    preset_control,
    start_form,
    stopping_section,
)
from app_pages.train_jobs import idle_watch, last_outcome, live_panel
from app_pages.train_runs import run_history
from recognizer.core import paths
from recognizer.data.corrections import FeedbackStore
from recognizer.ops import job_state, jobs
from recognizer.training.config import TrainConfig
from recognizer.training.run_files import training_device


@st.cache_resource(show_spinner="Asking TensorFlow for devices…")
def _device() -> str:
    import_tensorflow()  # training_device imports it: never beside the model's background load
    return training_device()


def new_run_form() -> TrainConfig | None:
    """The preset, the architecture and the epochs, then every other setting under "Advanced
    settings" in three columns; the config they describe, None when it cannot run."""
    start_form()
    pen_available = pen_digits_available()
    corrections = FeedbackStore().count()
    preset_control()
    essentials()
    with advanced_settings():
        model_col, reg_col, data_col = st.columns(3, gap="large")
        with model_col:
            st.markdown("##### Optimiser")
            model_section()
        with reg_col:
            st.markdown("##### Augmentation and regularisation")
            augmentation_section()
            stopping_section()
        with data_col:
            st.markdown("##### Data")
            data_section(pen_available, corrections)
        other_fields_section()
    config = form_config()
    with data_col:
        data_summary(config, pen_available, corrections)
    problems = page_problems(config, pen_available)
    if problems:
        st.error("This configuration cannot run:\n" + "\n".join(f"- {p}" for p in problems))
    return config if not problems else None


def start_button(config: TrainConfig | None, running_before) -> None:
    """Start training ``config`` (None: it cannot run) unless a job runs or the visitor may not."""
    start = st.button(
        "Start training",
        type="primary",
        icon=":material/play_arrow:",
        disabled=config is None or running_before is not None or not admin_ok(),
        key="train_start",
    )
    if running_before is not None:
        st.caption("A training job is running (below): stop it or wait for it to end before starting another.")
    if start and config is not None:
        _start(config)


def _start(config: TrainConfig) -> None:
    if not admin_ok():
        st.error(NOT_ADMIN)
        return
    try:
        job = jobs.start_job(config, data_dir=None)
    except jobs.JobRunningError as exc:
        st.warning(f"A training job is already running (`{exc.job_dir.name}`): it is shown below.")
    except ValueError as exc:
        st.error(str(exc))
    except OSError as exc:
        st.error(f"Could not start the job: {exc}")
    else:
        flash("success", f"Started job `{job.job_id}`.")
        st.rerun()  # redraw the Start button disabled, with the job below it


st.title("Train a model")
can_train = not needs_full_install("Training")
if can_train:
    st.caption(f"Training runs on: **{_device()}** · runs are saved in `{paths.runs_dir()}`")
admin_gate()
show_flash()
running_before = job_state.current_job()

if can_train:
    st.subheader("New training run")
    start_button(new_run_form(), running_before)

st.subheader("Training")
running = job_state.current_job()
if running is not None:
    live_panel(running)
else:
    last_outcome()
    idle_watch()

st.subheader("Runs")
run_history(running is not None)
