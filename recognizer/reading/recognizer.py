"""Load a trained model once and answer fast: digits, numbers and photos, read with LiteRT.

    >>> from recognizer import load_recognizer
    >>> rec = load_recognizer()  # the active model   # doctest: +SKIP
    >>> rec.predict_proba(x_test[:5]).shape  # doctest: +SKIP
    (5, 10)

``load_recognizer`` reads a run's LiteRT file (``recognizer.reading.networks``) and never imports
TensorFlow; ``Recognizer.model``, the Keras model, loads on first use for what needs gradients
(saliency, export, training). A Keras model in memory (just trained) can answer too:
``Recognizer(model)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from recognizer.core.classes import IS_DIGIT_THRESHOLD, NUM_CLASSES_WITH_NOT_DIGIT, split_not_digit
from recognizer.core.photo_ink import ink_from_photo, ink_mask_from_photo, ink_region
from recognizer.core.preprocess import checked_image, ink_from_image, normalize_digit, shrunk, to_model_input
from recognizer.core.runs import MODEL_FILE, ModelNotFoundError, active_model_dir
from recognizer.core.storage import read_json_or
from recognizer.reading.adapt import taught_network
from recognizer.reading.gaps import apart, column_groups, joins_across
from recognizer.reading.networks import KerasNetwork, lite_network
from recognizer.reading.not_sure import not_sure_below
from recognizer.reading.segment import read_digits
from recognizer.reading.strip_reader import cut_reading, load_shipped_reader, load_strip_reader, reconcile, settled
from recognizer.reading.views import READ_VIEWS_BELOW, scores_with_views

# A photo's longer side is brought to at most this before it is read: the Draw page's uploads
# already are (``decode_image``), and a phone photo's 4000 px would make the local threshold take
# seconds; digits a tenth of the photo high stay far above the 28 px they are read at.
PHOTO_SIDE = 1600


@dataclass(frozen=True)
class Prediction:
    """The answer for one digit: what it is, how sure, and what the model saw."""

    digit: int
    confidence: float
    probabilities: np.ndarray = field(repr=False)  # (10,), sums to 1
    input: np.ndarray = field(repr=False)  # (28, 28) float32 0..1, what the model saw
    box: tuple[int, int, int, int]  # x, y, w, h of the digit in the source image
    # How likely the ink is one digit at all (not a letter, a scribble or several digits); 1.0
    # from a model that has no "not a digit" class.
    digit_probability: float = 1.0

    @property
    def is_digit(self) -> bool:
        """False when the model finds the ink is not one digit (``digit_probability`` < 0.5)."""
        return self.digit_probability >= IS_DIGIT_THRESHOLD

    def top(self, k: int = 2) -> list[tuple[int, float]]:
        """The ``k`` likeliest digits with their probabilities, likeliest first."""
        order = np.argsort(self.probabilities)[::-1][:k]
        return [(int(d), float(self.probabilities[d])) for d in order]


class Recognizer:
    """A network plus its run metadata. Shared between users: never mutated after load."""

    def __init__(
        self,
        network: Any,
        run_dir: Path | None = None,
        number_reader: Any = None,
        views_below: float | None = READ_VIEWS_BELOW,
        panel: tuple[Recognizer, ...] = (),
    ):
        # A Keras model (just trained, or built by a test) answers through a traced function.
        self.network = network if hasattr(network, "scores_and_features") else KerasNetwork(network)
        # An answer under this confidence is read again in a few turned and scaled views and
        # averaged (``recognizer.reading.views``); None: the network's single answer, always.
        self.views_below = views_below
        # Other networks that read those unsure answers too, each in every view (``PANEL_FILE``).
        self.panel = panel
        self.run_dir = run_dir
        # The strip reader (``recognizer.reading.strip_reader``) that reads whole numbers with the classifier.
        self.number_reader = number_reader
        self.metrics: dict = _read_optional(run_dir, "metrics.json")
        self.config: dict = _read_optional(run_dir, "config.json")
        self._classes = self.network.classes
        if any(member._classes != self._classes for member in panel):
            raise ValueError(f"{self.name}: every network of a panel gives {self._classes} scores")

    @property
    def model(self) -> Any:
        """The Keras model (loaded on first use: it imports TensorFlow), for gradients and export."""
        return self.network.keras_model()

    @property
    def name(self) -> str:
        return self.run_dir.name if self.run_dir else self.model.name

    @property
    def knows_not_digit(self) -> bool:
        """True for a model with the 11th class "not one digit" (``recognizer.data.negatives``)."""
        return self._classes == NUM_CLASSES_WITH_NOT_DIGIT

    @property
    def not_sure_below(self) -> float:
        """The confidence under which the Draw page says "Not sure": measured per run
        (``recognizer.evaluation.calibration``), read back by ``recognizer.reading.not_sure``."""
        return not_sure_below(self.metrics)

    def predict_proba(self, images: np.ndarray, views: bool = True) -> np.ndarray:
        """Digit probabilities (N, 10) for MNIST-format images (see ``to_model_input``).

        A model with the class "not one digit" answers which digit *if* it is one: its ten digit
        probabilities renormalised. ``predict_digit_probability`` gives the rest. ``views=False``:
        the network's single answer, even where it is unsure (see ``views_below``).
        """
        return split_not_digit(self.predict_scores(images, views))[0]

    def predict_digit_probability(self, images: np.ndarray) -> np.ndarray:
        """(N,) probability that each image is one digit at all (all 1 without that class)."""
        return split_not_digit(self.predict_scores(images))[1]

    def predict_scores(self, images: np.ndarray, views: bool = True) -> np.ndarray:
        """The model's raw output (N, 10 or 11): softmax over digits (and "not one digit"); an
        answer under ``views_below`` is the mean over the views of ``recognizer.reading.views``."""
        x = to_model_input(images)
        if views and self.views_below is not None:
            panel = tuple(member._network_scores for member in self.panel)
            return scores_with_views(self._network_scores, x, self.views_below, panel)
        return self._network_scores(x)

    def _scores_once(self, images: np.ndarray) -> np.ndarray:
        return self.predict_scores(images, views=False)

    def _network_scores(self, x: np.ndarray) -> np.ndarray:
        """One pass of the network over model input (N, 28, 28, 1): its raw scores."""
        if not len(x):
            return np.zeros((0, self._classes), np.float32)
        return self.network.scores(x)

    def predict(self, images: np.ndarray, views: bool = True) -> np.ndarray:
        """Predicted digits (N,)."""
        return self.predict_proba(images, views).argmax(axis=1)

    def adapt(self, images: np.ndarray, labels) -> Recognizer:
        """A new recognizer taught that ``images`` (28x28 inputs, as ``Prediction.input``) are
        ``labels``: it answers so for them and drawings close to them, as this one elsewhere.
        This one is not changed (see ``recognizer.reading.adapt``). ``ValueError`` for bad
        corrections; ``NotAdaptableError`` (a ``ValueError``) for a network that cannot be taught."""
        # The panel still reads the answers the taught network is unsure of; a correction that
        # decides an answer makes it sure, so the panel never overrules one.
        network = taught_network(self.network, images, labels)
        return Recognizer(network, self.run_dir, self.number_reader, self.views_below, self.panel)

    def predict_drawing(self, image: np.ndarray) -> Prediction | None:
        """Read one drawn digit. ``image``: RGBA (as the canvas returns it), RGB or gray, any size.

        None when nothing is drawn (or only a stray mark). ``ValueError`` for a non-image array.
        """
        return self.predict_drawings([image])[0]

    def predict_drawings(self, images: list[np.ndarray]) -> list[Prediction | None]:
        """``predict_drawing`` for many images, in one batched model call.

        A drawing on a transparent background (the canvas's) is read from its alpha; any other
        image is a photo or a scan of paper, whose ink ``ink_from_photo`` finds under uneven
        light, paper texture and printed lines (docs/photos.md).
        """
        prepared = [normalize_digit(ink_from_photo(image)) for image in images]
        return self._predict_prepared(prepared)

    def read_number(self, image: np.ndarray) -> list[Prediction]:
        """Read a written number: one Prediction per digit, left to right (empty when blank)."""
        return self._read_ink(ink_from_image(image))

    def digits_in(self, image: np.ndarray) -> int:
        """How many digits a drawing that is not one digit seems to hold: 0 when it is no number.

        It holds several when the number reader finds two or more pieces that are surely digits,
        not all of them 1s: a V, an N or an H cuts into strokes that each pass for a 1.
        """
        pieces = self.read_number(image)
        sure = all(p.is_digit and p.digit_probability >= 0.9 for p in pieces)
        return len(pieces) if len(pieces) >= 2 and sure and any(p.digit != 1 for p in pieces) else 0

    def read_photo(self, image: np.ndarray) -> list[Prediction]:
        """Read the digits in a photo or scan (uneven light, paper texture), left to right.

        A photo of one digit is answered as ``predict_drawing`` answers a drawing: its whole
        graded ink (``ink_from_photo``), an unsure answer read in views. One digit is what the
        model's "not one digit" class says of the whole ink (a model without that class: what
        the number reading finds). A number is read from the photo's ink mask
        (``ink_mask_from_photo``), which parts touching digits better (docs/photos.md).
        """
        photo, scale = shrunk(checked_image(image), PHOTO_SIDE)
        ink = ink_from_photo(photo)
        region = ink_region(ink)
        if region is None:
            return []
        left, top, right, bottom = region
        if (right - left) * (bottom - top) > ink.size / 4:
            left = top = 0  # the ink fills much of the photo: read it whole, as it always was
        else:
            # Only the ink and some paper around it: a phone photo of a whole page is mostly
            # paper, and the local threshold and the stray-mark rule are then sized to the
            # digits, not to the page.
            photo, ink = photo[top:bottom, left:right], ink[top:bottom, left:right]
        whole = self._predict_prepared([normalize_digit(ink)])[0]
        if whole is not None and self.knows_not_digit and whole.is_digit:
            pieces = [whole]
        else:
            pieces = self._read_ink(ink_mask_from_photo(photo))
            pieces = [whole] if len(pieces) == 1 and whole is not None else pieces
        return [_in_photo(p, left, top, scale) for p in pieces]

    def _read_ink(self, ink: np.ndarray) -> list[Prediction]:
        pieces = self._pieces(ink)
        groups = column_groups(ink)
        if joins_across([p.box for p in pieces], groups):  # a clear blank gap separates digits
            pieces = [piece for part in apart(ink, groups) for piece in self._pieces(part)]
        if not pieces:
            return []
        proba, is_digit = split_not_digit(np.stack([p.scores for p in pieces]))
        return [
            Prediction(int(pr.argmax()), float(pr.max()), pr, piece.image, piece.box, float(d))
            for piece, pr, d in zip(pieces, proba, is_digit, strict=True)
        ]

    def _pieces(self, ink: np.ndarray) -> list:
        """The digits of a number: the strip reader's cut when the classifier surely agrees with
        it (most numbers: the quick way), else the segmenting search weighed with the strip reader."""
        # The cuts weigh the network's single answers (what their rules were measured with), and a
        # search scores many wrong cuts, each unsure: views would multiply its work.
        score = self._scores_once
        if self.number_reader is None:
            return read_digits(ink, score)
        found = self.number_reader.read(ink)
        cut = cut_reading(ink, found, score)
        if settled(cut, found):
            return cut
        return reconcile(read_digits(ink, score), found, cut)

    def _predict_prepared(self, prepared: list) -> list[Prediction | None]:
        ready = [p for p in prepared if p is not None]
        if not ready:
            return [None] * len(prepared)
        proba, is_digit = split_not_digit(self.predict_scores(np.stack([img for img, _ in ready])))
        answers = iter(
            Prediction(int(p.argmax()), float(p.max()), p, img, box, float(d))
            for p, d, (img, box) in zip(proba, is_digit, ready, strict=True)
        )
        return [None if p is None else next(answers) for p in prepared]


def _in_photo(piece: Prediction, left: int, top: int, scale: float) -> Prediction:
    """``piece``, read in a crop at (``left``, ``top``) of a copy shrunk by ``scale``, with its box
    in the photo's own pixels."""
    x, y, w, h = piece.box
    box = (round((x + left) / scale), round((y + top) / scale), round(w / scale), round(h / scale))
    return replace(piece, box=box)


