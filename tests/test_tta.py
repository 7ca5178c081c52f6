"""Test-time augmentation (recognizer.reading.views)."""

from __future__ import annotations

import numpy as np

from recognizer.reading.views import READ_VIEWS_BELOW, VIEWS, scores_with_views, tta_proba, views


def test_first_view_is_the_image_and_the_others_turn_or_scale_it(rng):
    images = np.zeros((3, 28, 28), np.float32)
    images[:, 6:22, 12:16] = 1.0  # an upright bar
    out = views(images)
    assert out.shape == (len(VIEWS), 3, 28, 28)
    np.testing.assert_allclose(out[0], images, atol=1e-6)
    for view, (_, scale) in zip(out[1:], VIEWS[1:], strict=True):
        assert not np.allclose(view, images)
        # turning keeps the ink; scaling changes its amount by about scale squared
        assert abs(view.sum() / images.sum() - scale**2) < 0.06


def test_tta_probabilities_average_the_views(tiny_run, mnist):
    from recognizer.reading.recognizer import load_recognizer

    rec = load_recognizer(tiny_run, number_reader=False)
    x = mnist[1][0][:20]
    one_view = tta_proba(rec, x, ((0.0, 1.0),))
    np.testing.assert_allclose(one_view, rec.predict_proba(x, views=False), atol=1e-6)
    averaged = tta_proba(rec, x)
    manual = np.mean([rec.predict_proba(v, views=False) for v in views(x.astype(np.float32) / 255)], axis=0)
    np.testing.assert_allclose(averaged, manual, atol=1e-6)
    np.testing.assert_allclose(averaged.sum(axis=1), 1.0, rtol=1e-5)


def test_evaluate_cli_reports_tta(tiny_run, capsys, mnist, pen_path):
    from test_scripts import load_script

    assert load_script("evaluate").main(["--model", str(tiny_run), "--tta"]) == 0
    out = capsys.readouterr().out
    assert "mnist:" in out and "pen_holdout:" in out and "5-view test-time augmentation" in out


def _bars(count: int) -> np.ndarray:
    """Upright bars of growing length: model input (N, 28, 28, 1)."""
    x = np.zeros((count, 28, 28, 1), np.float32)
    for i in range(count):
        x[i, 4 : 8 + 2 * i, 12:16] = 1.0
    return x


def _score_by_ink(x: np.ndarray) -> np.ndarray:
    """A stand-in network: sure of 1 for much ink, unsure (0.6) for little; 11 classes."""
    ink = x.reshape(len(x), -1).sum(axis=1)
    sure = np.clip(ink / 60.0, 0.0, 1.0)
    scores = np.zeros((len(x), 11), np.float32)
    scores[:, 1] = 0.6 + 0.4 * sure
    scores[:, 7] = 0.4 - 0.4 * sure
    return scores


def test_views_replace_only_the_unsure_answers_with_their_mean_over_every_view():
    x = _bars(8)
    calls = []

    def score(batch):
        calls.append(len(batch))
        return _score_by_ink(batch)

    plain = _score_by_ink(x)
    unsure = plain[:, 1] < READ_VIEWS_BELOW
    assert unsure.any() and not unsure.all()
    out = scores_with_views(score, x)
    np.testing.assert_array_equal(out[~unsure], plain[~unsure])  # a sure answer is the network's own
    every_view = views(x[unsure, ..., 0])[..., None]
    expected = np.mean([_score_by_ink(v) for v in every_view], axis=0)
    np.testing.assert_allclose(out[unsure], expected, atol=1e-6)
    assert calls == [8, (len(VIEWS) - 1) * int(unsure.sum())]  # the other views only for the unsure


def test_a_recognizer_reads_unsure_images_in_every_view_and_sure_ones_once(tiny_run, mnist):
    from recognizer.reading.recognizer import Recognizer, load_recognizer

    tiny = load_recognizer(tiny_run, number_reader=False)  # one epoch on a few hundred images: unsure
    x = mnist[1][0][:200]
    plain = tiny.predict_proba(x, views=False)
    rec = Recognizer(tiny.model, tiny.run_dir, views_below=float(np.median(plain.max(axis=1))))
    unsure = plain.max(axis=1) < rec.views_below
    assert 0 < unsure.sum() < len(x)
    read = rec.predict_proba(x)
    np.testing.assert_allclose(read[~unsure], plain[~unsure], atol=1e-6)
    np.testing.assert_allclose(read[unsure], tta_proba(rec, x[unsure]), atol=1e-5)
    # A drawing's answer is read the same way (the TFLite path included).
    drawing = np.zeros((280, 280, 4), np.uint8)
    drawing[60:220, 130:150, 3] = 255
    prediction = rec.predict_drawing(drawing)
    np.testing.assert_allclose(prediction.probabilities, rec.predict_proba(prediction.input[None])[0], atol=1e-5)
    from recognizer.nets.convert import to_tflite

    lite = Recognizer(tiny.model, tiny.run_dir, lite_model=to_tflite(tiny.model), views_below=rec.views_below)
    np.testing.assert_allclose(lite.predict_drawing(drawing).probabilities, prediction.probabilities, atol=1e-5)
