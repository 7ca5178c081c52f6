"""Train a model from one ``TrainConfig`` and write a complete run folder.

    >>> from recognizer.train import TrainConfig, train
    >>> run_dir = train(TrainConfig(architecture="lenet5", epochs=1, train_subset=500))  # doctest: +SKIP
    >>> TrainConfig.preset("quick", epochs=2).lr_schedule  # a ready-made run (PRESETS), one value changed
    'onecycle'

What a config may hold is written once, here: each numeric field's ``BOUNDS`` (``problems()``
checks them, the Train page's widgets offer them) and the ``PRESETS`` the page and
``scripts/train.py --preset`` start from.

A run folder (``<runs dir>/<YYYYmmdd-HHMMSS>-<architecture>``) holds:
- ``model.keras``: the trained model;
- ``config.json``: the ``TrainConfig`` that made it;
- ``history.json``: per-epoch train/val loss and accuracy and the learning rate;
- ``metrics.json``: test-set report (see ``recognizer.evaluate.classification_report``) plus
  training seconds, parameter count and model file size;
- ``misclassified.json``: the test indices it gets wrong, with their probabilities;
- ``test_probabilities.npz``: the probabilities of all 10,000 test images (float16).

The folder is assembled under a hidden temp name and renamed when complete, so a crashed or
stopped run never shows up half-written. Progress goes to ``TrainingHooks`` (per batch and per
epoch); the CLI, the dashboard and the tests each bring their own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recognizer import paths
from recognizer.data import MNIST_TRAIN_IMAGES
from recognizer.runs import MODEL_FILE, write_run_folder, write_test_answers
from recognizer.storage import write_json_atomic

OPTIMIZERS = ("adam", "rmsprop", "sgd")
LR_SCHEDULES = ("constant", "cosine", "exponential", "onecycle")
# The one-cycle schedule (Smith & Topin 2017) climbs from a tenth of the peak learning rate to the
# peak over the first ONECYCLE_WARMUP of training, then follows a cosine down to almost nothing: the
# warm-up lets batch norm's statistics settle before the high rate, the long descent fine-tunes.
ONECYCLE_WARMUP = 0.25
ONECYCLE_START = 0.1  # share of the peak it starts from
ONECYCLE_END = 1e-3  # share of the peak it ends at
# The weight average's horizon is about 1 / (1 - momentum) = 1,000 steps: about 1.4 epochs of the
# shipped recipe's 700 steps each, so it smooths the last epoch's noise without reaching far back.
EMA_MOMENTUM = 0.999


@dataclass(frozen=True)
class Bound:
    """The values a numeric ``TrainConfig`` field may take: ``low`` to ``high``, an end left out when open.

    ``step`` is the field's natural increment: a form steps by it, and offers an open end one step
    inside (``closed_range``). ``low`` and ``high`` have the field's type (int or float).
    """

    low: float
    high: float
    step: float
    low_open: bool = False
    high_open: bool = False
    unit: str = ""  # said after the range in a problem, e.g. "degrees"

    def allows(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def closed_range(self) -> tuple[float, float]:
        """The smallest and largest value a form offers: the ends, or one step inside an open end."""
        return (
            self.low + self.step if self.low_open else self.low,
            self.high - self.step if self.high_open else self.high,
        )

    def problem(self, name: str) -> str:
        """What to say when ``name`` is out of bounds."""
        low, high = (f"{v:,}" if isinstance(v, int) else f"{v:g}" for v in (self.low, self.high))
        if self.low_open or self.high_open:
            text = f"{name} must be in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        else:
            text = f"{name} must be between {low} and {high}"
        return f"{text} {self.unit}" if self.unit else text


# Every numeric field's bounds, written once: TrainConfig.problems() checks them, the Train page
# builds its widgets from them. Optional fields (train_subset) are checked only when set.
BOUNDS: dict[str, Bound] = {
    "epochs": Bound(1, 1000, 1),
    "batch_size": Bound(1, 8192, 1),
    "learning_rate": Bound(0.0, 1.0, 1e-6, low_open=True),
    "lr_decay": Bound(0.0, 1.0, 0.01, low_open=True),
    "rotation": Bound(0.0, 45.0, 1.0, unit="degrees"),
    "zoom": Bound(0.0, 0.5, 0.05, high_open=True),
    "shift": Bound(0.0, 0.5, 0.05, high_open=True),
    "shear": Bound(0.0, 45.0, 1.0, unit="degrees"),
    "elastic": Bound(0.0, 4.0, 0.25, unit="pixels"),
    "early_stopping_patience": Bound(1, 100, 1, unit="epochs"),
    "plateau_patience": Bound(1, 100, 1, unit="epochs"),
    "plateau_factor": Bound(0.0, 1.0, 0.05, low_open=True, high_open=True),
    "validation_split": Bound(0.0, 0.5, 0.05, high_open=True),
    "seed": Bound(0, 2**31 - 1, 1),
    "train_subset": Bound(20, MNIST_TRAIN_IMAGES, 1, unit="images (or empty for all)"),
    "canvas_style": Bound(0.0, 1.0, 0.05),
    "pen_copies": Bound(1, 50, 1),
    "pen_styles": Bound(0.0, 1.0, 0.05),
    "pen_distort": Bound(0.0, 1.0, 0.05),
    "label_smoothing": Bound(0.0, 0.5, 0.05, high_open=True),
    "mixup": Bound(0.0, 2.0, 0.1),
    "mined_cuts": Bound(0, 100_000, 1),
}

# Ready-made runs, each applied over TrainConfig's defaults (so a preset never inherits stray edits).
PRESETS: dict[str, dict[str, Any]] = {
    # One epoch over all of MNIST with a one-cycle rate: 99.1-99.2 % on the test set in a few keras.io
    # epochs' time (recognizer.training_speed). No validation or augmentation: both cost time one epoch lacks.
    "quick": dict(
        architecture="fastcnn",
        epochs=1,
        learning_rate=0.02,
        lr_schedule="onecycle",
        augment=False,
        validation_split=0.0,
    ),
    "standard": dict(architecture="deepcnn", epochs=8, lr_schedule="cosine", canvas_style=0.5, pen_digits=True),
    "best": dict(
        architecture="deepcnn",
        epochs=20,
        lr_schedule="cosine",
        augment=True,
        canvas_style=0.5,
        pen_digits=True,
        pen_copies=4,
        pen_styles=0.3,
        not_digit=True,
    ),
}
# Times scale from the shipped deepcnn-mnist-v1: 20 epochs of 54,000 images took 30 min on a server CPU.
PRESET_NOTES: dict[str, str] = {
    "quick": "a small batch-norm CNN, one epoch over all 60,000 MNIST images with a one-cycle learning rate "
    "(about 99.1 % on the test set); about a minute on a CPU",
    "standard": "the strong CNN, 8 epochs with augmentation, canvas-style MNIST and pen digits; "
    "about 15-30 min on a CPU",
    "best": "how the shipped drawing model's base is made (20 epochs, cosine schedule; the shipped model "
    "fine-tunes it, see its metrics.json); about 40-80 min on a CPU",
}


@dataclass
class TrainConfig:
    """Every knob of a training run. Saved as ``config.json`` beside the model."""

    architecture: str = "deepcnn"
    epochs: int = 15
    batch_size: int = 128
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"  # constant | cosine (to 1% of start) | exponential | onecycle (per batch)
    lr_decay: float = 0.9  # per-epoch factor of the exponential schedule
    ema: bool = False  # keep the weights' moving average (momentum EMA_MOMENTUM) and save that model
    label_smoothing: float = 0.0  # share of each training label spread evenly over all classes
    mixup: float = 0.0  # blend pairs of training images and their labels, weights ~ Beta(mixup, mixup); 0 = off
    augment: bool = True
    rotation: float = 10.0  # max degrees
    zoom: float = 0.1  # max relative scale change
    shift: float = 0.1  # max fraction of the image size
    shear: float = 10.0  # max degrees
    elastic: float = 0.0  # elastic distortion: typical displacement (px) of a smooth random warp; 0 = off
    early_stopping: bool = False
    early_stopping_patience: int = 4
    reduce_lr_on_plateau: bool = False
    plateau_patience: int = 2
    plateau_factor: float = 0.5
    validation_split: float = 0.1
    seed: int = 42
    train_subset: int | None = None  # use only the first N (shuffled) training images
    canvas_style: float = 0.0  # share of MNIST images shown redrawn as canvas strokes, per epoch
    pen_digits: bool = False  # add pen-written digits (training writers), rendered as on the canvas
    pen_copies: int = 4  # renderings per pen digit (brush, size and place vary)
    pen_styles: float = 0.0  # share of pen 0s, 1s and 7s written another way (recognizer.styles)
    pen_distort: float = 0.0  # share of pen renderings reshaped first: slant, width, warp (pendigits.distorted)
    corrections: bool = False  # add the corrections saved from the Draw page
    not_digit: bool = False  # an 11th class "not one digit": letters, digit groups, fragments, scribbles
    init_from: str | None = None  # start from this run's weights (same architecture and classes)
    mined_cuts: int = 0  # add this many wrong cuts that the init_from model reads as a digit

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> TrainConfig:
        """The preset ``name`` (a key of ``PRESETS``) over the defaults, then ``overrides`` over that."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}: one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    @property
    def num_classes(self) -> int:
        return 11 if self.not_digit else 10

    @property
    def soft_labels(self) -> bool:
        """Whether training needs one-hot labels (label smoothing or mixup)."""
        return self.label_smoothing > 0 or self.mixup > 0

    def problems(self) -> list[str]:
        """Human-readable reasons this config cannot run (empty when it can)."""
        return self._choice_problems() + self._bound_problems() + self._combination_problems()

    def _choice_problems(self) -> list[str]:
        from recognizer.models import MODELS  # imports Keras: only when a config is checked

        choices = {"architecture": tuple(MODELS), "optimizer": OPTIMIZERS, "lr_schedule": LR_SCHEDULES}
        return [
            f"{name} must be one of {', '.join(options)}"
            for name, options in choices.items()
            if getattr(self, name) not in options
        ]

    def _bound_problems(self) -> list[str]:
        found = []
        for name, bound in BOUNDS.items():
            value = getattr(self, name)
            if value is not None and not bound.allows(value):
                found.append(bound.problem(name))
        return found

    def _combination_problems(self) -> list[str]:
        """Values that are fine alone but not together."""
        found = []
        if (self.early_stopping or self.reduce_lr_on_plateau) and self.validation_split == 0:
            found.append("early stopping and ReduceLROnPlateau watch validation loss: set validation_split > 0")
        if self.reduce_lr_on_plateau and self.lr_schedule != "constant":
            found.append("ReduceLROnPlateau needs lr_schedule 'constant' (it would fight the schedule)")
        if self.mined_cuts and not (self.init_from and self.not_digit):
            found.append("mined_cuts needs init_from (the model whose mistakes are mined) and not_digit")
        if self.not_digit and not self.pen_digits:
            found.append("not_digit needs pen_digits: its examples are made from pen-written digits and letters")
        return found

    def validate(self) -> TrainConfig:
        """Raise ``ValueError`` listing every problem; return self when there is none."""
        found = self.problems()
        if found:
            raise ValueError("invalid training config: " + "; ".join(found))
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a dict, ignoring keys this version does not know (older/newer runs)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @property
    def lr_per_batch(self) -> bool:
        """Whether the schedule changes the learning rate every batch (else every epoch)."""
        return self.lr_schedule == "onecycle"

    def lr_at(self, epoch: float) -> float:
        """Learning rate the schedule gives at (0-based) ``epoch``; "onecycle" also takes fractions of one."""
        if self.lr_schedule == "onecycle":
            return one_cycle_lr(self.learning_rate, epoch / self.epochs)
        if self.lr_schedule == "cosine":
            floor = 0.01 * self.learning_rate
            frac = epoch / max(1, self.epochs - 1)
            return floor + 0.5 * (self.learning_rate - floor) * (1 + math.cos(math.pi * frac))
        if self.lr_schedule == "exponential":
            return self.learning_rate * self.lr_decay**epoch
        return self.learning_rate


