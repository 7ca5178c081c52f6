"""Run folders and which model is active.

A run folder holds ``model.keras``, ``config.json``, ``history.json``, ``metrics.json`` and
``misclassified.json``. The shipped runs live in the repo's ``models/``, whose ``active.json``
names the default model; a user's own runs live in the user data dir, and a user's choice of
active model is ``<user data dir>/active.json``, which wins over the shipped default.

    >>> from recognizer.runs import active_model_dir
    >>> (active_model_dir() / "model.keras").is_file()  # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
from pathlib import Path

from recognizer import paths
from recognizer.storage import read_json, write_json_atomic

ACTIVE_FILE = "active.json"
MODEL_FILE = "model.keras"


class ModelNotFoundError(FileNotFoundError):
    """No usable model at the given or active location; the message says what to do."""


def _user_choice() -> Path | None:
    pointer = paths.user_data_dir() / ACTIVE_FILE
    if not pointer.is_file():
        return None
    try:
        chosen = Path(read_json(pointer)["path"])
    except (ValueError, KeyError, TypeError, OSError):
        return None  # an unreadable choice falls back to the shipped default
    return chosen if (chosen / MODEL_FILE).is_file() else None


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
    """Make ``run_dir`` the active model, atomically.

    A shipped model becomes the repo default (and clears the user's override so it takes
    effect); any other run becomes the user's choice.
    """
    run_dir = Path(run_dir).resolve()
    if not (run_dir / MODEL_FILE).is_file():
        raise ModelNotFoundError(f"{run_dir} holds no {MODEL_FILE}")
    if is_shipped(run_dir):
        write_json_atomic(paths.shipped_models_dir() / ACTIVE_FILE, {"model": run_dir.name})
        (paths.user_data_dir() / ACTIVE_FILE).unlink(missing_ok=True)
    else:
        write_json_atomic(paths.user_data_dir() / ACTIVE_FILE, {"path": str(run_dir)})
