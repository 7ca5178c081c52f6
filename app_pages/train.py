"""Train page: the training dashboard. Set up a run (or pick a preset), start it as a background job,
watch it live, and manage the runs: activate one for the Draw page, delete the ones you don't need.

Everything about a job is read from disk on every refresh (``recognizer.jobs``), so reloading the
page or opening it in another browser shows the running job and its curves.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages.shared import duration_text, learning_curves_figure
from recognizer import jobs, paths
from recognizer.data import DataError, find_mnist_dir
from recognizer.feedback import FeedbackStore
from recognizer.models import MODELS
from recognizer.pendigits import default_pen_digits_path, load_pen_digits, writer_split
from recognizer.runs import ModelNotFoundError, active_model_dir, delete_run, list_runs, set_active
from recognizer.safety import admin_allowed, admin_rule, admin_token
from recognizer.storage import read_json
from recognizer.train import LR_SCHEDULES, OPTIMIZERS, TrainConfig, training_device

MNIST_TRAIN_IMAGES = 60_000
LIVE_REFRESH = 1.5  # seconds between progress reads while a job runs
IDLE_REFRESH = 4.0  # seconds between checks for a job started elsewhere (one small file read)
FIELDS = dataclasses.fields(TrainConfig)
DEFAULTS = TrainConfig().to_dict()

# Each preset is applied over TrainConfig's defaults, so a preset never inherits stray edits.
PRESETS: dict[str, dict] = {
    "Quick": dict(architecture="cnn", epochs=3, train_subset=10_000, augment=False),
    "Standard": dict(architecture="deepcnn", epochs=8, lr_schedule="cosine", canvas_style=0.5, pen_digits=True),
    "Best": dict(
        architecture="deepcnn",
        epochs=20,
        lr_schedule="cosine",
        augment=True,
        canvas_style=0.5,
        pen_digits=True,
        pen_copies=4,
        pen_styles=0.3,
        not_digit=True,
    ),
}
# Times scale from the shipped deepcnn-mnist-v1: 20 epochs of 54,000 images took 30 min on a server CPU.
PRESET_HELP = (
    "**Quick**: a small CNN on 10,000 MNIST images, a couple of minutes on a laptop CPU.  \n"
    "**Standard**: the strong CNN, 8 epochs with augmentation, canvas-style MNIST and pen digits; "
    "about 15-30 min on a CPU.  \n"
    "**Best**: how the shipped drawing model is made (20 epochs, cosine schedule); about 40-80 min on a CPU."
)
DEFAULT_PRESET = "Quick"
PRESET_KEY = "train_preset"
FLASH_KEY = "train_flash"
ADMIN_KEY = "train_admin_token"
NOT_ADMIN = "Managing training needs the admin token (or a server that listens on this machine only)."

ss = st.session_state


def _key(name: str) -> str:
    return f"train_{name}"


def _preset_values(name: str) -> dict:
    values = {**DEFAULTS, **PRESETS[name]}
    values["train_subset"] = values["train_subset"] or 0  # the widget shows "all" as 0
    values["init_from"] = values["init_from"] or ""  # the widget shows "from scratch" as empty
    return values


def _apply_preset() -> None:
    name = ss.get(PRESET_KEY)
    if name:  # None: the user un-selected the preset; keep the form as it is
        for field, value in _preset_values(name).items():
            ss[_key(field)] = value


def _edited() -> None:
    # A hand edit means the form no longer is the highlighted preset.
    ss[PRESET_KEY] = None


def _init_form() -> None:
    """Fill the form once per session; persist_state keeps it across page switches afterwards."""
    if PRESET_KEY in ss:
        return
    ss[PRESET_KEY] = DEFAULT_PRESET
    _apply_preset()


def admin_ok() -> bool:
    """Whether this visitor may start, stop, activate or delete runs (the rule: recognizer.safety).

    Checked again in every action, not only by disabling its button: a disabled widget is a hint
    to the browser, not a guard on the server.
    """
    return admin_allowed(ss.get(ADMIN_KEY), st.get_option("server.address"))


def admin_gate() -> None:
    """The admin-token field when a token is configured, and what it takes to manage runs here."""
    if admin_token() is not None:
        st.text_input("Admin token", type="password", key=ADMIN_KEY, persist_state="session")
    if not admin_ok():
        st.info(admin_rule(st.get_option("server.address")))


def _flash(kind: str, message: str) -> None:
    """Show ``message`` after the next full rerun (an st.success would vanish with it)."""
    ss[FLASH_KEY] = (kind, message)


@st.cache_resource(show_spinner="Asking TensorFlow for devices…")
def _device() -> str:
    return training_device()


@st.cache_data(show_spinner=False, max_entries=4)
def _pen_training_digits(path: str, stamp: float) -> tuple[int, int]:
    # `stamp` (the file's mtime) makes a replaced file count afresh.
    pen = load_pen_digits(path)
    train_idx, _ = writer_split(pen)
    return len(train_idx), len(set(pen.writers[train_idx].tolist()))


def _pen_digits_available() -> tuple[int, int] | str:
    """(training writers' digits, writers), or why there are none."""
    path = default_pen_digits_path()
    if path is None:
        return "not found (set DIGITS_PEN_DIGITS to the pen-digits .npz file)"
    try:
        return _pen_training_digits(str(path), path.stat().st_mtime)
    except FileNotFoundError:
        return f"not found at {path}"
    except (OSError, ValueError, KeyError) as exc:
        return f"unreadable ({path}: {exc})"


# ---------------------------------------------------------------------------------------------
# The form
# ---------------------------------------------------------------------------------------------


RENDERED: set[str] = set()  # fields that got a widget in this script run


def _w(widget, name: str, label: str, **kwargs):
    """One form widget bound to the TrainConfig field ``name``."""
    RENDERED.add(name)
    return widget(label, key=_key(name), on_change=_edited, persist_state="session", **kwargs)


def model_section() -> None:
    _w(
        st.selectbox,
        "architecture",
        "Architecture",
        options=list(MODELS),
    )
    st.caption(MODELS[ss[_key("architecture")]].description)
    a, b = st.columns(2)
    with a:
        _w(st.number_input, "epochs", "Epochs", min_value=1, max_value=1000, step=1)
    with b:
        _w(st.number_input, "batch_size", "Batch size", min_value=1, max_value=8192, step=32)
    a, b = st.columns(2)
    with a:
        _w(st.selectbox, "optimizer", "Optimizer", options=list(OPTIMIZERS))
    with b:
        _w(
            st.number_input,
            "learning_rate",
            "Learning rate",
            min_value=0.000001,
            max_value=1.0,
            step=0.0001,
            format="%g",
        )
    a, b = st.columns(2)
    with a:
        _w(
            st.selectbox,
            "lr_schedule",
            "LR schedule",
            options=list(LR_SCHEDULES),
            help="cosine: down to 1 % of the start by the last epoch; exponential: times the decay each epoch",
        )
    with b:
        _w(
            st.number_input,
            "lr_decay",
            "Decay per epoch",
            min_value=0.01,
            max_value=1.0,
            step=0.01,
            disabled=ss[_key("lr_schedule")] != "exponential",
            help="Only for the exponential schedule",
        )
    _w(st.number_input, "seed", "Random seed", min_value=0, max_value=2**31 - 1, step=1)


def regularisation_section() -> None:
    _w(st.checkbox, "augment", "Augment the images", help="Random rotation, zoom, shift and shear each epoch")
    off = not ss[_key("augment")]
    a, b = st.columns(2)
    with a:
        _w(st.slider, "rotation", "Rotation (°)", min_value=0.0, max_value=45.0, step=1.0, disabled=off)
        _w(st.slider, "zoom", "Zoom", min_value=0.0, max_value=0.45, step=0.05, disabled=off)
    with b:
        _w(st.slider, "shear", "Shear (°)", min_value=0.0, max_value=45.0, step=1.0, disabled=off)
        _w(st.slider, "shift", "Shift", min_value=0.0, max_value=0.45, step=0.05, disabled=off)
    _w(st.checkbox, "early_stopping", "Early stopping", help="Stop when validation loss stops improving")
    a, _ = st.columns(2)
    with a:
        _w(
            st.number_input,
            "early_stopping_patience",
            "Patience (epochs)",
            min_value=1,
            max_value=100,
            step=1,
            disabled=not ss[_key("early_stopping")],
            help="Epochs without improvement before it stops",
        )
    _w(
        st.checkbox,
        "reduce_lr_on_plateau",
        "Reduce the learning rate on plateaus",
        help="Cut the learning rate when validation loss stalls (constant schedule only)",
    )
    plateau_off = not ss[_key("reduce_lr_on_plateau")]
    a, b = st.columns(2)
    with a:
        _w(
            st.number_input,
            "plateau_patience",
            "Patience (epochs)",
            min_value=1,
            max_value=100,
            step=1,
            disabled=plateau_off,
        )
    with b:
        _w(
            st.slider,
            "plateau_factor",
            "LR factor",
            min_value=0.05,
            max_value=0.95,
            step=0.05,
            disabled=plateau_off,
        )


def data_section(pen_available: tuple[int, int] | str, corrections: int) -> None:
    a, b = st.columns(2)
    with a:
        _w(
            st.number_input,
            "train_subset",
            "MNIST images to use",
            min_value=0,
            max_value=MNIST_TRAIN_IMAGES,
            step=1000,
            help="0 = all 60,000. A subset trains faster; the images are picked at random (seeded).",
        )
    with b:
        _w(
            st.slider,
            "validation_split",
            "Validation share",
            min_value=0.0,
            max_value=0.45,
            step=0.05,
            help="Held out of training to draw the validation curves (and for early stopping)",
        )
    _w(
        st.slider,
        "canvas_style",
        "Canvas-style share",
        min_value=0.0,
        max_value=1.0,
        step=0.05,
        help="Share of MNIST images shown redrawn as canvas strokes each epoch: helps reading drawings",
    )
    _w(
        st.checkbox,
        "pen_digits",
        "Add pen-written digits",
        help="Real handwriting written on tablets, rendered as the canvas draws it",
        disabled=isinstance(pen_available, str) and not ss[_key("pen_digits")],
    )
    a, b = st.columns(2)
    pen_off = not ss[_key("pen_digits")]
    with a:
        _w(st.number_input, "pen_copies", "Copies per pen digit", min_value=1, max_value=50, step=1, disabled=pen_off)
    with b:
        _w(
            st.slider,
            "pen_styles",
            "Styled 0s, 1s, 7s",
            min_value=0.0,
            max_value=1.0,
            step=0.05,
            disabled=pen_off,
            help="Share of pen 0s, 1s and 7s redrawn slashed, footed or barred",
        )
    _w(
        st.checkbox,
        "not_digit",
        "Learn “not a digit”",
        disabled=pen_off,
        help="An 11th class trained on pen-written letters, digit pairs, cut digits and scribbles: the model "
        "can then say when ink is not one digit, and the number reader uses it to cut touching digits",
    )
    a, b = st.columns(2)
    with a:
        _w(
            st.text_input,
            "init_from",
            "Start from run (folder)",
            help="Fine-tune: start from this run's weights (same architecture and classes); empty = from scratch",
        )
    with b:
        _w(
            st.number_input,
            "mined_cuts",
            "Mined wrong cuts",
            min_value=0,
            max_value=100_000,
            step=1000,
            help="Wrong cuts of touching numbers that the starting run reads as a digit, taught as “not a digit”",
        )
    _w(
        st.checkbox,
        "corrections",
        f"Add saved corrections ({corrections:,})",
        help="The digits people corrected on the Draw page (“Wrong? It is …”)",
    )


def other_fields_section() -> None:
    """Widgets for TrainConfig fields this page has no tailored widget for (a newer library)."""
    extra = [f for f in FIELDS if f.name not in RENDERED]
    if not extra:
        return
    with st.expander("More settings"):
        for f in extra:
            value, label = DEFAULTS[f.name], f.name.replace("_", " ").capitalize()
            if _key(f.name) not in ss:
                ss[_key(f.name)] = value
            if isinstance(value, bool):
                _w(st.checkbox, f.name, label)
            elif isinstance(value, int | float):
                _w(st.number_input, f.name, label)
            elif isinstance(value, str):
                _w(st.text_input, f.name, label)
            else:  # no safe widget for this type: the run uses the library's default
                st.caption(f"{label}: {value!r} (default)")


def form_config() -> TrainConfig:
    values = {f.name: ss[_key(f.name)] for f in FIELDS}
    values["train_subset"] = values["train_subset"] or None
    values["init_from"] = (values["init_from"] or "").strip() or None
    return TrainConfig(**values)


def data_summary(config: TrainConfig, pen_available: tuple[int, int] | str, corrections: int) -> None:
    """What the run will train on, in numbers (the same arithmetic as recognizer.train.split_data)."""
    chosen = min(config.train_subset or MNIST_TRAIN_IMAGES, MNIST_TRAIN_IMAGES)
    n_val = round(chosen * config.validation_split)
    lines = [f"- **{chosen - n_val:,}** MNIST training images ({n_val:,} held out for validation)"]
    if config.canvas_style > 0:
        lines.append(f"  - {config.canvas_style:.0%} of them shown as canvas strokes each epoch")
    total = chosen - n_val
    if isinstance(pen_available, str):
        lines.append(f"- Pen-written digits: {pen_available}")
    else:
        digits, writers = pen_available
        if config.pen_digits:
            rendered = digits * config.pen_copies
            total += rendered
            lines.append(
                f"- **{rendered:,}** pen-digit images: {digits:,} digits by {writers} training writers "
                f"× {config.pen_copies} renderings"
            )
        else:
            lines.append(f"- Pen-written digits: {digits:,} available from {writers} training writers (not used)")
    if config.not_digit and config.pen_digits:
        lines.append("- About a third as many again of “not a digit” examples: letters, digit pairs, cut digits")
    if config.corrections:
        total += corrections
        lines.append(f"- **{corrections:,}** saved corrections")
    else:
        lines.append(f"- Saved corrections: {corrections:,} (not used)")
    lines.append(f"- In all about **{total:,}** images per epoch; tested on the 10,000 MNIST test images")
    st.markdown("\n".join(lines))
    try:
        st.caption(f"MNIST from `{find_mnist_dir(download=False)}`")
    except DataError as exc:
        st.warning(f"MNIST is not on this machine yet; the job will try to download it. ({exc})")


def page_problems(config: TrainConfig, pen_available: tuple[int, int] | str) -> list[str]:
    """config.problems() plus what only shows at run time: data the job would not find."""
    found = config.problems()
    if config.pen_digits and isinstance(pen_available, str):
        found.append(f"pen digits are on but the pen-digits file is {pen_available}")
    return found


# ---------------------------------------------------------------------------------------------
# Jobs: live progress and the last outcome
# ---------------------------------------------------------------------------------------------


def learning_curves(history: list[dict]):
    """The shared learning-curve figure, from a job's per-epoch progress records."""
    keys = ("loss", "val_loss", "accuracy", "val_accuracy", "learning_rate")
    return learning_curves_figure(
        {"epoch": [h["epoch"] for h in history], **{k: [h.get(k) for h in history] for k in keys}}
    )


def _job_config(job_dir: Path) -> TrainConfig | None:
    try:
        return TrainConfig.from_dict(read_json(job_dir / "config.json"))
    except (OSError, ValueError, TypeError):
        return None


def _current_learning_rate(progress: dict, config: TrainConfig | None) -> float | None:
    # The job records the rate each epoch starts with (and any plateau cut at its end).
    logged = progress.get("learning_rate")
    return logged if logged is not None else (config.learning_rate if config else None)


SOURCE_NAMES = {"mnist": "MNIST", "pen_digits": "pen-digit", "not_digit": "not-a-digit", "corrections": "correction"}
PHASE_TEXT = {
    "starting": "Starting the training process…",
    "loading data": "Loading and preparing the data…",
    "downloading data": "Downloading MNIST (first use on this machine)…",
    "evaluating": "Training done; testing on the 10,000 MNIST test images and the pen hold-out…",
    "saving": "Saving the run…",
    "done": "Finishing…",
}


def live_view(job_dir: Path) -> None:
    status = jobs.job_status(job_dir)
    progress = status["progress"]
    config = _job_config(job_dir)
    phase = progress.get("phase", "starting")
    epochs = progress.get("epochs") or (config.epochs if config else 1)
    steps = progress.get("steps_per_epoch") or 0
    epoch, step = progress.get("epoch", 0), progress.get("step", 0)

    st.markdown(f"**Training job `{status['job_id']}`** ({config.architecture if config else '?'})")
    if phase == "training" and steps:
        done = (epoch * steps + step) / (epochs * steps)
        eta = progress.get("eta_seconds")
        text = f"Epoch {epoch + 1} of {epochs} · batch {step} of {steps} · about {duration_text(eta)} left"
        st.progress(min(max(done, 0.0), 1.0), text=text)
    elif phase in ("evaluating", "saving", "done"):
        st.progress(1.0, text=PHASE_TEXT[phase])
    else:
        st.progress(0.0, text=PHASE_TEXT.get(phase, phase))

    lr = _current_learning_rate(progress, config)
    cols = st.columns(5)
    cols[0].metric("Device", progress.get("device") or "…")
    cols[1].metric("Learning rate", f"{lr:.2e}" if lr is not None else "–")
    loss, acc = progress.get("batch_loss"), progress.get("batch_accuracy")
    cols[2].metric("Loss (this epoch)", f"{loss:.4f}" if loss is not None else "–")
    cols[3].metric("Accuracy (this epoch)", f"{acc:.2%}" if acc is not None else "–")
    cols[4].metric("Elapsed", duration_text(progress.get("elapsed_seconds")) if phase != "starting" else "–")
    sources = progress.get("sources") or {}
    if sources:
        parts = " + ".join(f"{n:,} {SOURCE_NAMES.get(name, name)}" for name, n in sources.items())
        st.caption(f"Training on {progress.get('train_samples', sum(sources.values())):,} images: {parts}")

    history = progress.get("history") or []
    if history:
        st.plotly_chart(learning_curves(history), width="stretch", key="live-curves")
    else:
        st.caption("The learning curves appear after the first epoch.")

    allowed = admin_ok()
    if status.get("stop_requested"):
        st.info("Stopping after the current batch: the best weights so far are saved as a *stopped* run.")
        end_now = st.button(
            "Still running? End it now", help="Kills the process; this run's work is lost", disabled=not allowed
        )
        if end_now and admin_ok() and not jobs.kill_job(job_dir):
            st.warning("The job's process is not running (any more): nothing was stopped.")
    else:
        st.button(
            "Stop training",
            icon=":material/stop_circle:",
            on_click=_stop,
            args=(job_dir,),
            disabled=not allowed,
            help="Ends after the current batch and keeps the best weights; the run is not activated",
        )


def _stop(job_dir: Path) -> None:
    if admin_ok():
        jobs.stop_job(job_dir)
    else:
        _flash("error", NOT_ADMIN)


def _activate(run_dir: str, name: str) -> None:
    if not admin_ok():
        _flash("error", NOT_ADMIN)
        return
    try:
        set_active(run_dir)
    except (ModelNotFoundError, OSError) as exc:
        _flash("error", f"Could not activate {name}: {exc}")
    else:
        _flash("success", f"**{name}** is now the active model: the Draw page uses it.")


def _delete(run_dir: str, name: str) -> None:
    if not admin_ok():
        _flash("error", NOT_ADMIN)
        return
    try:
        delete_run(run_dir)
    except (ValueError, ModelNotFoundError, OSError) as exc:
        _flash("error", f"Could not delete {name}: {exc}")
    else:
        _flash("success", f"Deleted {name}.")


def last_outcome() -> None:
    """How the most recent job ended (nothing runs now)."""
    recent = jobs.list_jobs()
    if not recent:
        st.caption("No training job has run yet. Pick a preset above and press **Start training**.")
        return
    last = recent[0]
    job_id, status = last.get("job_id", "?"), last.get("status")
    job_dir = Path(last["job_dir"])
    if status in ("finished", "stopped") and last.get("run_dir"):
        run_dir = Path(last["run_dir"])
        try:
            metrics = read_json(run_dir / "metrics.json")
        except (OSError, ValueError):
            st.warning(f"Last job `{job_id}` {status}, but its run folder {run_dir} is gone.")
            return
        accuracy = f"test accuracy **{metrics.get('test_accuracy', 0):.2%}**"
        pen = metrics.get("pen_holdout_accuracy")
        if pen is not None:
            accuracy += f", pen hold-out (real handwriting) **{pen:.2%}**"
        took = duration_text(metrics.get("training_seconds"))
        if status == "finished":
            st.success(f"Last job `{job_id}` finished in {took}: {accuracy}.")
        else:
            st.info(
                f"Last job `{job_id}` was stopped after {metrics.get('epochs_run', '?')} epoch(s) and kept its "
                f"best weights: {accuracy}. It is not active; activate it if it is good enough."
            )
        history = last.get("progress", {}).get("history") or []
        if history:
            st.plotly_chart(learning_curves(history), width="stretch", key="last-curves")
        try:
            is_active = run_dir.resolve() == active_model_dir().resolve()
        except ModelNotFoundError:
            is_active = False
        if not is_active:
            st.button(
                "Make it the active model",
                on_click=_activate,
                args=(str(run_dir), run_dir.name),
                disabled=not admin_ok(),
            )
    elif status == "failed":
        st.error(f"Last job `{job_id}` failed: {last.get('error') or 'no error was recorded'}")
        tail = last.get("log_tail") or jobs.log_tail(job_dir)
        if tail:
            with st.expander("End of its log", expanded=True):
                st.code(tail, language=None, wrap_lines=True)
    else:
        st.caption(f"Last job `{job_id}`: {status}.")


@st.fragment(run_every=LIVE_REFRESH)
def live_panel(job_dir: Path) -> None:
    current = jobs.current_job()
    if current != job_dir:
        # The job ended (or another one started): redraw the whole page so the outcome, the
        # Start button and the run history all catch up.
        st.rerun(scope="app")
    live_view(job_dir)


@st.fragment(run_every=IDLE_REFRESH)
def idle_watch() -> None:
    # Cheap by design: one look at the job lock. A job started elsewhere brings up the live view.
    if jobs.current_job() is not None:
        st.rerun(scope="app")


# ---------------------------------------------------------------------------------------------
# Run history
# ---------------------------------------------------------------------------------------------


def runs_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Active": [r["active"] for r in rows],
            "Shipped": [r["shipped"] for r in rows],
            "Run": [r["name"] for r in rows],
            "Created": pd.to_datetime([r["created"] for r in rows], errors="coerce"),
            "Architecture": [r["architecture"] for r in rows],
            "Epochs": [r["epochs"] for r in rows],
            "Test accuracy": pd.Series([_pct(r["test_accuracy"]) for r in rows], dtype="float64"),
            "Pen hold-out": pd.Series([_pct(r["pen_holdout_accuracy"]) for r in rows], dtype="float64"),
            "Training time": [duration_text(r["training_seconds"]) for r in rows],
            "Parameters": [r["parameters"] for r in rows],
            "Size (MB)": pd.Series([r["size_bytes"] / 1e6 if r["size_bytes"] else None for r in rows], dtype="float64"),
            "Status": [r["status"] for r in rows],
        }
    )


