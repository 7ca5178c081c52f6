"""Run folders and which model is active.

A run folder holds ``model.keras``, ``config.json``, ``history.json``, ``metrics.json``,
``misclassified.json`` and ``test_probabilities.npz``; ``write_run_folder`` assembles one under a
hidden name and renames it when complete. The shipped runs live in the repo's ``models/``, whose ``active.json``
names the default model; a user's own runs live in the user data dir, and a user's choice of
active model is ``<user data dir>/active.json``, which wins over the shipped default. Activating
a run writes only that pointer: the repo's tracked ``models/active.json`` is never rewritten.

    >>> from recognizer.core.runs import active_model_dir
    >>> (active_model_dir() / "model.keras").is_file()  # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from recognizer.core import paths
from recognizer.core.storage import read_json, read_json_or, write_json_atomic

ACTIVE_FILE = "active.json"
NUMBER_READER_KIND = "number_reader"  # metrics.json "kind" of a strip reader (recognizer.reading.strip_reader)
MODEL_FILE = "model.keras"
BATCHES_FILE = "batches.json"  # the training curve within epochs (recognizer.training.batch_curves)
LITERT_FILE = "model.tflite"  # the model read with LiteRT (scores and features), stamped by model.keras's hash
PROBABILITIES_FILE = "test_probabilities.npz"  # every MNIST test probability of the run, float16
MISCLASSIFIED_FILE = "misclassified.json"  # the MNIST test images the run gets wrong
PARTIAL_SUFFIX = ".partial"  # a run being assembled: ".<name>.partial", renamed to "<name>" when complete
DELETING_PREFIX = ".deleting-"  # a run being deleted: renamed first, then removed
# A save takes seconds, so a partial folder untouched this long belongs to a writer that died.
STALE_PARTIAL_SECONDS = 3600


class ModelNotFoundError(FileNotFoundError):
    """No usable model at the given or active location; the message says what to do."""


def _user_choice() -> Path | None:
    """The run named by the user's pointer: ``{"path": run folder}`` or ``{"shipped": model name}``."""
    pointer = paths.user_data_dir() / ACTIVE_FILE
    if not pointer.is_file():
        return None
    try:
        choice = read_json(pointer)
        chosen = _shipped_by_name(choice["shipped"]) if "shipped" in choice else Path(choice["path"])
    except (ValueError, KeyError, TypeError, OSError):
        return None  # an unreadable choice falls back to the shipped default
    return chosen if chosen is not None and (chosen / MODEL_FILE).is_file() else None


def _shipped_by_name(name) -> Path | None:
    # Only a plain folder name inside models/: a pointer never leads elsewhere through "..".
    if not isinstance(name, str) or not name or name != Path(name).name or name.startswith("."):
        return None
    return paths.shipped_models_dir() / name