def _read_optional(run_dir: Path | None, name: str) -> dict:
    """A run's JSON file as a dict; {} when it is missing or unreadable (the model still answers)."""
    return {} if run_dir is None else read_json_or(run_dir / name, {})


def load_recognizer(
    path: str | os.PathLike | None = None,
    number_reader: bool | str | os.PathLike = True,
    panel: bool = False,
) -> Recognizer:
    """Load a model: a run folder or a ``.keras`` file; ``None`` -> the active model. It reads with
    the run's LiteRT file (``recognizer.reading.networks.lite_network``): ``LiteFileError`` (a
    ``ValueError``) when that file is missing or stale and TensorFlow is not there to make it.

    ``number_reader``: also load the shipped strip reader that reads whole numbers with it (or, given
    a folder, the strip reader saved there: ``LiteFileError`` when it cannot be read).
    ``panel``: also load the networks the run's ``PANEL_FILE`` names, if it has one (an option:
    the app reads with the network alone, see ``PANEL_FILE``).
    """
    path = Path(path) if path is not None else active_model_dir()
    model_file = path / MODEL_FILE if path.is_dir() else path
    if not model_file.is_file():
        raise ModelNotFoundError(f"no model at {model_file}")
    network = lite_network(model_file)
    members = tuple(m for m in load_panel(model_file.parent) if m._classes == network.classes) if panel else ()
    if isinstance(number_reader, bool):
        reader = load_shipped_reader() if number_reader else None
    else:
        reader = load_strip_reader(number_reader)
    return Recognizer(network, model_file.parent, reader, panel=members)


