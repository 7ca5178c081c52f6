"""The Train page's Training section: the running job, live, or how the last one ended. Not a page itself.

Everything about a job is read from disk on every refresh (``recognizer.ops.jobs``), so reloading the
page or opening it in another browser shows the running job and its curves.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages.shared import duration_text
from app_pages.train_admin import activate, admin_ok, stop
from recognizer.core.figures import learning_curves_figure
from recognizer.core.runs import ModelNotFoundError, active_model_dir
from recognizer.core.storage import read_json_or
from recognizer.ops import job_state
from recognizer.training.config import TrainConfig

LIVE_REFRESH = 1.5  # seconds between progress reads while a job runs
STALLED_AFTER = 30.0  # seconds without a batch before the page says why (a batch takes about a second)
IDLE_REFRESH = 4.0  # seconds between checks for a job started elsewhere (one small file read)
SOURCE_NAMES = {"mnist": "MNIST", "pen_digits": "pen-digit", "not_digit": "not-a-digit", "corrections": "correction"}
PHASE_TEXT = {
    "starting": "Starting the training process…",
    "loading data": "Loading and preparing the data…",
    "downloading data": "Downloading MNIST (first use on this machine)…",
    "evaluating": "Training done; testing on the 10,000 MNIST test images and the pen hold-out…",
    "saving": "Saving the run…",
    "done": "Finishing…",
}


def learning_curves(progress: dict, config: TrainConfig | None):
    """The shared learning-curve figure, from a job's progress: its curve within epochs and its
    per-epoch records (validation, once an epoch ends)."""
    history = progress.get("history") or []
    keys = ("loss", "val_loss", "accuracy", "val_accuracy", "learning_rate")
    per_epoch = {"epoch": [h["epoch"] for h in history], **{k: [h.get(k) for h in history] for k in keys}}
    validated = config.validation_split > 0 if config else None
    return learning_curves_figure(per_epoch, progress.get("curve"), validated=validated)


def has_curves(progress: dict) -> bool:
    """Whether a job's progress holds anything to draw: an epoch's record or a point within one."""
    return bool(progress.get("history") or (progress.get("curve") or {}).get("epoch"))


def _job_config(job_dir: Path) -> TrainConfig | None:
    values = read_json_or(job_dir / "config.json", {})
    return TrainConfig.from_dict(values) if values else None


def _current_learning_rate(progress: dict, config: TrainConfig | None) -> float | None:
    # Within an epoch, the curve's last point has the rate as scheduled now; before the epoch's
    # first point, the job's record of the rate the epoch starts with (after any plateau cut).
    curve = progress.get("curve") or {}
    logged = progress.get("learning_rate")
    if curve.get("epoch") and curve["epoch"][-1] > progress.get("epoch", 0) and curve["learning_rate"][-1]:
        logged = curve["learning_rate"][-1]
    return logged if logged is not None else (config.learning_rate if config else None)


def live_view(job_dir: Path) -> None:
    status = job_state.job_status(job_dir)
    progress = status["progress"]
    config = _job_config(job_dir)
    st.markdown(f"**Training job `{status['job_id']}`** ({config.architecture if config else '?'})")
    _progress_bar(progress, config)
    _stalled_hint(progress)
    _live_metrics(progress, config)
    if has_curves(progress):
        st.plotly_chart(learning_curves(progress, config), width="stretch", key="live-curves")
    else:
        st.caption("The learning curves appear after the first few batches.")
    _stop_controls(status, job_dir)


def _progress_bar(progress: dict, config: TrainConfig | None) -> None:
    phase = progress.get("phase", "starting")
    epochs = progress.get("epochs") or (config.epochs if config else 1)
    steps = progress.get("steps_per_epoch") or 0
    epoch, step = progress.get("epoch", 0), progress.get("step", 0)
    if phase == "training" and steps:
        done = (epoch * steps + step) / (epochs * steps)
        eta = progress.get("eta_seconds")
        text = f"Epoch {epoch + 1} of {epochs} · batch {step} of {steps} · about {duration_text(eta)} left"
        st.progress(min(max(done, 0.0), 1.0), text=text)
    elif phase in ("evaluating", "saving", "done"):
        st.progress(1.0, text=PHASE_TEXT[phase])
    else:
        st.progress(0.0, text=PHASE_TEXT.get(phase, phase))


def _stalled_hint(progress: dict) -> None:
    silent = job_state.seconds_without_progress(progress)
    if silent is not None and silent >= STALLED_AFTER:
        st.info(
            f"No progress for {duration_text(silent)}. Training runs at idle priority so that the app "
            "stays quick for visitors: it waits while another busy program on this machine keeps the "
            "processors busy, and goes on when they are free.",
            icon=":material/hourglass_empty:",
        )


def _live_metrics(progress: dict, config: TrainConfig | None) -> None:
    lr = _current_learning_rate(progress, config)
    cols = st.columns(5)
    cols[0].metric("Device", progress.get("device") or "…")
    cols[1].metric("Learning rate", f"{lr:.2e}" if lr is not None else "–")
    loss, acc = progress.get("batch_loss"), progress.get("batch_accuracy")
    cols[2].metric("Loss (this epoch)", f"{loss:.4f}" if loss is not None else "–")
    cols[3].metric("Accuracy (this epoch)", f"{acc:.2%}" if acc is not None else "–")
    started = progress.get("phase", "starting") != "starting"
    cols[4].metric("Elapsed", duration_text(progress.get("elapsed_seconds")) if started else "–")
    sources = progress.get("sources") or {}
    if sources:
        parts = " + ".join(f"{n:,} {SOURCE_NAMES.get(name, name)}" for name, n in sources.items())
        st.caption(f"Training on {progress.get('train_samples', sum(sources.values())):,} images: {parts}")


def _stop_controls(status: dict, job_dir: Path) -> None:
    allowed = admin_ok()
    if status.get("stop_requested"):
        st.info("Stopping after the current batch: the best weights so far are saved as a *stopped* run.")
        end_now = st.button(
            "Still running? End it now", help="Kills the process; this run's work is lost", disabled=not allowed
        )
        if end_now and admin_ok() and not job_state.kill_job(job_dir):
            st.warning("The job's process is not running (any more): nothing was stopped.")
    else:
        st.button(
            "Stop training",
            icon=":material/stop_circle:",
            on_click=stop,
            args=(job_dir,),
            disabled=not allowed,
            help="Ends after the current batch and keeps the best weights; the run is not activated",
        )


def last_outcome() -> None:
    """How the most recent job ended (nothing runs now)."""
    recent = job_state.list_jobs()
    if not recent:
        st.caption("No training job has run yet. Pick a preset above and press **Start training**.")
        return
    last = recent[0]
    job_id, status = last.get("job_id", "?"), last.get("status")
    if status in ("finished", "stopped") and last.get("run_dir"):
        _run_outcome(last, job_id, status)
    elif status == "failed":
        st.error(f"Last job `{job_id}` failed: {last.get('error') or 'no error was recorded'}")
        tail = last.get("log_tail") or job_state.log_tail(Path(last["job_dir"]))
        if tail:
            with st.expander("End of its log", expanded=True):
                st.code(tail, language=None, wrap_lines=True)
    else:
        st.caption(f"Last job `{job_id}`: {status}.")


def _run_outcome(last: dict, job_id: str, status: str) -> None:
    """A job that made a run: what it scores, its curves, and the button to activate it."""
    run_dir = Path(last["run_dir"])
    metrics = read_json_or(run_dir / "metrics.json")
    if not isinstance(metrics, dict):
        st.warning(f"Last job `{job_id}` {status}, but its run folder {run_dir} is gone.")
        return
    accuracy = f"test accuracy **{metrics.get('test_accuracy', 0):.2%}**"
    pen = metrics.get("pen_holdout_accuracy")
    if pen is not None:
        accuracy += f", pen hold-out (real handwriting) **{pen:.2%}**"
    if status == "finished":
        st.success(f"Last job `{job_id}` finished in {duration_text(metrics.get('training_seconds'))}: {accuracy}.")
    else:
        st.info(
            f"Last job `{job_id}` was stopped after {metrics.get('epochs_run', '?')} epoch(s) and kept its "
            f"best weights: {accuracy}. It is not active; activate it if it is good enough."
        )
    progress = last.get("progress") or {}
    if has_curves(progress):
        st.plotly_chart(learning_curves(progress, None), width="stretch", key="last-curves")
    if not _is_active(run_dir):
        st.button(
            "Make it the active model", on_click=activate, args=(str(run_dir), run_dir.name), disabled=not admin_ok()
        )


def _is_active(run_dir: Path) -> bool:
    try:
        return run_dir.resolve() == active_model_dir().resolve()
    except ModelNotFoundError:
        return False


@st.fragment(run_every=LIVE_REFRESH)
def live_panel(job_dir: Path) -> None:
    current = job_state.current_job()
    if current != job_dir:
        # The job ended (or another one started): redraw the whole page so the outcome, the
        # Start button and the run history all catch up.
        st.rerun(scope="app")
    live_view(job_dir)


@st.fragment(run_every=IDLE_REFRESH)
def idle_watch() -> None:
    # Cheap by design: one look at the job lock. A job started elsewhere brings up the live view.
    if job_state.current_job() is not None:
        st.rerun(scope="app")
