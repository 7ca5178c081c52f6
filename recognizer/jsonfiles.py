"""Where ``read_json_or`` used to live: it is in ``recognizer.storage`` now, beside ``read_json``.

Only ``app_pages/cached.py`` still imports it from here; this module goes when that import moves.
"""

from recognizer.storage import read_json_or as read_json_or  # noqa: F401 -- re-exported for app_pages/cached.py
