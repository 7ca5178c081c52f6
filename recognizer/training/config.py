"""Every knob of a training run, in one typed config saved beside the model as ``config.json``.

What a config may hold is written once, here: each numeric field's ``BOUNDS`` (``problems()``
checks them, the Train page's widgets offer them) and the ``PRESETS`` the page and
``digits-train --preset`` start from.

    >>> TrainConfig.preset("quick", epochs=2).lr_schedule  # a ready-made run, one value changed
    'onecycle'
    >>> TrainConfig(epochs=0).problems()
    ['epochs must be between 1 and 1,000']
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from recognizer.data.mnist import MNIST_TRAIN_IMAGES

OPTIMIZERS = ("adam", "rmsprop", "sgd")


LR_SCHEDULES = ("constant", "cosine", "exponential", "onecycle")


# The one-cycle schedule (Smith & Topin 2017) climbs from a tenth of the peak learning rate to the
# peak over the first ONECYCLE_WARMUP of training, then follows a cosine down to almost nothing: the
# warm-up lets batch norm's statistics settle before the high rate, the long descent fine-tunes.
ONECYCLE_WARMUP = 0.25


ONECYCLE_START = 0.1  # share of the peak it starts from


ONECYCLE_END = 1e-3  # share of the peak it ends at


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
    # One epoch over all of MNIST with a one-cycle rate: past 99 % on the test set in a fraction of the
    # keras.io recipe's time (docs/performance.md, benchmarks.training_speed). No validation or
    # augmentation: both cost time one epoch lacks.
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


# Times scale from the shipped deepcnn-mnist-v1's training time (docs/models.md).
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
    pen_styles: float = 0.0  # share of pen 0s, 1s and 7s written another way (recognizer.data.styles)
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
        from recognizer.nets.architectures import MODELS  # imports Keras: only when a config is checked

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


def new_run_name(config: TrainConfig) -> str:
    """A run's folder name: the time it starts and its architecture (``20260101-120000-deepcnn``)."""
    return f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{config.architecture}"