def one_cycle_lr(peak: float, progress: float) -> float:
    """The one-cycle learning rate at ``progress`` (0 = first batch, 1 = end of training)."""
    progress = min(max(progress, 0.0), 1.0)
    if progress < ONECYCLE_WARMUP:
        start = ONECYCLE_START * peak
        return start + (peak - start) * progress / ONECYCLE_WARMUP
    end = ONECYCLE_END * peak
    down = (progress - ONECYCLE_WARMUP) / (1 - ONECYCLE_WARMUP)
    return end + 0.5 * (peak - end) * (1 + math.cos(math.pi * down))


class TrainingHooks:
    """Progress callbacks for a training run; override what you need. All default to no-ops."""

    def on_train_begin(self, info: dict[str, Any]) -> None:
        """``info``: epochs, steps_per_epoch, train_samples, val_samples, test_samples, device."""

    def on_epoch_begin(self, epoch: int, learning_rate: float) -> None:
        """Before each epoch: 0-based epoch and the learning rate it trains with."""

    def on_batch_end(self, epoch: int, step: int, logs: dict[str, float]) -> None:
        """After each training batch: 0-based epoch and step, running loss and accuracy."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """After each epoch: loss, accuracy, val_loss, val_accuracy, learning_rate."""

    def on_download(self, done: int, total: int | None, name: str) -> None:
        """While MNIST downloads (first use on a machine): bytes done and total of file ``name``."""

    def on_phase(self, phase: str) -> None:
        """A coarse phase change: 'loading data', 'training', 'evaluating', 'saving'."""

    def should_stop(self) -> bool:
        """Polled after every batch; True ends training after that batch."""
        return False


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
    from recognizer.augment import canvas_style

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
    from recognizer.feedback import FeedbackStore

    extras = _pen_extras(config, mnist_count, pen_path) if config.pen_digits else []
    if config.corrections:
        x_fix, y_fix = FeedbackStore().load()
        extras.append(("corrections", x_fix, y_fix))
    return extras


def _pen_extras(config: TrainConfig, mnist_count: int, pen_path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The training writers' pen digits, and the "not one digit" examples made from them."""
    from recognizer.data import DataError
    from recognizer.negatives import mined_cuts
    from recognizer.pendigits import as_mnist, load_pen_digits, writer_split

    pen_path = _pen_digits_file(pen_path)
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
        from recognizer.inference import load_recognizer

        mined = mined_cuts(load_recognizer(config.init_from), pen_train, config.mined_cuts, config.seed)
        extras.append(("mined_cuts", *_not_digit_labelled(mined)))
    return extras