# A run folder may name other runs beside it, {"members": ["run-name", ...]}, that read an answer
# its network is unsure of along with it (``load_recognizer(..., panel=True)``): those answers hold
# most of its errors, and networks trained otherwise err differently there. Measured for the
# shipped model in docs/models.md ("A panel for unsure answers"): more right on real writing, but its
# unsure answers are then right too often for an honest "Not sure", so the app does not use it.
PANEL_FILE = "panel.json"


def load_panel(run_dir: Path) -> tuple[Recognizer, ...]:
    """The networks ``run_dir/PANEL_FILE`` names (runs in the same folder), loaded; () without one.

    A member that is missing or broken is left out (so is one that gives other scores than the run,
    by ``load_recognizer``): the run still answers, with the members it has.
    """
    members = read_json_or(run_dir / PANEL_FILE, {})
    names = members.get("members") if isinstance(members, dict) else None
    loaded = []
    for name in names if isinstance(names, list) else []:
        if not isinstance(name, str) or Path(name).name != name or name.startswith("."):
            continue  # only a run beside this one
        try:
            loaded.append(load_recognizer(run_dir.parent / name, number_reader=False, panel=False))
        except Exception:  # noqa: BLE001 -- whatever a broken member raises, the run answers without it
            continue
    return tuple(loaded)
