"""What a run trains on: MNIST split by the run's seed, plus what makes the model read drawings.

``split_data`` shuffles MNIST's training set with the config's seed, applies the subset and carves
out validation; ``add_drawing_data`` adds canvas-style MNIST, the training writers' pen digits,
"not a digit" examples, mined cuts and saved corrections, as the config asks. Pen digits come only
from the training writers (``pen.writer_split``), so the held-out writers stay an honest test.

    >>> data = split_data(TrainConfig(train_subset=500), load_mnist())  # doctest: +SKIP
    >>> len(data.x_train), len(data.x_val)  # doctest: +SKIP
    (450, 50)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recognizer.core.classes import NOT_DIGIT, split_not_digit
from recognizer.core.preprocess import ink_from_image
from recognizer.data.compose import TOUCHING_GAPS, sample_numbers
from recognizer.data.corrections import FeedbackStore
from recognizer.data.drawings import as_mnist
from recognizer.data.mnist import DataError
from recognizer.data.negatives import not_digit_examples, stack_images
from recognizer.data.pen import PenDigits, load_pen_digits, pen_digits_file, pen_letters_of, writer_split
from recognizer.reading.recognizer import load_recognizer
from recognizer.reading.segment import candidate_pieces
from recognizer.training.config import TrainConfig


@dataclass
class DataSplit:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    # The training images as the canvas would show them (see augment.canvas_style); None = unused.
    x_train_canvas: np.ndarray | None = None
    sources: dict[str, int] = dataclasses.field(default_factory=dict)


def split_sizes(config: TrainConfig, available: int) -> tuple[int, int]:
    """How many of ``available`` training images ``split_data`` trains on and holds out for validation."""
    chosen = min(config.train_subset or available, available)
    n_val = int(round(chosen * config.validation_split))
    return chosen - n_val, n_val


def split_data(config: TrainConfig, mnist) -> DataSplit:
    """Shuffle the training set with the run's seed, apply the subset, carve out validation."""
    (x_train, y_train), (x_test, y_test) = mnist
    n_train, n_val = split_sizes(config, len(x_train))
    order = np.random.default_rng(config.seed).permutation(len(x_train))[: n_train + n_val]
    val_idx, train_idx = order[:n_val], order[n_val:]
    return DataSplit(
        x_train[train_idx],
        y_train[train_idx],
        x_train[val_idx],
        y_train[val_idx],
        x_test,
        y_test,
        sources={"mnist": len(train_idx)},
    )


def add_drawing_data(config: TrainConfig, data: DataSplit, pen_path: Path | None = None) -> DataSplit:
    """Add what makes the model read drawings: canvas-style MNIST, pen digits, corrections.

    Pen digits come only from the training writers (``pendigits.writer_split``), so the held-out
    writers stay an honest test of real handwriting.
    """
    from recognizer.training.augment import canvas_style

    extras = _drawing_extras(config, len(data.x_train), pen_path)
    data.sources.update({source: len(y) for source, _, y in extras})
    if config.canvas_style > 0:
        data.x_train_canvas = canvas_style(data.x_train)
    if extras:
        extra_x = [x for _, x, _ in extras]
        data.x_train = np.concatenate([data.x_train, *extra_x])
        data.y_train = np.concatenate([data.y_train, *[y.astype(data.y_train.dtype) for _, _, y in extras]])
        if data.x_train_canvas is not None:  # the extras already look like drawings
            data.x_train_canvas = np.concatenate([data.x_train_canvas, *extra_x])
    return data


def _drawing_extras(config: TrainConfig, mnist_count: int, pen_path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(source, images, labels) of each kind of data the config adds to MNIST, in training order."""
    extras = _pen_extras(config, mnist_count, pen_path) if config.pen_digits else []
    if config.corrections:
        x_fix, y_fix = FeedbackStore().load()
        extras.append(("corrections", x_fix, y_fix))
    return extras


def _pen_extras(config: TrainConfig, mnist_count: int, pen_path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The training writers' pen digits, and the "not one digit" examples made from them."""
    pen_path = pen_digits_file(pen_path)
    if pen_path is None:
        raise DataError("pen_digits is on but no pen-digits file was found: set DIGITS_PEN_DIGITS to its path")
    pen = load_pen_digits(pen_path)
    pen_train = pen.subset(writer_split(pen)[0])
    x_pen, y_pen = as_mnist(
        pen_train, config.seed, config.pen_copies, style_share=config.pen_styles, distort_share=config.pen_distort
    )
    extras = [("pen_digits", x_pen, y_pen)]
    if config.not_digit:
        scale = min(1.0, mnist_count / 54000)  # about a third as many as MNIST's full training set
        extras.append(("not_digit", *_not_digit_labelled(_not_digit_examples(pen_train, config.seed, scale))))
    if config.mined_cuts:
        mined = mined_cuts(load_recognizer(config.init_from), pen_train, config.mined_cuts, config.seed)
        extras.append(("mined_cuts", *_not_digit_labelled(mined)))
    return extras


def _not_digit_labelled(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:

    return images, np.full(len(images), NOT_DIGIT, np.int64)


def _not_digit_examples(pen_train, seed: int, scale: float) -> np.ndarray:
    """Examples of "not one digit" from the training writers' digits and letters."""
    return not_digit_examples(pen_train, pen_letters_of(0), seed=seed, scale=scale)


def _box_iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / max(1, a[2] * a[3] + b[2] * b[3] - inter)


def mined_cuts(recognizer, pen: PenDigits, count: int, seed: int = 0) -> np.ndarray:
    """Wrong cuts that ``recognizer`` takes for a digit: the number reader's own hardest mistakes.

    Touching 3-digit numbers of ``pen``'s writers are cut as the reader cuts them
    (``segment.candidate_pieces``). A piece that matches no written digit (box overlap under 0.4)
    but reads as one digit is kept, unless it reads as a 1: a lone stroke of a 0 or a 4 *is* a 1
    to the eye, and only the rest of the number can say otherwise. uint8 (M, 28, 28).
    """
    found: list[np.ndarray] = []
    for number in sample_numbers(pen, 20 * count, length=3, gaps=TOUCHING_GAPS, seed=seed):
        pieces = candidate_pieces(ink_from_image(number.image))
        wrong = [image for image, box in pieces if max(_box_iou(box, true) for true in number.boxes) < 0.4]
        if wrong:
            proba, one_digit = split_not_digit(recognizer.predict_scores(np.stack(wrong)))
            keep = (one_digit >= 0.5) & (proba.argmax(axis=1) != 1)
            found += [np.round(image * 255).astype(np.uint8) for image, k in zip(wrong, keep, strict=True) if k]
        if len(found) >= count:
            break
    return stack_images(found[:count])
