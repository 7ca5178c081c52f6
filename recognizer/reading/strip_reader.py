"""Read a whole written number with the strip reader, and reconcile it with the digit classifier.

Touching digits are hard to cut apart before knowing what they are; the strip reader
(``recognizer.nets.strip``) reads the strip of ink left to right and says which digits it holds,
without cutting first. ``StripReader.read`` gives its greedy reading and where each digit sits;
``cut_reading`` cuts the ink where the reader puts the boundaries and lets the classifier read each
piece, and ``reconcile`` weighs that against the segmenting search (``recognizer.reading.segment``)
when the two disagree.

The reader reads without TensorFlow: its convolutional front with LiteRT, its GRU and last layer in
NumPy, from the two files beside its ``model.keras`` (``recognizer.nets.strip.FRONT_FILE`` and
``RECURRENT_FILE``). ``load_strip_reader`` makes them first when they are missing or stale and
TensorFlow is installed.

    >>> reader = load_shipped_reader()  # doctest: +SKIP
    >>> reading, origin = reader.read(ink)  # doctest: +SKIP
    >>> reading.digits  # doctest: +SKIP
    [4, 2]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recognizer.core.installed import tensorflow_installed
from recognizer.core.paths import cache_dir, shipped_models_dir
from recognizer.core.preprocess import INK_LEVEL, normalize_digit
from recognizer.core.storage import read_json_or
from recognizer.nets.convert import file_sha256
from recognizer.nets.strip import (
    BAND,
    BLANK,
    FRONT_FILE,
    MARGIN,
    RECURRENT_FILE,
    RECURRENT_KEYS,
    convert_saved_reader,
    reader_files_fresh,
    recurrent_logits,
    strip_from_ink,
)
from recognizer.reading.lite import LiteFileError, LiteModel, load_lite_model
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
    """A trained strip reader: ink in, digits with their place in the source out.

    ``front`` is the LiteRT convolutional front (strip to band features), ``recurrent`` the weights
    of the GRU and the last layer (``recognizer.nets.strip.RECURRENT_KEYS``) that NumPy runs.
    Safe to share between threads: the front takes turns, the rest keeps no state.
    """

    def __init__(self, front: LiteModel, recurrent: dict[str, np.ndarray], run_dir=None):
        self.front = front
        self.recurrent = recurrent
        self.run_dir = run_dir

    def logits(self, strip: np.ndarray) -> np.ndarray:
        """The network's logits (W / BAND, 11) for one strip (STRIP_HEIGHT, W)."""
        features = self.front.run(strip[None, :, :, None])[0]
        return recurrent_logits(features, self.recurrent)[0]

    def read(self, ink: np.ndarray) -> tuple[Reading, tuple[int, int, float]] | None:
        """The greedy reading of ``ink`` and the strip's origin (left, top, scale); None when blank."""
        prepared = strip_from_ink(ink)
        if prepared is None:
            return None
        strip, origin = prepared
        return greedy_read(self.logits(strip)), origin


SHIPPED_READER = "number-reader-v2"  # the strip reader in the repo's models/


def load_recurrent(path: Path) -> dict[str, np.ndarray]:
    """The recurrent weights saved in ``path`` (``RECURRENT_KEYS``, float32); ``LiteFileError`` naming
    the file when it is missing, damaged or lacks one."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            weights = {key: saved[key].astype(np.float32) for key in RECURRENT_KEYS}
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise LiteFileError(f"{path} does not hold the strip reader's recurrent weights ({exc})") from exc
    units = weights["forward_recurrent_kernel"].shape[0]
    if weights["dense_kernel"].shape != (2 * units, BLANK + 1):
        raise LiteFileError(f"{path} holds weights of another shape than the strip reader's")
    return weights


def load_strip_reader(run_dir) -> StripReader:
    """The strip reader saved in ``run_dir`` (a folder holding ``model.keras``), read with LiteRT and NumPy.

    Its LiteRT files are made first when missing or stale (``_litert_folder``); ``LiteFileError``
    naming the folder when they cannot be.
    """
    run_dir = Path(run_dir)
    folder = _litert_folder(run_dir)
    return StripReader(load_lite_model(folder / FRONT_FILE), load_recurrent(folder / RECURRENT_FILE), run_dir)


def _litert_folder(run_dir: Path) -> Path:
    """The folder holding fresh LiteRT files of the reader in ``run_dir``: the folder itself, else
    its copy in the user cache; made there (the cache when the folder is read-only) when neither is."""
    model_file = run_dir / "model.keras"
    if not model_file.is_file():
        raise LiteFileError(f"{run_dir} holds no strip reader (no model.keras)")
    cached = cache_dir() / "litert" / f"{run_dir.name}-{file_sha256(model_file)[:16]}"
    for folder in (run_dir, cached):
        if reader_files_fresh(folder, model_file):
            return folder
    if not tensorflow_installed():
        raise LiteFileError(
            f"{run_dir} has no up-to-date {FRONT_FILE} and {RECURRENT_FILE}, and TensorFlow, which makes them "
            "from model.keras, is not installed (make them where it is: recognizer.nets.strip.convert_saved_reader)"
        )
    try:
        return convert_saved_reader(model_file, [run_dir, cached])  # the cache when the folder is read-only
    except OSError as exc:
        raise LiteFileError(f"neither {run_dir} nor {cached} can hold the reader's LiteRT files ({exc})") from exc
    except Exception as exc:  # Keras' and the converter's errors come in many kinds: all mean "unreadable"
        raise LiteFileError(f"the strip reader in {run_dir} could not be converted to LiteRT ({exc})") from exc


def load_shipped_reader() -> StripReader | None:
    """The shipped strip reader; None when it is missing or unreadable (numbers are then read by
    cutting alone)."""
    folder = shipped_models_dir() / SHIPPED_READER
    if not (folder / "model.keras").is_file():
        return None
    try:
        return load_strip_reader(folder)
    except (OSError, ValueError, TypeError, KeyError):  # LiteFileError is a ValueError
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


# How much the strip reader's log probability of a digit string counts against the classifier's
# log probabilities of its pieces: tuned on numbers varied as people write them, where the
# classifier, reading each piece alone, is the one a piece of a neighbour misleads (docs/numbers.md).
STRIP_WEIGHT = 2.0


def _joint_score(pieces: list[Piece], digits: list[int], reading: Reading) -> float:
    """How well both readers like ``pieces`` read as ``digits``: the classifier's log probability
    of each piece's digit plus the strip reader's log probability of the digit string, weighted."""
    own = sum(float(np.log(max(float(p.scores[d]), 1e-9))) for p, d in zip(pieces, digits, strict=True))
    return own + STRIP_WEIGHT * ctc_log_likelihood(reading.posteriors, digits)


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
