"""How many threads a LiteRT pass uses: a server's setting (``DIGITS_LITE_THREADS``), the same
answers whatever it is."""

from __future__ import annotations

import numpy as np
import pytest

from recognizer.core.runs import LITERT_FILE, shipped_active_dir
from recognizer.reading import lite
from recognizer.reading.lite import LITE_THREADS, THREADS_ENV, load_lite_model


@pytest.mark.parametrize(
    ("setting", "threads"),
    [
        (None, LITE_THREADS),
        ("1", 1),
        ("2", 2),
        (" 3 ", 3),
        ("0", LITE_THREADS),
        ("-2", LITE_THREADS),
        ("two", LITE_THREADS),
        ("", LITE_THREADS),
        ("1.5", LITE_THREADS),
        ("999", LITE_THREADS),
    ],
)
def test_the_setting_is_read_and_a_bad_one_falls_back_to_the_default(monkeypatch, setting, threads):
    if setting is None:
        monkeypatch.delenv(THREADS_ENV, raising=False)
    else:
        monkeypatch.setenv(THREADS_ENV, setting)
    assert lite.lite_threads() == threads


def test_a_model_loaded_under_the_setting_runs_on_it_and_answers_the_same(monkeypatch, mnist):
    path = shipped_active_dir() / LITERT_FILE
    x = (mnist[1][0][:64, ..., None] / 255).astype(np.float32)
    answers = {}
    for threads in (1, 2):
        monkeypatch.setenv(THREADS_ENV, str(threads))
        model = load_lite_model(path)
        assert model.threads == threads
        answers[threads] = model.run(x)
    for one, two in zip(answers[1], answers[2], strict=True):
        np.testing.assert_allclose(one, two, atol=1e-5)
    assert load_lite_model(path, threads=3).threads == 3