def _not_digit_labelled(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from recognizer.negatives import NOT_DIGIT

    return images, np.full(len(images), NOT_DIGIT, np.int64)


def _pen_digits_file(pen_path: str | Path | None) -> Path | None:
    """``pen_path``, else the pen-digits file found by default; None when there is no such file."""
    from recognizer.pendigits import default_pen_digits_path

    pen_path = pen_path or default_pen_digits_path()
    return Path(pen_path) if pen_path is not None and Path(pen_path).is_file() else None


def _pen_letters(writers: int):
    """The pen letters of the training (0) or held-out (1) writers; None without the letters file."""
    from recognizer.pendigits import default_pen_letters_path, load_pen_letters, writer_split

    letters_path = default_pen_letters_path()
    if letters_path is None or not letters_path.is_file():
        return None
    letters = load_pen_letters(letters_path)
    return letters.subset(writer_split(letters)[writers])


def _not_digit_examples(pen_train, seed: int, scale: float) -> np.ndarray:
    """Examples of "not one digit" from the training writers' digits and letters."""
    from recognizer.negatives import not_digit_examples

    return not_digit_examples(pen_train, _pen_letters(0), seed=seed, scale=scale)


def _start_weights(config: TrainConfig, model) -> list:
    """The weights of ``config.init_from``; ``ValueError`` when they do not fit ``model``."""
    import keras

    start = Path(config.init_from)
    weights = keras.saving.load_model(start / MODEL_FILE if start.is_dir() else start, compile=False).get_weights()
    if [w.shape for w in weights] != [w.shape for w in model.get_weights()]:
        raise ValueError(f"{config.init_from} is not a {config.architecture} with {config.num_classes} classes")
    return weights


def _optimizer(config: TrainConfig):
    import keras

    # Keras swaps the averaged weights in when fit() ends, so the saved model is the average.
    options = dict(learning_rate=config.lr_at(0), use_ema=config.ema, ema_momentum=EMA_MOMENTUM)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(momentum=0.9, nesterov=True, **options)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(**options)
    return keras.optimizers.Adam(**options)


def _dataset(x: np.ndarray, y: np.ndarray, config: TrainConfig, training: bool, x_canvas: np.ndarray | None = None):
    import tensorflow as tf

    from recognizer.augment import random_affine
    from recognizer.preprocess import to_unit

    if x_canvas is None:
        x_canvas = x  # one array twice costs no memory: from_tensor_slices does not copy per field
    ds = tf.data.Dataset.from_tensor_slices((x, x_canvas, y.astype(np.int32)))
    if training:
        ds = ds.shuffle(len(x), seed=config.seed, reshuffle_each_iteration=True)
    ds = ds.batch(config.batch_size)
    canvas_share = config.canvas_style if training else 0.0

    def prepare(images, canvas_images, labels):
        if canvas_share > 0:
            pick = tf.random.uniform(tf.shape(labels)) < canvas_share
            images = tf.where(pick[:, None, None], canvas_images, images)
        images = to_unit(tf.cast(images, tf.float32)[..., None])  # as to_model_input scales, in graph form
        if training and config.augment:
            images = random_affine(
                images, config.rotation, config.zoom, config.shift, config.shear, elastic=config.elastic
            )
        if config.soft_labels:
            labels = tf.one_hot(labels, config.num_classes)
        if training and config.mixup > 0:
            images, labels = _mixup(images, labels, config.mixup)
        return images, labels

    return ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _mixup(images, labels, alpha: float):
    """Blend each image and its one-hot label with the batch's reversed order (mixup, Zhang et al. 2018)."""
    import tensorflow as tf

    count = tf.shape(images)[:1]
    first, second = tf.random.gamma(count, alpha), tf.random.gamma(count, alpha)
    weight = first / (first + second)  # ~ Beta(alpha, alpha)
    mixed_images = weight[:, None, None, None] * images + (1 - weight[:, None, None, None]) * tf.reverse(images, [0])
    mixed_labels = weight[:, None] * labels + (1 - weight[:, None]) * tf.reverse(labels, [0])
    return mixed_images, mixed_labels


def _keras_callbacks(config: TrainConfig, hooks: TrainingHooks, steps_per_epoch: int) -> list:
    import keras

    callbacks = [_hooks_bridge(config, hooks, steps_per_epoch), _keep_best(hooks)]
    if config.reduce_lr_on_plateau:
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss", factor=config.plateau_factor, patience=config.plateau_patience, min_lr=1e-6
            )
        )
    if config.early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=config.early_stopping_patience, restore_best_weights=True
            )
        )
    return callbacks


