"""Read a whole written number with the strip reader, and reconcile it with the digit classifier.

Touching digits are hard to cut apart before knowing what they are; the strip reader
(``recognizer.nets.strip``) reads the strip of ink left to right and says which digits it holds,
without cutting first. ``StripReader.read`` gives its greedy reading and where each digit sits;
``cut_reading`` cuts the ink where the reader puts the boundaries and lets the classifier read each
piece, and ``reconcile`` weighs that against the segmenting search (``recognizer.reading.segment``)
when the two disagree.

    >>> reader = load_shipped_reader()  # doctest: +SKIP
    >>> reading, origin = reader.read(ink)  # doctest: +SKIP
    >>> reading.digits  # doctest: +SKIP
    [4, 2]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recognizer.core.paths import shipped_models_dir
from recognizer.core.preprocess import INK_LEVEL, normalize_digit
from recognizer.core.storage import read_json_or
from recognizer.nets.strip import BAND, BLANK, MARGIN, STRIP_HEIGHT, strip_from_ink
from recognizer.reading.segment import Piece


@dataclass(frozen=True)
class Reading:
    """What the strip reader read: digits left to right and where each sits in the strip."""

    digits: list[int]
    bands: list[tuple[int, int]]  # first and last time step that emitted each digit
    posteriors: np.ndarray  # (T, 11) softmax per band


def greedy_read(logits: np.ndarray) -> Reading:
    """Best band-by-band path: repeats merged, blanks dropped."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    posteriors = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    best = posteriors.argmax(axis=1)
    digits, bands = [], []
    previous = BLANK
    for t, k in enumerate(best):
        if k != BLANK and k == previous:
            bands[-1] = (bands[-1][0], t)
        elif k != BLANK:
            digits.append(int(k))
            bands.append((t, t))
        previous = k
    return Reading(digits, bands, posteriors)


class StripReader:
    """A trained strip reader: ink in, digits with their place in the source out."""

    def __init__(self, model, run_dir=None):
        import tensorflow as tf

        self.model = model
        self.run_dir = run_dir
        # One trace for every strip width, made now rather than on the first request.
        self._forward = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, STRIP_HEIGHT, None, 1], tf.float32)],
        )
        self._forward(tf.zeros([1, STRIP_HEIGHT, 8 * BAND, 1]))

    def read(self, ink: np.ndarray) -> tuple[Reading, tuple[int, int, float]] | None:
        """The greedy reading of ``ink`` and the strip's origin (left, top, scale); None when blank."""
        prepared = strip_from_ink(ink)
        if prepared is None:
            return None
        strip, origin = prepared
        return greedy_read(self._forward(strip[None, :, :, None]).numpy()[0]), origin


SHIPPED_READER = "number-reader-v1"  # the strip reader in the repo's models/


def load_strip_reader(run_dir) -> StripReader:
    """A saved strip reader (a folder holding ``model.keras``), loaded without running code from it."""
    import keras

    run_dir = Path(run_dir)
    return StripReader(keras.saving.load_model(run_dir / "model.keras", compile=False), run_dir)


def load_shipped_reader() -> StripReader | None:
    """The shipped strip reader; None when it is missing or unreadable (numbers are then read by
    cutting alone)."""
    folder = shipped_models_dir() / SHIPPED_READER
    if not (folder / "model.keras").is_file():
        return None
    try:
        return load_strip_reader(folder)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def source_x(band: float, origin: tuple[int, int, float]) -> float:
    """The source column at the middle of time step ``band`` of a strip with ``origin``."""
    left, _, scale = origin
    return left + ((band + 0.5) * BAND - MARGIN) / scale


# --- Both readers together -----------------------------------------------------------------------


def digit_posterior(reading: Reading, k: int) -> np.ndarray:
    """The strip reader's ten digit probabilities for its k-th digit (summed over its bands)."""
    start, end = reading.bands[k]
    summed = reading.posteriors[start : end + 1, :BLANK].sum(axis=0)
    return summed / max(float(summed.sum()), 1e-12)


def blended(scores: np.ndarray, posterior: np.ndarray) -> np.ndarray:
    """A piece's classifier output with its digit probabilities multiplied by the strip reader's.

    Two independent experts: the product keeps what both find likely. Column 10 ("not one
    digit"), when present, is kept as the classifier said.
    """
    digits = scores[:BLANK] * posterior
    digits = digits / max(float(digits.sum()), 1e-12)
    if len(scores) <= BLANK:
        return digits.astype(np.float32)
    return np.append(digits * (1.0 - scores[BLANK]), scores[BLANK]).astype(np.float32)


MIDDLE_PULL = 0.3  # how strongly a cut between two digits is drawn to the middle between them


def cut_columns(ink: np.ndarray, reading: Reading, origin: tuple[int, int, float]) -> list[int]:
    """Source columns between the reader's neighbouring digits.

    Between two digits' bands (each near its digit's middle), the cut goes where the ink is
    thinnest, pulled towards the middle: a thin column inside a digit (the hole of a 0) is not
    the gap between two digits.
    """
    mask = ink > INK_LEVEL
    profile = mask.sum(axis=0) / max(1, int(mask.any(axis=1).sum()))
    cuts = []
    for (_, end), (start, _) in zip(reading.bands, reading.bands[1:], strict=False):
        lo = int(np.clip(round(source_x(end, origin)), 0, ink.shape[1] - 1))
        hi = int(np.clip(round(source_x(start, origin)), lo + 1, ink.shape[1]))
        offset = (np.arange(lo, hi) - (lo + hi - 1) / 2) / max(1.0, (hi - lo) / 2)
        cuts.append(lo + int(np.argmin(profile[lo:hi] + MIDDLE_PULL * offset**2)))
    return cuts


