"""What this install and machine hold: a serving install (requirements-serve.txt) leaves TensorFlow
out, and the cores this process may run on decide how work is shared out.

>>> isinstance(tensorflow_installed(), bool)
True
>>> usable_cpus() >= 1
True
"""

from __future__ import annotations

import importlib.util
import os


def tensorflow_installed() -> bool:
    """Whether TensorFlow can be imported here: training, gradients and conversion need it, reading
    with LiteRT does not. Found without importing it (an import takes seconds)."""
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):  # a finder that refuses it, as a serving check's does
        return False


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the system tells, else the count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
