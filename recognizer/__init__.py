"""The Digit Recognizer library: data, preprocessing, models, training, evaluation, inference.

Never imports streamlit: the app's pages, the CLIs in ``scripts/`` and the tests all call it.

    >>> from recognizer import load_recognizer
    >>> rec = load_recognizer()  # doctest: +SKIP
"""

from recognizer.inference import Recognizer, load_recognizer

__all__ = ["Recognizer", "load_recognizer"]