def _hooks_bridge(config: TrainConfig, hooks: TrainingHooks, steps_per_epoch: int):
    """A Keras callback that forwards Keras events to ``hooks`` and sets the scheduled learning rate."""
    import keras

    class Bridge(keras.callbacks.Callback):
        epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            if config.lr_schedule != "constant":
                self.model.optimizer.learning_rate.assign(config.lr_at(epoch))
            hooks.on_epoch_begin(epoch, float(self.model.optimizer.learning_rate.numpy()))

        def on_train_batch_begin(self, batch, logs=None):
            if config.lr_per_batch and batch:  # batch 0 got its rate at the epoch's start
                self.model.optimizer.learning_rate.assign(config.lr_at(self.epoch + batch / steps_per_epoch))

        def on_train_batch_end(self, batch, logs=None):
            hooks.on_batch_end(self.epoch, batch, {k: float(v) for k, v in (logs or {}).items()})
            if hooks.should_stop():
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            logs = logs if logs is not None else {}
            logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())
            hooks.on_epoch_end(epoch, {k: float(v) for k, v in logs.items()})

    return Bridge()


def _keep_best(hooks: TrainingHooks):
    """A Keras callback that remembers the best epoch's weights (validation loss), for a run stopped by hand."""
    import keras

    class KeepBest(keras.callbacks.Callback):
        best_loss, best_weights = float("inf"), None

        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("val_loss")
            if loss is not None and loss < self.best_loss:
                self.best_loss, self.best_weights = loss, self.model.get_weights()

        def on_train_end(self, logs=None):
            if hooks.should_stop() and self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    return KeepBest()


