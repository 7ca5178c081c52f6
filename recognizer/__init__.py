"""The Digit Recognizer library, in layers: each imports only its own layer or lower ones.

    core        paths, storage, units, preprocess, classes, runs, figures
    data        MNIST, pen strokes and their rendering, styles, composed numbers, negatives, corrections
    nets        the networks: classifiers, the strip reader's network, TFLite conversion
    reading     the Recognizer: digits, numbers, photos, views, teaching, "Not sure"
    evaluation  metrics, stored answers, hold-outs, calibration, saliency, reports, comparison
    training    config and presets, datasets, augmentation, the loop, ensembles, export
    ops         background jobs, pausing them for visitors, who may change models, timing
    cli         the command-line tools

Never imports streamlit: the app's pages, the command-line tools and the tests all call it.
docs/architecture.md says why the layers are cut this way; pyproject.toml holds the contract.

    >>> from recognizer import load_recognizer
    >>> rec = load_recognizer()  # doctest: +SKIP
    >>> rec.predict_drawing(canvas_rgba)  # doctest: +SKIP
    Prediction(digit=7, confidence=0.998..., box=(61, 40, 152, 201))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Prediction", "Recognizer", "load_recognizer"]

if TYPE_CHECKING:
    from recognizer.reading.recognizer import Prediction, Recognizer, load_recognizer


def __getattr__(name: str) -> Any:
    # Resolved on first use, so importing a low layer (``recognizer.core.paths``) does not load
    # the reading layer too.
    if name in __all__:
        from recognizer.reading import recognizer

        return getattr(recognizer, name)
    raise AttributeError(f"module 'recognizer' has no attribute {name!r}")
