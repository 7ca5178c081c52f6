"""The Digit Recognizer library: data, preprocessing, models, training, evaluation, inference.

Never imports streamlit: the app's pages, the CLIs in ``scripts/`` and the tests all call it.

    >>> from recognizer import load_recognizer
    >>> rec = load_recognizer()  # doctest: +SKIP
    >>> rec.predict_drawing(canvas_rgba)  # doctest: +SKIP
    Prediction(digit=7, confidence=0.998..., box=(61, 40, 152, 201))
"""

from recognizer.inference import Prediction, Recognizer, load_recognizer

__all__ = ["Prediction", "Recognizer", "load_recognizer"]
