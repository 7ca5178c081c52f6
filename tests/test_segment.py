"""Recognition-driven segmentation (recognizer.reading.segment) with a classifier whose answers are known.

The stand-in classifier calls an image "1" when its ink has one tall column peak and "not one
digit" otherwise, so what the segmenter picks is checked without a trained model.
"""

import cv2
import numpy as np

from recognizer.reading.segment import candidate_seams, read_digits


def bars_classifier(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) -> (N, 11): '1' for a single bar, 'not one digit' for anything wider."""
    out = np.zeros((len(images), 11), np.float32)
    for k, image in enumerate(images):
        profile = image.sum(axis=0)
        strong = profile > 0.5 * profile.max()
        runs = np.count_nonzero(np.diff(strong.astype(int)) == 1) + int(strong[0])
        if runs == 1 and strong.sum() <= 8:
            out[k, 1], out[k, 10] = 0.95, 0.05
        else:
            out[k, 1], out[k, 10] = 0.1, 0.9
    return out


def touching_bars(xs, bridge=True, size=(200, 400)) -> np.ndarray:
    ink = np.zeros(size, np.float32)
    for x in xs:
        cv2.line(ink, (x, 30), (x, 170), 1.0, 12)
    if bridge:  # a low stroke joins neighbours, as a fast pen does
        cv2.line(ink, (xs[0], 168), (xs[-1], 168), 1.0, 6)
    return ink


def test_seams_pass_between_touching_strokes():
    ink = touching_bars([100, 160])
    mask = ink > 0.25
    seams = candidate_seams(mask)
    middles = [int(np.median(seam)) for seam in seams]
    assert any(110 < m < 150 for m in middles), middles
    for seam in seams:  # a seam is a top-to-bottom path moving at most a pixel per row
        assert len(seam) == mask.shape[0] and np.abs(np.diff(seam)).max() <= 1


def test_touching_digits_are_cut_apart_left_to_right():
    pieces = read_digits(touching_bars([100, 160, 220]), bars_classifier)
    assert len(pieces) == 3
    spans = [(x, x + w) for x, _, w, _ in (p.box for p in pieces)]
    for bar, (left, right) in zip([100, 160, 220], spans, strict=True):  # each piece holds its own bar
        assert left <= bar - 6 and bar + 6 <= right and right - left <= 64, spans
    assert all(p.scores[1] > 0.9 for p in pieces)


def test_separate_digits_are_not_cut():
    pieces = read_digits(touching_bars([100, 200], bridge=False), bars_classifier)
    assert [p.box[0] for p in pieces] == sorted(p.box[0] for p in pieces) and len(pieces) == 2


def test_a_group_that_cannot_be_cut_into_digits_stays_whole_and_doubtful():
    ink = np.zeros((200, 400), np.float32)
    zigzag = np.int32([[20, 170], [130, 30], [240, 170], [350, 30]])
    cv2.polylines(ink, [zigzag], False, 1.0, 10)  # every piece of it is as little a digit as the whole
    pieces = read_digits(ink, bars_classifier)
    assert len(pieces) == 1 and pieces[0].scores[10] > 0.5


def test_blank_ink_has_no_digits():
    assert read_digits(np.zeros((100, 300), np.float32), bars_classifier) == []