def ctc_log_likelihood(posteriors: np.ndarray, digits: list[int]) -> float:
    """log P(``digits`` | strip) under the strip reader: CTC's forward algorithm over its bands."""
    steps = len(posteriors)
    path = [BLANK]
    for d in digits:
        path += [d, BLANK]
    logp = np.log(np.maximum(posteriors[:, path], 1e-30))
    alpha = np.full(len(path), -np.inf)
    alpha[0] = logp[0, 0]
    if len(path) > 1:
        alpha[1] = logp[0, 1]
    # A label may be skipped over a blank, unless the blank separates two equal digits.
    skip = np.array([k >= 2 and path[k] != BLANK and path[k] != path[k - 2] for k in range(len(path))])
    for t in range(1, steps):
        stay, step = alpha, np.concatenate([[-np.inf], alpha[:-1]])
        jump = np.where(skip, np.concatenate([[-np.inf, -np.inf], alpha[:-2]]), -np.inf)
        alpha = np.logaddexp(np.logaddexp(stay, step), jump) + logp[t]
    return float(np.logaddexp(alpha[-1], alpha[-2]) if len(path) > 1 else alpha[-1])


def _joint_score(pieces: list[Piece], digits: list[int], reading: Reading) -> float:
    """How well both readers like ``pieces`` read as ``digits``: the classifier's log probability
    of each piece's digit plus the strip reader's log probability of the digit string."""
    own = sum(float(np.log(max(float(p.scores[d]), 1e-9))) for p, d in zip(pieces, digits, strict=True))
    return own + ctc_log_likelihood(reading.posteriors, digits)


SURE = 0.9  # a cut piece read as the strip reader's digit with this probability settles it


def cut_reading(ink: np.ndarray, found, classify) -> list[Piece] | None:
    """The ink cut between the strip reader's digits, each piece with the classifier's scores.

    None when there is no reading or the cuts do not give one piece per digit.
    """
    if found is None or not found[0].digits:
        return None
    reading, origin = found
    cut = _cut_pieces(ink, cut_columns(ink, reading, origin))
    if len(cut) != len(reading.digits):
        return None
    scores = classify(np.stack([image for image, _ in cut]))
    return [Piece(image, box, s) for (image, box), s in zip(cut, scores, strict=True)]


def settled(cut: list[Piece] | None, found) -> bool:
    """Both readers surely read the same digits in the same pieces: no further search needed."""
    return cut is not None and all(float(p.scores[d]) >= SURE for p, d in zip(cut, found[0].digits, strict=True))


def reconcile(pieces: list[Piece], found, cut: list[Piece] | None) -> list[Piece]:
    """One reading from the segmenting reader's ``pieces``, the strip reader's ``found`` and ``cut``.

    They agree: the pieces. Otherwise there are up to three candidates: the pieces read by the
    classifier, the pieces read by both readers (digit probabilities multiplied), and the ink cut
    between the strip reader's digits (``cut_reading``), read by both. The candidate both readers
    find likeliest (``_joint_score``, on the classifier's own scores) wins.
    """
    if found is None or not found[0].digits:
        return pieces
    reading = found[0]
    own = [int(np.argmax(p.scores[:BLANK])) for p in pieces]
    if own == reading.digits:
        return pieces
    candidates = [(pieces, own, pieces)]  # (pieces as classified, digits, pieces as answered)
    if len(pieces) == len(reading.digits):
        candidates.append(_both_read(pieces, reading))
    if cut is not None:
        candidates.append(_both_read(cut, reading))
    return max(candidates, key=lambda c: _joint_score(c[0], c[1], reading))[2]


def _both_read(pieces: list[Piece], reading: Reading) -> tuple[list[Piece], list[int], list[Piece]]:
    """``pieces`` with both readers' digit probabilities multiplied, as a ``reconcile`` candidate."""
    answered = [Piece(p.image, p.box, blended(p.scores, digit_posterior(reading, k))) for k, p in enumerate(pieces)]
    return pieces, [int(np.argmax(p.scores[:BLANK])) for p in answered], answered


def _cut_pieces(ink: np.ndarray, columns: list[int]) -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
    """The ink between consecutive cut columns, each as (28x28 model input, box in ``ink``)."""
    edges = [0, *columns, ink.shape[1]]
    out = []
    for left, right in zip(edges, edges[1:], strict=False):
        prepared = normalize_digit(ink[:, left:right])
        if prepared is not None:
            x, y, w, h = prepared[1]
            out.append((prepared[0], (left + x, y, w, h)))
    return out


def shipped_reader_facts() -> dict | None:
    """What the shipped strip reader's folder says of it: metrics, config and history (None: absent)."""
    folder = shipped_models_dir() / SHIPPED_READER
    metrics = read_json_or(folder / "metrics.json", None)
    if not isinstance(metrics, dict):
        return None
    return {
        "name": SHIPPED_READER,
        "metrics": metrics,
        "config": read_json_or(folder / "config.json", {}),
        "history": read_json_or(folder / "history.json", {}),
    }
