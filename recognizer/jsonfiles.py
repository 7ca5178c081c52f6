"""Reading JSON files that may be missing, half-written by hand or damaged: a default instead of an error.

Writing goes through ``recognizer.storage`` (atomic); this is the forgiving read beside its strict
``read_json``, for files a page or a report can do without.

    >>> read_json_or("/no/such/file.json", {})
    {}
"""

from __future__ import annotations

import os
from typing import Any

from recognizer.storage import read_json


def read_json_or(path: str | os.PathLike, default: Any = None) -> Any:
    """The JSON in ``path``; ``default`` when it is missing or unreadable, or not of ``default``'s type.

    The type check means ``read_json_or(path, {})`` always gives a dict, whatever the file holds.
    """
    try:
        found = read_json(path)
    except (OSError, ValueError):
        return default
    if default is not None and not isinstance(found, type(default)):
        return default
    return found
