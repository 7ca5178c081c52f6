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


# --- Stand-in networks that can tell which view they are shown ----------------------------------
#
# The images are one upright bar, 16 x 4 px and centred, at an ink level of its own. Each view is
# told apart by hand-checkable geometry: turning it makes x and y correlate (turned left, the top
# leaning left, they rise together), scaling by s changes the ink by s squared (0.93: -14 %, 1.07:
# +14 %), and neither changes the full-ink level inside the bar, which tells the images apart.

AS_IS, TURNED_LEFT, TURNED_RIGHT, SHRUNK, GROWN = range(5)
BAR_AREA = 16 * 4


def _bars_at(levels) -> np.ndarray:
    """One centred upright bar per level: (N, 28, 28) floats."""
    x = np.zeros((len(levels), 28, 28), np.float32)
    x[:, 6:22, 12:16] = np.asarray(levels, np.float32)[:, None, None]
    return x


def _seen(image: np.ndarray) -> tuple[int, float]:
    """(which view, the bar's ink level) of one image as a stand-in network sees it."""
    image = image.reshape(28, 28).astype(np.float64)
    level = round(float(image.max()), 2)
    ys, xs = np.mgrid[0:28, 0:28]
    total = image.sum()
    dx, dy = xs - (image * xs).sum() / total, ys - (image * ys).sum() / total
    correlation = (image * dx * dy).sum() / np.sqrt((image * dx**2).sum() * (image * dy**2).sum())
    ink = total / (level * BAR_AREA)
    if correlation > 0.1:
        return TURNED_LEFT, level
    if correlation < -0.1:
        return TURNED_RIGHT, level
    return (SHRUNK if ink < 0.95 else GROWN if ink > 1.05 else AS_IS), level


def test_the_stand_in_tells_every_view_apart():
    levels = [1.0, 0.6]
    seen = [[_seen(image) for image in view] for view in views(_bars_at(levels))]
    # VIEWS by hand: as it is, turned 5 degrees each way, shrunk to 0.93, grown to 1.07
    assert seen == [[(kind, level) for level in levels] for kind in (AS_IS, TURNED_LEFT, TURNED_RIGHT, SHRUNK, GROWN)]


class ViewNamingRecognizer:
    """Answers the view it is shown with the bar's level: digit ``view`` at that level, the rest 9."""

    def predict_proba(self, x, views=True):
        assert views is False and x.dtype == np.float32 and x.max() <= 1.0  # uint8 pixels scaled first
        proba = np.zeros((len(x), 10))
        for row, image in zip(proba, x, strict=True):
            kind, level = _seen(image)
            row[kind], row[9] = level, 1.0 - level
        return proba


def test_tta_probabilities_average_the_views():
    x = np.round(_bars_at([1.0, 0.6, 0.8]) * 255).astype(np.uint8)
    level = np.array([1.0, 0.6, 0.8])[:, None]
    one_view = tta_proba(ViewNamingRecognizer(), x, ((0.0, 1.0),))
    np.testing.assert_allclose(one_view, np.hstack([level, np.zeros((3, 8)), 1 - level]), atol=1e-9)
    # Five views, each named once at the bar's level: a fifth of the level on digits 0-4, the rest on 9.
    averaged = tta_proba(ViewNamingRecognizer(), x)
    np.testing.assert_allclose(averaged, np.hstack([np.repeat(level / 5, 5, axis=1), np.zeros((3, 4)), 1 - level]))
    floats = tta_proba(ViewNamingRecognizer(), x.astype(np.float32) / 255)  # 0..1 floats are taken as they are
    np.testing.assert_allclose(floats, averaged, atol=1e-9)