def _strategy():
    """Mirror the model over several GPUs when there are; otherwise the default (one device)."""
    import tensorflow as tf

    if len(tf.config.list_physical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def training_device() -> str:
    """A short description of what trains: the GPU(s) TensorFlow sees, else the CPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"{len(gpus)} GPU(s): " + ", ".join(g.name for g in gpus) if gpus else "CPU"


def new_run_name(config: TrainConfig) -> str:
    """A run's folder name: the time it starts and its architecture (``20260101-120000-deepcnn``)."""
    return f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{config.architecture}"


@dataclass
class _Fitted:
    """A trained model and how its training went."""

    model: Any
    history: dict[str, list]
    seconds: float
    stopped_by_hand: bool


@dataclass
class _Tested:
    """What a trained model scores: MNIST test, and the pen hold-outs where their files are found."""

    labels: np.ndarray
    proba: np.ndarray
    report: dict
    pen_report: dict | None
    not_digit_report: dict | None
    calibration: dict | None


def train(
    config: TrainConfig,
    runs_dir: str | Path | None = None,
    hooks: TrainingHooks | None = None,
    mnist=None,
    data_dir: str | Path | None = None,
    run_name: str | None = None,
    made_by: str = "recognizer.train.train",
    pen_path: str | Path | None = None,
) -> Path:
    """Train ``config`` and return the finished run folder.

    ``mnist`` (the ``load_mnist`` tuple) may be passed to skip loading; otherwise it is read from
    ``data_dir`` (see ``recognizer.data.load_mnist``). ``runs_dir`` defaults to the user's runs
    folder. ``made_by`` (e.g. the command line) is recorded in metrics.json.
    """
    import keras

    from recognizer.data import load_mnist

    config.validate()
    hooks = hooks or TrainingHooks()
    runs_dir = Path(runs_dir) if runs_dir is not None else paths.runs_dir()
    run_name = run_name or new_run_name(config)
    if (runs_dir / run_name).exists():
        raise FileExistsError(f"run folder {runs_dir / run_name} already exists")

    hooks.on_phase("loading data")
    data = split_data(config, mnist if mnist is not None else load_mnist(data_dir, progress=hooks.on_download))
    data = add_drawing_data(config, data, pen_path)
    keras.utils.set_random_seed(config.seed)
    fitted = _fit(_compiled_model(config), data, config, hooks)
    hooks.on_phase("evaluating")
    tested = _test(fitted.model, data, pen_path)
    hooks.on_phase("saving")
    made = _how_it_was_made(config, data, fitted, made_by)
    return write_run_folder(
        runs_dir, run_name, lambda folder: _write_run_files(folder, run_name, config, fitted, tested, made)
    )


def _compiled_model(config: TrainConfig):
    """The config's model, on every GPU there is, from scratch or from ``init_from``'s weights."""
    from recognizer.models import build_model

    with _strategy().scope():
        model = build_model(config.architecture, config.num_classes)
        if config.init_from:
            model.set_weights(_start_weights(config, model))
        model.compile(optimizer=_optimizer(config), loss=_loss(config), metrics=["accuracy"])
    return model


def _loss(config: TrainConfig):
    import keras

    if config.soft_labels:
        return keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    return "sparse_categorical_crossentropy"


def _fit(model, data: DataSplit, config: TrainConfig, hooks: TrainingHooks) -> _Fitted:
    """Train ``model`` on ``data``, telling ``hooks`` as it goes."""
    train_ds = _dataset(data.x_train, data.y_train, config, training=True, x_canvas=data.x_train_canvas)
    val_ds = _dataset(data.x_val, data.y_val, config, training=False) if len(data.x_val) else None
    steps_per_epoch = math.ceil(len(data.x_train) / config.batch_size)
    hooks.on_train_begin(
        {
            "epochs": config.epochs,
            "steps_per_epoch": steps_per_epoch,
            "train_samples": len(data.x_train),
            "val_samples": len(data.x_val),
            "test_samples": len(data.x_test),
            "sources": dict(data.sources),
            "device": training_device(),
        }
    )
    hooks.on_phase("training")
    started = time.perf_counter()
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=config.epochs,
        verbose=0,
        shuffle=False,  # the dataset shuffles itself, seeded
        callbacks=_keras_callbacks(config, hooks, steps_per_epoch),
    )
    return _Fitted(model, history.history, time.perf_counter() - started, hooks.should_stop())


