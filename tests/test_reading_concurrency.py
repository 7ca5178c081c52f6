"""One Recognizer shared by every visitor: answers read from several threads at once are the
answers read one after another.

The server answers each visitor in a thread of its own, all with the one cached recognizer (its
TFLite copy for single drawings, Keras for batches, the strip reader for numbers).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from recognizer import load_recognizer
from recognizer.data.compose import SPACED_GAPS, TOUCHING_GAPS, sample_numbers
from recognizer.data.pen import random_rendering, writer_split

THREADS = 4
ROUNDS = 3  # each thread reads every drawing this many times, in its own order


@pytest.fixture(scope="module")
def shared():
    """The shipped model as the app holds it: read with LiteRT, with the strip reader."""
    from recognizer.core.runs import shipped_active_dir

    return load_recognizer(shipped_active_dir())


@pytest.fixture(scope="module")
def work(pen):
    """(method name, argument) pairs: what visitors ask of the recognizer."""
    held = pen.subset(writer_split(pen)[1])
    rng = np.random.default_rng(3)
    drawings = [random_rendering(held.strokes(i), rng) for i in range(0, 60, 10)]
    numbers = [n.image for gaps in (SPACED_GAPS, TOUCHING_GAPS) for n in sample_numbers(held, 2, 3, gaps, seed=4)]
    photo = np.dstack([255 - numbers[0][..., 3] // 2] * 3)  # grey ink on white paper
    return (
        [("predict_drawing", d) for d in drawings]
        + [("predict_drawings", drawings)]
        + [("read_number", n) for n in numbers]
        + [("read_photo", photo)]
    )


def _answers(rec, method: str, argument) -> list:
    found = getattr(rec, method)(argument)
    return found if isinstance(found, list) else [found]


def _assert_same(got: list, expected: list, what: str) -> None:
    assert [(p.digit, p.box, p.is_digit) for p in got] == [(p.digit, p.box, p.is_digit) for p in expected], what
    for p, q in zip(got, expected, strict=True):
        np.testing.assert_allclose(p.probabilities, q.probabilities, atol=1e-5, err_msg=what)


def test_threads_sharing_one_recognizer_get_the_answers_of_sequential_calls(shared, work):
    expected = [_answers(shared, method, argument) for method, argument in work]
    assert all(expected) and any(len(e) >= 3 for e in expected)  # numbers were read, not nothing
    start = threading.Barrier(THREADS)

    def visitor(k: int) -> list[tuple[int, list]]:
        order = np.random.default_rng(k).permutation(len(work) * ROUNDS) % len(work)
        start.wait()  # all threads call at once
        return [(int(i), _answers(shared, *work[i])) for i in order]

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(visitor, range(THREADS)))
    for k, answers in enumerate(results):
        assert len(answers) == len(work) * ROUNDS
        for i, got in answers:
            _assert_same(got, expected[i], f"thread {k}: {work[i][0]} #{i}")
