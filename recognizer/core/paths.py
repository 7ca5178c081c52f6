"""Where the project keeps things: the shipped models, the user's runs, caches.

The repository's ``models/`` holds the shipped model(s). Everything a user creates (training
runs, corrections, downloaded data) lives in a per-user data directory, never in the repo.

    >>> from recognizer.core import paths
    >>> paths.user_data_dir().name
    'digit-recognizer'

Environment overrides (handy for tests and for servers):
- ``DIGITS_HOME``: the user data directory.
- ``DIGITS_CACHE_DIR``: where downloaded MNIST files are cached.
- ``DIGITS_MODELS_DIR``: the shipped models directory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "digit-recognizer"
# The checkout this library runs from (recognizer/core/paths.py, two packages down): it holds
# ``models/``. ``pip install -e .`` keeps the library here, so the shipped models are found from
# any folder.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _platform_dir(kind: str) -> Path:
    """The OS's conventional per-user folder for ``kind`` ('data' or 'cache')."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local"))
        return base / APP_NAME / ("Cache" if kind == "cache" else "")
    if sys.platform == "darwin":
        sub = "Caches" if kind == "cache" else "Application Support"
        return home / "Library" / sub / APP_NAME
    if kind == "cache":
        return Path(os.environ.get("XDG_CACHE_HOME", home / ".cache")) / APP_NAME
    return Path(os.environ.get("XDG_DATA_HOME", home / ".local" / "share")) / APP_NAME


def user_data_dir() -> Path:
    """The per-user folder for runs, corrections and the user's active-model choice."""
    override = os.environ.get("DIGITS_HOME")
    return Path(override) if override else _platform_dir("data")


def runs_dir() -> Path:
    """Where training runs started by this user are written."""
    return user_data_dir() / "runs"


def cache_dir() -> Path:
    """Where downloaded datasets are cached."""
    override = os.environ.get("DIGITS_CACHE_DIR")
    return Path(override) if override else _platform_dir("cache")


def shipped_models_dir() -> Path:
    """The repository's ``models/`` folder (the model that works on first start, offline)."""
    override = os.environ.get("DIGITS_MODELS_DIR")
    return Path(override) if override else PROJECT_ROOT / "models"
