"""Train the number reader (``recognizer.nets.strip``) on numbers composed from real handwriting.

Each training number is 1-10 digits of one pen writer (development writers only; some 0s, 1s and
7s written the continental way, ``recognizer.data.styles``) or of MNIST, drawn with gaps from
overlapping to wide, and goes through ``strip_from_ink`` exactly as a drawing does.

    >>> config = NumberReaderConfig(samples=2000, epochs=1)
    >>> run_dir = train_number_reader(config, Path("/tmp/reader"))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from recognizer.core.preprocess import INK_LEVEL
from recognizer.core.runs import NUMBER_READER_KIND
from recognizer.core.storage import write_json_atomic
from recognizer.data.compose import (
    AXES,
    PLAIN,
    REFERENCE_HEIGHT,
    Variation,
    compose_number,
    lending_writers,
    slanted,
    varied_layout,
    varied_picks,
)
from recognizer.data.mnist import load_mnist
from recognizer.data.pen import default_pen_digits_path, load_pen_digits, writer_split
from recognizer.data.styles import VARIANTS, styled
from recognizer.evaluation.numbers import reader_report
from recognizer.nets.strip import STRIP_HEIGHT, build_sequence_model, ctc_loss, strip_from_ink, write_reader_files
from recognizer.reading.strip_reader import load_strip_reader

# --- Training numbers -------------------------------------------------------------------------

RENDER_HEIGHT = 48.0  # px: training digits are drawn this high, then go through strip_from_ink
LENGTHS = (1, 2, 3, 4, 4, 5, 6, 7, 8, 10)  # digits per training number, drawn uniformly


def _gaps(rng: np.random.Generator, count: int, height: float) -> list[float]:
    """Gaps between neighbours as people leave them: touching, apart, or anything in between."""
    kind = rng.random()
    if kind < 0.5:
        low, high = -0.06, 0.04  # touching or overlapping (the hard case)
    elif kind < 0.75:
        low, high = 0.06, 0.25  # written apart
    else:
        low, high = -0.08, 0.3
    return list(rng.uniform(low, high, size=count) * height)


def _pen_number(pen, rng: np.random.Generator, length: int) -> tuple[np.ndarray, list[int]]:
    """One writer's digits at one height and baseline: the plain composition, gaps of every kind."""
    own = np.flatnonzero(pen.writers == pen.writers[rng.integers(len(pen))])
    picks = rng.choice(own, size=length, replace=len(own) < length)
    digits = [_styled_digit(pen, int(i), rng) for i in picks]
    height = RENDER_HEIGHT * rng.uniform(0.9, 1.1)
    size = (int(height * 1.2 * length + 60), int(height * 1.6))
    rgba, _ = compose_number(
        digits,
        gaps=_gaps(rng, length - 1, height),
        height=height,
        brush=height * float(rng.uniform(0.055, 0.17)),
        size=size,
        heights=list(rng.uniform(0.9, 1.05, size=length)),
        drops=list(rng.uniform(-0.04, 0.04, size=length) * height),
    )
    return rgba[..., 3].astype(np.float32) / 255.0, [int(pen.labels[i]) for i in picks]


