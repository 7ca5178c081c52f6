"""The strip reader (recognizer/nets/strip.py, recognizer/reading/strip_reader.py) and its training
numbers (recognizer/training/number_reader.py); its LiteRT files: tests/test_strip_litert.py."""

from __future__ import annotations

import numpy as np
import pytest

from recognizer.nets.strip import (
    BAND,
    BLANK,
    INK_HEIGHT,
    MARGIN,
    STRIP_HEIGHT,
    build_sequence_model,
    ctc_loss,
    strip_from_ink,
)
from recognizer.reading.segment import Piece
from recognizer.reading.strip_reader import (
    Reading,
    blended,
    ctc_log_likelihood,
    cut_columns,
    cut_reading,
    greedy_read,
    reconcile,
    settled,
    source_x,
)
from recognizer.training.number_reader import NumberReaderConfig, random_variation, strip_batches, training_strips


def _bars(columns: list[int], height: int = 200, width: int = 800) -> np.ndarray:
    ink = np.zeros((height, width), np.float32)
    for x in columns:
        ink[40:160, x : x + 12] = 1.0
    return ink


def test_strip_is_the_ink_scaled_to_the_strip_height_and_maps_back_to_source_columns():
    strip, origin = strip_from_ink(_bars([100, 400]))
    assert strip.shape[0] == STRIP_HEIGHT and strip.shape[1] % BAND == 0
    rows = np.flatnonzero(strip.max(axis=1) > 0.5)
    assert rows[-1] - rows[0] + 1 == INK_HEIGHT
    left, top, scale = origin
    assert (left, top) == (100, 40) and scale == pytest.approx(INK_HEIGHT / 120, rel=0.02)
    # The second bar's strip columns map back onto its source columns.
    inked = np.flatnonzero(strip.max(axis=0) > 0.5)
    second = inked[inked > strip.shape[1] / 2]
    assert 395 <= source_x(second[0] / BAND - 0.5, origin) <= 415


def test_blank_ink_has_no_strip():
    assert strip_from_ink(np.zeros((50, 50), np.float32)) is None


def _logits(path: list[int], steps: int | None = None) -> np.ndarray:
    logits = np.full((steps or len(path), BLANK + 1), -5.0, np.float32)
    for t, k in enumerate(path):
        logits[t, k] = 5.0
    return logits


def test_greedy_read_merges_repeats_and_lets_a_blank_separate_equal_digits():
    reading = greedy_read(_logits([BLANK, 1, 1, BLANK, 1, 7, 7, 7, BLANK, BLANK, 0]))
    assert reading.digits == [1, 1, 7, 0]
    assert reading.bands == [(1, 2), (4, 4), (5, 7), (10, 10)]
    assert np.allclose(reading.posteriors.sum(axis=1), 1.0)


def test_ctc_loss_is_low_for_the_written_digits_and_high_for_others():
    logits = _logits([BLANK, 3, BLANK, 8, BLANK, 8, BLANK])[None]
    right = float(ctc_loss(np.array([[3, 8, 8, -1]]), logits)[0])
    wrong = float(ctc_loss(np.array([[3, 8, -1, -1]]), logits)[0])
    assert right < 0.5 < 5 < wrong


