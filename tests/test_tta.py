"""Test-time augmentation (recognizer.tta)."""

from __future__ import annotations

import numpy as np

from recognizer.tta import VIEWS, tta_proba, views


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
    from recognizer.inference import load_recognizer

    rec = load_recognizer(tiny_run, number_reader=False)
    x = mnist[1][0][:20]
    one_view = tta_proba(rec, x, ((0.0, 1.0),))
    np.testing.assert_allclose(one_view, rec.predict_proba(x), atol=1e-6)
    averaged = tta_proba(rec, x)
    manual = np.mean([rec.predict_proba(v) for v in views(x.astype(np.float32) / 255)], axis=0)
    np.testing.assert_allclose(averaged, manual, atol=1e-6)
    np.testing.assert_allclose(averaged.sum(axis=1), 1.0, rtol=1e-5)


def test_evaluate_cli_reports_tta(tiny_run, capsys, mnist, pen_path):
    from test_scripts import load_script

    assert load_script("evaluate").main(["--model", str(tiny_run), "--tta"]) == 0
    out = capsys.readouterr().out
    assert "mnist:" in out and "pen_holdout:" in out and "5-view test-time augmentation" in out