def _pct(value: float | None) -> float | None:
    return None if value is None else 100 * value


RUN_COLUMNS = {
    "Active": st.column_config.CheckboxColumn("Active", help="The model the Draw page uses", width="small"),
    "Epochs": st.column_config.NumberColumn("Epochs", width="small"),
    "Created": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm"),
    "Test accuracy": st.column_config.NumberColumn(
        "Test accuracy", format="%.2f %%", help="On the 10,000 MNIST test images"
    ),
    "Pen hold-out": st.column_config.NumberColumn(
        "Pen hold-out",
        format="%.2f %%",
        help="Real handwriting: pen digits of writers kept out of training, drawn as on the canvas",
    ),
    "Parameters": st.column_config.NumberColumn("Parameters", format="localized"),
    "Size (MB)": st.column_config.NumberColumn("Size (MB)", format="%.1f"),
    "Shipped": st.column_config.CheckboxColumn("Shipped", help="Ships with the app; cannot be deleted", width="small"),
}


def run_history(job_running: bool) -> None:
    rows = list_runs()
    if not rows:
        st.info("No runs yet.")
        return
    st.dataframe(runs_frame(rows), hide_index=True, column_config=RUN_COLUMNS, width="stretch")

    by_name = {r["name"]: r for r in rows}
    if ss.get("train_pick") not in by_name:
        ss.pop("train_pick", None)  # a deleted run: fall back to the first one

    def label(name: str) -> str:
        row = by_name[name]
        marks = [m for m, on in (("active", row["active"]), ("shipped", row["shipped"])) if on]
        acc = f"{row['test_accuracy']:.2%}" if row["test_accuracy"] is not None else "–"
        return f"{name} · {acc}" + (f" ({', '.join(marks)})" if marks else "")

    pick_col, activate_col, delete_col = st.columns([3, 1, 1], vertical_alignment="bottom")
    name = pick_col.selectbox("Run", list(by_name), format_func=label, key="train_pick")
    row = by_name[name]
    # Callbacks run before the script, so the sidebar (drawn before this page) and the table
    # already show the new state.
    allowed = admin_ok()
    activate_col.button(
        "Activate",
        disabled=row["active"] or not allowed,
        width="stretch",
        key="train_activate",
        on_click=_activate,
        args=(row["path"], name),
    )
    why_not = (
        "it ships with the app"
        if row["shipped"]
        else "it is the active model: activate another one first"
        if row["active"]
        else None
    )
    with delete_col.popover("Delete…", disabled=why_not is not None or not allowed, width="stretch"):
        st.markdown(f"Delete **{name}** and its files for good?")
        st.button("Delete for good", type="primary", key="train_delete", on_click=_delete, args=(row["path"], name))
    if why_not:
        st.caption(f"{name} cannot be deleted: {why_not}.")
    if job_running:
        st.caption("The running job's run appears here when it ends.")


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------