def test_the_model_reads_any_width_one_step_per_band():
    model = build_sequence_model()
    for width in (16, 96):
        out = model(np.zeros((2, STRIP_HEIGHT, width, 1), np.float32))
        assert tuple(out.shape) == (2, width // BAND, BLANK + 1)


def test_blended_multiplies_the_digit_probabilities_and_keeps_not_a_digit():
    scores = np.array([0.5, 0.3, *[0.0] * 8, 0.2], np.float32)
    posterior = np.array([0.1, 0.9, *[0.0] * 8], np.float32)
    out = blended(scores, posterior)
    assert out.argmax() == 1 and out[BLANK] == pytest.approx(0.2) and out.sum() == pytest.approx(1.0)


def _reading(digits: list[int], bands: list[tuple[int, int]], steps: int) -> Reading:
    path = [BLANK] * steps
    for d, (a, b) in zip(digits, bands, strict=True):
        path[a : b + 1] = [d] * (b - a + 1)
    return greedy_read(_logits(path))


def _piece(digit: int, x: int) -> Piece:
    scores = np.full(11, 0.01, np.float32)
    scores[digit] = 0.9
    return Piece(np.zeros((28, 28), np.float32), (x, 40, 12, 120), scores)


def test_reconcile_keeps_agreeing_pieces_and_blends_when_only_the_digits_differ():
    ink = _bars([100, 400])
    found = (_reading([1, 4], [(2, 2), (20, 20)], 30), strip_from_ink(ink)[1])
    pieces = [_piece(1, 100), _piece(7, 400)]
    assert reconcile([_piece(1, 100), _piece(4, 400)], found, None)[1].scores[4] == pytest.approx(0.9)
    # The strip reader is sure of 4, the classifier less sure of 7: both readings count.
    mixed = reconcile(pieces, found, None)
    assert [int(p.scores[:BLANK].argmax()) for p in mixed] == [1, 4]
    assert [p.box for p in mixed] == [p.box for p in pieces]


def test_reconcile_cuts_where_the_strip_reader_sees_more_digits():
    ink = _bars([100, 160])  # two strokes the segmenter took for one digit
    strip, origin = strip_from_ink(ink)
    first, second = [int((x - 100) * origin[2] + MARGIN) // BAND for x in (105, 165)]
    found = (_reading([1, 1], [(first, first), (second, second)], strip.shape[1] // BAND), origin)
    columns = cut_columns(ink, found[0], origin)
    assert len(columns) == 1 and 112 <= columns[0] <= 160

    def classify(images):  # each piece surely a 1
        return np.stack([np.eye(11, dtype=np.float32)[1] * 0.95 + 0.005] * len(images))

    cut = cut_reading(ink, found, classify)
    assert settled(cut, found)
    merged = [Piece(np.zeros((28, 28), np.float32), (100, 40, 72, 120), _piece(4, 0).scores)]
    pieces = reconcile(merged, found, cut)
    assert [int(p.scores[:BLANK].argmax()) for p in pieces] == [1, 1]
    assert pieces[0].box[0] == 100 and pieces[1].box[0] == 160


def test_training_numbers_are_strips_with_their_digits(pen):
    images = np.zeros((20, 28, 28), np.uint8)
    images[:, 4:24, 12:16] = 255
    strips, texts = training_strips(pen, images, np.ones(20, np.int64), 30, seed=3)
    assert len(strips) == len(texts) == 30
    assert all(s.shape[0] == STRIP_HEIGHT and 1 <= len(t) <= 10 for s, t in zip(strips, texts, strict=True))
    batches = strip_batches(strips, texts, batch_size=8)
    assert sum(len(x) for x, _ in batches) == 30
    for x, y in batches:
        assert x.shape[1:] == (STRIP_HEIGHT, x.shape[2], 1) and ((y >= 0).sum(axis=1) >= 1).all()


def test_varied_training_numbers_vary_as_people_do(pen):
    strips, texts = training_strips(
        pen, np.zeros((1, 28, 28), np.uint8), np.ones(1), 60, seed=4, pen_share=1, varied_share=1
    )
    assert all(s.shape[0] == STRIP_HEIGHT and 1 <= len(t) <= 10 for s, t in zip(strips, texts, strict=True))
    rng = np.random.default_rng(0)
    variations = [random_variation(rng, 4) for _ in range(200)]
    assert all(v.lengths == (4, 4) and not v.problems() for v in variations)
    for axis in ("slant", "mixed_writers", "own_brush", "drift"):
        share = np.mean([bool(getattr(v, axis)) for v in variations])
        assert 0.3 < share < 0.7, axis  # each axis on about half the time
    assert {v.gaps for v in variations} == {(-8.0, 60.0), (-8.0, 8.0)}


def test_number_reader_config_names_its_problems():
    assert NumberReaderConfig().problems() == []
    assert len(NumberReaderConfig(samples=5, epochs=0, learning_rate=1.0, pen_share=2).problems()) == 4
    assert NumberReaderConfig(varied_share=1.5).problems() == ["varied_share must be in [0, 1]"]


def _script():
    from recognizer.cli import train_reader

    return train_reader


def test_the_script_trains_a_reader_and_says_how_it_was_made(tmp_path, capsys, mnist, pen_path, run_cli):
    import json

    out = tmp_path / "reader"
    args = ["--samples", "200", "--epochs", "1", "--held-out-numbers", "5", "--out", str(out)]
    assert run_cli("train_reader", args) == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["made_by"].endswith("--out " + str(out))
    assert set(metrics["held_out_exact"]) == {"touching, 4 digits", "spaced, 4 digits"}
    assert json.loads((out / "config.json").read_text())["samples"] == 200
    from recognizer.nets.strip import reader_files_fresh
    from recognizer.reading.strip_reader import load_strip_reader

    assert reader_files_fresh(out, out / "model.keras")  # the LiteRT files the app reads come with it
    found = load_strip_reader(out).read(np.pad(np.ones((40, 8), np.float32), 20))
    assert found is not None and all(0 <= d <= 9 for d in found[0].digits)
    assert not list(tmp_path.glob(".*partial"))


def test_bad_settings_are_refused_before_any_work(tmp_path, capsys):
    assert _script().main(["--epochs", "0", "--out", str(tmp_path / "r")]) == 2
    assert "epochs must be 1-100" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_ctc_log_likelihood_sums_every_path_that_spells_the_digits():
    import itertools

    posteriors = np.random.default_rng(0).dirichlet(np.full(BLANK + 1, 0.5), size=4)

    def spelled(path):
        out, previous = [], None
        for k in path:
            if k != BLANK and k != previous:
                out.append(k)
            previous = k
        return out

    for digits in ([3], [3, 3], [1, 2]):
        paths = [p for p in itertools.product(range(BLANK + 1), repeat=4) if spelled(p) == digits]
        brute = np.log(sum(np.prod([posteriors[t, k] for t, k in enumerate(p)]) for p in paths))
        assert ctc_log_likelihood(posteriors, digits) == pytest.approx(brute)