def test_tta_of_a_real_model_with_one_view_is_the_network_alone(tiny_run, mnist):
    from recognizer.reading.recognizer import load_recognizer

    rec = load_recognizer(tiny_run, number_reader=False)
    x = mnist[1][0][:20]
    one_view = tta_proba(rec, x, ((0.0, 1.0),))
    np.testing.assert_allclose(one_view, rec.predict_proba(x, views=False), atol=1e-6)
    averaged = tta_proba(rec, x)
    np.testing.assert_allclose(averaged.sum(axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(averaged, one_view, atol=1e-4)  # the other views do change the answers


def test_evaluate_cli_reports_tta(tiny_run, capsys, mnist, pen_path, run_cli):
    assert run_cli("evaluate", ["--model", str(tiny_run), "--tta"]) == 0
    out = capsys.readouterr().out
    assert "mnist:" in out and "pen_holdout:" in out and "5-view test-time augmentation" in out


# The stand-in network's raw scores (10 digits, then "not one digit") for each bar shown as it is,
# by its ink level. Unsure (digit confidence under READ_VIEWS_BELOW = 0.97): 0.8 and 0.7.
AS_IS_SCORES = {
    1.0: {1: 0.99, 0: 0.01},  # sure
    0.9: {1: 0.594, 0: 0.006, 10: 0.4},  # sure: 0.594 of the 0.6 on digits, 0.99, however low 0.594 is
    0.8: {1: 0.9, 2: 0.1},  # unsure
    0.7: {1: 0.96, 0: 0.04},  # unsure, just
    0.6: {3: 0.5, 10: 0.5},  # sure: all of its digit share is on 3
}


def _scores(values: dict) -> np.ndarray:
    row = np.zeros(11, np.float32)
    for k, value in values.items():
        row[k] = value
    return row


def _view_scoring(batch: np.ndarray) -> np.ndarray:
    """A bar as it is scores ``AS_IS_SCORES``; in another view, the bar's level on digit 4 + view, the rest on 9."""
    out = np.zeros((len(batch), 11), np.float32)
    for row, image in zip(out, batch, strict=True):
        kind, level = _seen(image)
        if kind == AS_IS:
            row[:] = _scores(AS_IS_SCORES[level])
        else:
            row[4 + kind], row[9] = level, 1.0 - level
    return out


def test_views_replace_only_the_unsure_answers_with_their_mean_over_every_view():
    levels = [1.0, 0.8, 0.9, 0.7, 0.6]
    x = _bars_at(levels)[..., None]
    calls = []

    def score(batch):
        calls.append(len(batch))
        return _view_scoring(batch)

    assert READ_VIEWS_BELOW == 0.97  # the threshold AS_IS_SCORES is worked out for
    out = scores_with_views(score, x)
    for row, level in zip(out, levels, strict=True):
        as_is = _scores(AS_IS_SCORES[level])
        if level in (0.8, 0.7):  # unsure: the mean of the answer as it is and the four other views' answers
            other_views = np.zeros(11)
            other_views[[5, 6, 7, 8]], other_views[9] = level, 4 * (1 - level)
            np.testing.assert_allclose(row, (as_is + other_views) / 5, atol=1e-6)
        else:  # a sure answer is the network's own
            np.testing.assert_array_equal(row, as_is)
    assert calls == [5, 4 * 2]  # the other four views, only for the two unsure


def test_a_recognizer_reads_unsure_images_in_every_view_and_sure_ones_once(tiny_run, mnist):
    from recognizer.reading.recognizer import Recognizer, load_recognizer

    tiny = load_recognizer(tiny_run, number_reader=False)  # one epoch on a few hundred images: unsure
    x = mnist[1][0][:200]
    plain = tiny.predict_proba(x, views=False)
    rec = Recognizer(tiny.network, tiny.run_dir, views_below=float(np.median(plain.max(axis=1))))
    unsure = plain.max(axis=1) < rec.views_below
    assert 0 < unsure.sum() < len(x)
    read = rec.predict_proba(x)
    np.testing.assert_allclose(read[~unsure], plain[~unsure], atol=1e-6)
    np.testing.assert_allclose(read[unsure], tta_proba(rec, x[unsure]), atol=1e-5)
    # A drawing's answer is read the same way, read with Keras or with LiteRT.
    drawing = np.zeros((280, 280, 4), np.uint8)
    drawing[60:220, 130:150, 3] = 255
    prediction = rec.predict_drawing(drawing)
    np.testing.assert_allclose(prediction.probabilities, rec.predict_proba(prediction.input[None])[0], atol=1e-5)
    keras = Recognizer(tiny.model, tiny.run_dir, views_below=rec.views_below)
    np.testing.assert_allclose(keras.predict_drawing(drawing).probabilities, prediction.probabilities, atol=1e-5)
