"""Held-out writers' 1s that a model reads as another digit: corrections to teach (test helper)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

CANVAS = 280


def misread_ones(pen, rec, brush: float = 18, height: float = 0.65 * CANVAS) -> Iterator[tuple[list, object]]:
    """(strokes, prediction) of held-out 1s, written each way people write a 1 (``styles.VARIANTS``),
    that ``rec`` reads as another digit when drawn ``height`` px high with ``brush``."""
    from recognizer.data.pen import render_digit, writer_split
    from recognizer.data.styles import VARIANTS, styled

    _, held = writer_split(pen)
    for variant, (digit, _) in VARIANTS.items():
        if digit != 1:
            continue
        rng = np.random.default_rng(0)
        for i in held[pen.labels[held] == 1]:
            strokes = styled(pen.strokes(int(i)), variant, rng)
            prediction = rec.predict_drawing(render_digit(strokes, brush=brush, height=height))
            if prediction is not None and prediction.digit != 1:
                yield strokes, prediction