st.title("Train a model")
st.caption(f"Training runs on: **{_device()}** · runs are saved in `{paths.runs_dir()}`")
admin_gate()
if FLASH_KEY in ss:
    kind, message = ss.pop(FLASH_KEY)
    getattr(st, kind)(message)

_init_form()
running_before = jobs.current_job()
pen_available = _pen_digits_available()
corrections = FeedbackStore().count()

st.subheader("New training run")
st.segmented_control(
    "Preset",
    list(PRESETS),
    key=PRESET_KEY,
    on_change=_apply_preset,
    persist_state="session",
    help=PRESET_HELP,
)
with st.container(border=True):
    model_col, reg_col, data_col = st.columns(3, gap="large")
    with model_col:
        st.markdown("##### Model and optimiser")
        model_section()
    with reg_col:
        st.markdown("##### Augmentation and regularisation")
        regularisation_section()
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
start = st.button(
    "Start training",
    type="primary",
    icon=":material/play_arrow:",
    disabled=bool(problems) or running_before is not None or not admin_ok(),
    key="train_start",
)
if running_before is not None:
    st.caption("A training job is running (below): stop it or wait for it to end before starting another.")
if start and not problems and not admin_ok():
    st.error(NOT_ADMIN)
elif start and not problems:
    try:
        job = jobs.start_job(config, data_dir=None)
    except jobs.JobRunningError as exc:
        st.warning(f"A training job is already running (`{exc.job_dir.name}`): it is shown below.")
    except ValueError as exc:
        st.error(str(exc))
    except OSError as exc:
        st.error(f"Could not start the job: {exc}")
    else:
        _flash("success", f"Started job `{job.job_id}`.")
        st.rerun()  # redraw the Start button disabled, with the job below it

st.subheader("Training")
running = jobs.current_job()
if running is not None:
    live_panel(running)
else:
    last_outcome()
    idle_watch()

st.subheader("Runs")
run_history(running is not None)