def _test(model, data: DataSplit, pen_path) -> _Tested:
    from recognizer.evaluate import classification_report
    from recognizer.inference import Recognizer

    recognizer = Recognizer(model)
    proba = recognizer.predict_proba(data.x_test)
    not_digit = not_digit_holdout_report(recognizer, pen_path) if recognizer.knows_not_digit else None
    report = classification_report(data.y_test, proba)
    report["network_accuracy"] = float(np.mean(recognizer.predict(data.x_test, views=False) == data.y_test))
    calibration = calibration_holdout_report(recognizer, pen_path, data.y_test, proba)
    return _Tested(data.y_test, proba, report, pen_holdout_report(recognizer, pen_path), not_digit, calibration)


def _how_it_was_made(config: TrainConfig, data: DataSplit, fitted: _Fitted, made_by: str) -> dict[str, Any]:
    """The training facts metrics.json records (see ``run_metrics``)."""
    epochs_run = len(fitted.history.get("loss", []))
    return {
        "architecture": config.architecture,
        "epochs_run": epochs_run,
        "stopped_early": epochs_run < config.epochs,
        "status": "stopped" if fitted.stopped_by_hand else "finished",
        "training_seconds": round(fitted.seconds, 1),
        "train_samples": len(data.x_train),
        "train_sources": dict(data.sources),
        "val_samples": len(data.x_val),
        "made_by": made_by,
    }