def shipped_active_dir() -> Path:
    """The model the repo ships as the default (named by ``models/active.json``)."""
    models = paths.shipped_models_dir()
    try:
        name = read_json(models / ACTIVE_FILE)["model"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelNotFoundError(f"{models / ACTIVE_FILE} is missing or unreadable ({exc})") from exc
    return models / name


def active_model_dir() -> Path:
    """The run folder of the active model: the user's choice, else the shipped default."""
    return _user_choice() or shipped_active_dir()


def is_shipped(run_dir: str | os.PathLike) -> bool:
    """Whether ``run_dir`` is one of the repo's shipped models."""
    return Path(run_dir).resolve().parent == paths.shipped_models_dir().resolve()


def set_active(run_dir: str | os.PathLike) -> None:
    """Make ``run_dir`` the active model by writing the user's pointer, atomically.

    Only the user data dir's ``active.json`` changes, never the repo's ``models/active.json``
    (a tracked file, the same for everyone). Choosing the shipped default removes the user's
    pointer, so a later release's default takes over; another shipped model is remembered by
    name, a user's run by its path.
    """
    run_dir = Path(run_dir).resolve()
    if not (run_dir / MODEL_FILE).is_file():
        raise ModelNotFoundError(f"{run_dir} holds no {MODEL_FILE}")
    pointer = paths.user_data_dir() / ACTIVE_FILE
    if not is_shipped(run_dir):
        write_json_atomic(pointer, {"path": str(run_dir)})
        return
    try:
        is_default = run_dir == shipped_active_dir().resolve()
    except ModelNotFoundError:
        is_default = False
    if is_default:
        pointer.unlink(missing_ok=True)
    else:
        write_json_atomic(pointer, {"shipped": run_dir.name})


def _number(value) -> float | None:
    """A metric as a number; None for anything else (a hand-edited or damaged metrics file)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _run_row(run_dir: Path, active: Path | None) -> dict | None:
    metrics = read_json_or(run_dir / "metrics.json")
    if not isinstance(metrics, dict):  # missing, damaged, or not an object: not a run to list
        return None
    if metrics.get("kind") == NUMBER_READER_KIND:  # the strip reader is no digit classifier to activate
        return None
    epochs, parameters, size = (_number(metrics.get(k)) for k in ("epochs_run", "parameter_count", "model_file_bytes"))
    return {
        "name": run_dir.name,
        "path": str(run_dir),
        "created": metrics.get("created") if isinstance(metrics.get("created"), str) else None,
        "architecture": str(metrics.get("architecture", "?")),
        "epochs": None if epochs is None else int(epochs),
        "test_accuracy": _number(metrics.get("test_accuracy")),
        "pen_holdout_accuracy": _number(metrics.get("pen_holdout_accuracy")),
        "not_digit": metrics.get("not_digit") if isinstance(metrics.get("not_digit"), dict) else None,
        "training_seconds": _number(metrics.get("training_seconds")),
        "parameters": None if parameters is None else int(parameters),
        "size_bytes": None if size is None else int(size),
        "status": str(metrics.get("status", "finished")),
        "shipped": is_shipped(run_dir),
        "active": active is not None and run_dir.resolve() == active.resolve(),
    }


def list_runs(runs_dir: str | os.PathLike | None = None) -> list[dict]:
    """Every complete run (shipped and the user's), newest first, as table rows.

    Only folders holding a model and its metrics count: a run being written (hidden temp
    folder) or half-deleted never shows up.
    """
    folders = [paths.shipped_models_dir(), Path(runs_dir) if runs_dir is not None else paths.runs_dir()]
    try:
        active = active_model_dir()
    except ModelNotFoundError:
        active = None
    rows = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for run_dir in folder.iterdir():
            if run_dir.name.startswith(".") or not (run_dir / MODEL_FILE).is_file():
                continue
            row = _run_row(run_dir, active)
            if row is not None:
                rows.append(row)
    return sorted(rows, key=lambda r: r["created"] or "", reverse=True)


def delete_run(run_dir: str | os.PathLike) -> None:
    """Delete a user's run. Refuses the active model and the shipped ones (``ValueError``)."""
    import shutil
    import uuid

    run_dir = Path(run_dir).resolve()
    if is_shipped(run_dir):
        raise ValueError(f"{run_dir.name} ships with the app and cannot be deleted")
    try:
        active = active_model_dir().resolve()
    except ModelNotFoundError:
        active = None
    if run_dir == active:
        raise ValueError(f"{run_dir.name} is the active model: activate another one first")
    if not (run_dir / MODEL_FILE).is_file():
        raise ModelNotFoundError(f"{run_dir} is not a run folder")
    # Hide it first (one rename), so a crash mid-delete never leaves a half run in the list.
    doomed = run_dir.with_name(f"{DELETING_PREFIX}{run_dir.name}-{uuid.uuid4().hex[:6]}")
    run_dir.rename(doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def write_run_folder(runs_dir: str | os.PathLike, name: str, write: Callable[[Path], None]) -> Path:
    """Assemble the run ``runs_dir/name``: ``write(folder)`` fills a hidden partial folder, renamed when complete.

    So a crashed or stopped writer never leaves a half-written run in the list (``sweep_leftovers``
    removes its partial folder later). Returns the finished folder.
    """
    import shutil

    final = Path(runs_dir) / name
    partial = Path(runs_dir) / f".{name}{PARTIAL_SUFFIX}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        write(partial)
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def sweep_leftovers(
    runs_dir: str | os.PathLike,
    dead_writers: Iterable[str] = (),
    max_age: float = STALE_PARTIAL_SECONDS,
) -> list[str]:
    """Remove what killed writers left in ``runs_dir``; return the names removed.

    Half-deleted runs always go. A partial run goes when its writer is known to be gone
    (``dead_writers``: run names of jobs that no longer run) or when nothing in it changed for
    ``max_age`` seconds (a terminal ``digits-train`` killed while saving). The caller makes
    sure no live job writes here (``recognizer.ops.jobs`` holds the job lock while it sweeps).
    """
    import shutil

    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    dead = {f".{name}{PARTIAL_SUFFIX}" for name in dead_writers}
    removed = []
    for folder in runs_dir.iterdir():
        if not folder.is_dir() or not folder.name.startswith("."):
            continue
        deleting = folder.name.startswith(DELETING_PREFIX)
        partial = folder.name.endswith(PARTIAL_SUFFIX)
        if deleting or (partial and (folder.name in dead or _idle_seconds(folder) > max_age)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return sorted(removed)


def _idle_seconds(folder: Path) -> float:
    """Seconds since anything in ``folder`` (the folder or a file directly in it) was modified."""
    import time

    try:
        newest = max([folder.stat().st_mtime, *(p.stat().st_mtime for p in folder.iterdir())])
    except OSError:
        return 0.0  # changing under us: someone is at work here
    return time.time() - newest


def model_file_of(run_dir: Path) -> Path:
    """The run's ``model.keras``; ``ModelNotFoundError`` when it holds none."""
    model_file = Path(run_dir) / MODEL_FILE
    if not model_file.is_file():
        raise ModelNotFoundError(f"{run_dir} holds no {MODEL_FILE}")
    return model_file


# A run's folder name: letters, digits, '.', '_' and '-', never hidden (a leading '.' marks a
# partial or deleted run) and never a path.
NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_run_name(name: str) -> None:
    """``ValueError`` unless ``name`` may name a run folder (``NAME_OK``)."""
    if not isinstance(name, str) or not NAME_OK.match(name):
        raise ValueError(f"run name must be letters, digits, '.', '_' or '-' (not starting with '.'), got {name!r}")