def _styled_digit(pen, i: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Digit ``i``'s strokes, written the continental way (``VARIANTS``) 30 % of the time it has one."""
    strokes, label = pen.strokes(i), int(pen.labels[i])
    variants = [name for name, (digit, _) in VARIANTS.items() if digit == label]
    if variants and rng.random() < 0.3:
        strokes = styled(strokes, str(rng.choice(variants)), rng)
    return strokes


def random_variation(rng: np.random.Generator, length: int) -> Variation:
    """A way of varying a training number: each of ``AXES`` but the length on with even odds,
    gaps as wide as people leave them (-8..60 px of a 180 px number)."""
    variation = replace(PLAIN, gaps=(-8.0, 60.0) if rng.random() < 0.5 else (-8.0, 8.0), lengths=(length, length))
    for change in AXES.values():
        if "lengths" not in change and rng.random() < 0.5:
            variation = replace(variation, **change)
    return variation


def _varied_pen_number(pen, rng: np.random.Generator, length: int) -> tuple[np.ndarray, list[int]]:
    """A number written with ``random_variation``: heights, baseline, slant, brush and hands vary."""
    variation = random_variation(rng, length)
    picks = varied_picks(pen, rng, variation, lending_writers(pen, length))
    scale = RENDER_HEIGHT / REFERENCE_HEIGHT
    layout = varied_layout(rng, variation, length, scale)
    digits = [_styled_digit(pen, int(i), rng) for i in picks]
    if variation.slant:
        digits = [slanted(d, rng.uniform(-variation.slant, variation.slant)) for d in digits]
    size = (int(RENDER_HEIGHT * 1.5 * length + 60), int(RENDER_HEIGHT * 2.2))
    rgba, _ = compose_number(digits, size=size, **layout)
    return rgba[..., 3].astype(np.float32) / 255.0, [int(pen.labels[i]) for i in picks]


def _mnist_number(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, length: int):
    """MNIST digits side by side at one height (each cropped to its ink), overlapping by the gaps."""
    picks = rng.integers(len(images), size=length)
    height = RENDER_HEIGHT * rng.uniform(0.9, 1.1)
    pieces = []
    for i in picks:
        img = images[i].astype(np.float32) / 255.0
        x, y, w, h = cv2.boundingRect((img > INK_LEVEL).astype(np.uint8))
        factor = height * rng.uniform(0.9, 1.05) / max(h, 1)
        pieces.append(cv2.resize(img[y : y + h, x : x + w], (max(1, round(w * factor)), round(h * factor))))
    gaps = [round(g) for g in _gaps(rng, length - 1, height)]
    total = sum(p.shape[1] for p in pieces) + sum(gaps) + 20
    canvas = np.zeros((int(height * 1.3) + 10, max(total, 20)), np.float32)
    x = 10
    for piece, gap in zip(pieces, [*gaps, 0], strict=True):
        ph, pw = piece.shape
        top = max(0, (canvas.shape[0] - ph) // 2 + int(rng.integers(-2, 3)))
        x = max(0, x)
        region = canvas[top : top + ph, x : x + pw]
        region[...] = np.maximum(region, piece[: region.shape[0], : region.shape[1]])
        x += pw + gap
    return canvas, [int(labels[i]) for i in picks]


def training_strips(
    pen, images: np.ndarray, labels: np.ndarray, count: int, seed: int = 0, pen_share: float = 0.7, varied_share=0.0
):
    """``count`` composed numbers as (strips list, label lists): pen numbers and MNIST ones.

    ``varied_share`` of the pen numbers are written with a ``random_variation``, the rest plainly.
    """
    rng = np.random.default_rng(seed)
    strips, texts = [], []
    while len(strips) < count:
        length = int(rng.choice(LENGTHS))
        if rng.random() < pen_share:
            write = _varied_pen_number if rng.random() < varied_share else _pen_number
            ink, digits = write(pen, rng, length)
        else:
            ink, digits = _mnist_number(images, labels, rng, length)
        prepared = strip_from_ink(ink)
        if prepared is not None:
            strips.append(prepared[0])
            texts.append(digits)
    return strips, texts


# --- Training ------------------------------------------------------------------------------------

MAX_DIGITS = 12  # label slots per number in a training batch


def strip_batches(strips: list[np.ndarray], texts: list[list[int]], batch_size: int, seed: int = 0):
    """Batches of strips of similar width, each padded to its widest: a list of (x, y) arrays.

    x is (B, STRIP_HEIGHT, W, 1), y is (B, MAX_DIGITS) with -1 after each number's digits.
    """
    order = np.argsort([s.shape[1] for s in strips], kind="stable")
    batches = []
    for start in range(0, len(order), batch_size):
        members = order[start : start + batch_size]
        width = max(strips[i].shape[1] for i in members)
        x = np.zeros((len(members), STRIP_HEIGHT, width, 1), np.float32)
        y = np.full((len(members), MAX_DIGITS), -1, np.int32)
        for row, i in enumerate(members):
            x[row, :, : strips[i].shape[1], 0] = strips[i]
            y[row, : len(texts[i])] = texts[i][:MAX_DIGITS]
        batches.append((x, y))
    np.random.default_rng(seed).shuffle(batches)
    return batches


class _Batches:
    """A keras PyDataset over prepared batches, reshuffled every epoch."""

    def __new__(cls, batches, seed: int = 0):
        import keras

        class Batches(keras.utils.PyDataset):
            def __init__(self):
                super().__init__()
                self.batches, self.rng = batches, np.random.default_rng(seed)

            def __len__(self):
                return len(self.batches)

            def __getitem__(self, index):
                return self.batches[index]

            def on_epoch_end(self):
                self.rng.shuffle(self.batches)

        return Batches()


def train_sequence_model(train, validation, epochs: int = 10, learning_rate: float = 2e-3, callbacks=()):
    """Fit a new strip reader on (strips, texts) pairs; returns the model and its history."""
    import keras

    model = build_sequence_model()
    steps = epochs * len(strip_batches(*train, batch_size=64))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps, warmup_target=None)
    model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=5.0), loss=ctc_loss)
    history = model.fit(
        _Batches(strip_batches(*train, batch_size=64)),
        validation_data=_Batches(strip_batches(*validation, batch_size=64)),
        epochs=epochs,
        callbacks=list(callbacks),
        verbose=2,
    )
    return model, history.history