def _write_run_files(folder: Path, run_name: str, config: TrainConfig, fitted: _Fitted, tested: _Tested, made: dict):
    """Everything a run folder holds (see the module docstring), written into ``folder``."""
    from recognizer.models import inference_copy

    inference_copy(fitted.model).save(folder / MODEL_FILE)
    metrics = run_metrics(run_name, fitted.model, folder / MODEL_FILE, tested.report, tested.pen_report, made)
    if tested.not_digit_report is not None:
        metrics["not_digit"] = tested.not_digit_report
    if tested.calibration is not None:
        metrics["calibration"] = tested.calibration
    write_json_atomic(folder / "config.json", config.to_dict())
    write_json_atomic(folder / "history.json", _history_dict(fitted.history))
    write_json_atomic(folder / "metrics.json", metrics)
    # Every test answer, so analysis pages never re-run the model (float16: 200 KB).
    write_test_answers(folder, tested.labels, tested.proba)


def run_metrics(name: str, model, model_file: Path, report: dict, pen_report: dict | None, made: dict) -> dict:
    """A run's ``metrics.json`` record, for trained runs and ensembles alike.

    ``report``: ``recognizer.evaluate.classification_report`` on the MNIST test set; ``pen_report``:
    ``pen_holdout_report`` (None: not measured); ``made``: how the model was made (architecture,
    epochs_run, stopped_early, status, training_seconds, train_samples, train_sources, val_samples,
    made_by, and anything more, such as an ensemble's members).
    """
    import tensorflow as tf

    from recognizer.models import parameter_count

    metrics = {
        "model": name,
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        **mnist_test_metrics(report),
        **made,
        "parameter_count": parameter_count(model),
        "model_file_bytes": Path(model_file).stat().st_size,
        "device": training_device(),
        "tensorflow_version": tf.__version__,
    }
    if pen_report is not None:
        metrics["pen_holdout_accuracy"] = pen_report["accuracy"]
        metrics["pen_holdout"] = pen_report
    return metrics


