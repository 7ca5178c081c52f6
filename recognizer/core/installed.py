"""What this install holds: a serving install (requirements-serve.txt) leaves TensorFlow out.

>>> isinstance(tensorflow_installed(), bool)
True
"""

from __future__ import annotations

import importlib.util


def tensorflow_installed() -> bool:
    """Whether TensorFlow can be imported here: training, gradients and conversion need it, reading
    with LiteRT does not. Found without importing it (an import takes seconds)."""
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):  # a finder that refuses it, as a serving check's does
        return False