@dataclass(frozen=True)
class NumberReaderConfig:
    """How a number reader is trained (saved as ``config.json`` beside the model)."""

    samples: int = 120_000  # composed training numbers
    epochs: int = 10
    learning_rate: float = 2e-3
    pen_share: float = 0.7  # of the numbers written with pen digits; the rest MNIST
    varied_share: float = 0.0  # of the pen numbers written as people vary them (random_variation)
    seed: int = 0
    held_out_numbers: int = 500  # per case, to report how the reader alone does on new writers

    def problems(self) -> list[str]:
        found = []
        if self.samples < 100:
            found.append("samples must be at least 100")
        if not 1 <= self.epochs <= 100:
            found.append("epochs must be 1-100")
        if not 0 < self.learning_rate <= 0.1:
            found.append("learning_rate must be in (0, 0.1]")
        if not 0 <= self.pen_share <= 1:
            found.append("pen_share must be in [0, 1]")
        if not 0 <= self.varied_share <= 1:
            found.append("varied_share must be in [0, 1]")
        if not 1 <= self.held_out_numbers <= 10_000:
            found.append("held_out_numbers must be 1-10000")
        return found

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def train_number_reader(config: NumberReaderConfig, out_dir: Path, made_by: str = "", callbacks=()) -> Path:
    """Train a strip reader as ``config`` says and save it in ``out_dir`` (written whole or not at all).

    ``out_dir`` gets ``model.keras`` (no optimizer state), the LiteRT files the app reads it with
    (``write_reader_files``), ``config.json``, ``history.json`` and ``metrics.json`` (the reader alone
    on held-out writers, read as the app reads, training time, ``made_by``).
    """
    import shutil

    from recognizer.nets.architectures import inference_copy

    if config.problems():
        raise ValueError("; ".join(config.problems()))
    pen = load_pen_digits(default_pen_digits_path())
    train_idx, held_idx = writer_split(pen)
    (x, y), _ = load_mnist()
    started = time.perf_counter()
    writers = pen.subset(train_idx)
    shares = config.pen_share, config.varied_share
    train = training_strips(writers, x[:55_000], y[:55_000], config.samples, config.seed, *shares)
    val = training_strips(writers, x[55_000:], y[55_000:], max(200, config.samples // 50), config.seed + 1, *shares)
    model, history = train_sequence_model(train, val, config.epochs, config.learning_rate, callbacks)
    model = inference_copy(model)
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        model.save(tmp / "model.keras")
        write_reader_files(model, tmp)
        # Measured through the files just written, as the app will read them.
        exact = reader_report(load_strip_reader(tmp), pen.subset(held_idx), config.held_out_numbers)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # no half-made folder left behind
        raise
    metrics = {
        "kind": NUMBER_READER_KIND,
        "held_out_exact": exact,
        "train_seconds": round(time.perf_counter() - started, 1),
        "train_numbers": len(train[0]),
        "parameter_count": int(model.count_params()),
        "made_by": made_by,
    }
    write_json_atomic(tmp / "config.json", config.to_dict())
    write_json_atomic(tmp / "history.json", {k: [float(v) for v in vals] for k, vals in history.items()})
    write_json_atomic(tmp / "metrics.json", metrics)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return out_dir