def mnist_test_metrics(report: dict) -> dict:
    """The metrics.json fields of ``classification_report`` on the MNIST test set (``test_accuracy``...)."""
    renamed = {"accuracy": "test_accuracy", "loss": "test_loss"}
    return {renamed.get(key, key): value for key, value in report.items()}


def pen_holdout_report(recognizer, pen_path: str | Path | None) -> dict | None:
    """How the model reads the held-out writers' pen digits drawn on the canvas (None: no data).

    ``styled`` reads their 1s, 7s and 0s in each common way of writing them (``recognizer.styles``).
    """
    from recognizer.pendigits import evaluate_drawings
    from recognizer.styles import styled_report

    held_out = _held_out_pen(pen_path)
    if held_out is None:
        return None
    report = evaluate_drawings(recognizer, held_out, seed=0, copies=1)
    report["writers"] = int(len(np.unique(held_out.writers)))
    report["protocol"] = "one random canvas rendering per digit: brush 10-30 px, height 25-90 % of 280 px, seed 0"
    report["styled"] = styled_report(recognizer, held_out)
    return report


def not_digit_holdout_report(recognizer, pen_path: str | Path | None) -> dict | None:
    """How often held-out writers' letters, digit pairs and digits are flagged "not a digit"."""
    from recognizer.negatives import evaluate_not_digit

    held_out = _held_out_pen(pen_path)
    return None if held_out is None else evaluate_not_digit(recognizer, held_out, _pen_letters(1))


def calibration_holdout_report(recognizer, pen_path, labels=None, proba=None) -> dict | None:
    """ECE and the measured "Not sure" threshold on the held-out pen digits (``recognizer.confidence``).

    ``labels`` and ``proba`` (the MNIST test set's) add the MNIST ECE.
    """
    from recognizer.confidence import calibration_report

    held_out = _held_out_pen(pen_path)
    return None if held_out is None else calibration_report(recognizer, held_out, labels, proba)


def _held_out_pen(pen_path: str | Path | None):
    """The held-out writers' pen digits (``pendigits.writer_split``); None without the file."""
    from recognizer.pendigits import load_pen_digits, writer_split

    pen_path = _pen_digits_file(pen_path)
    if pen_path is None:
        return None
    pen = load_pen_digits(pen_path)
    return pen.subset(writer_split(pen)[1])


def _history_dict(history: dict[str, list]) -> dict[str, list[float]]:
    wanted = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")
    out = {k: [float(v) for v in history[k]] for k in wanted if k in history}
    out["epoch"] = list(range(1, len(history.get("loss", [])) + 1))
    return out
