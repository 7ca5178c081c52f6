"""Training curves at the grain of the run: a point about every 1 % of an epoch, not one an epoch.

Keras reports, after each batch, the running mean of the loss and accuracy since the epoch began.
``BatchCurve`` turns two such running means into the mean over the stretch of batches between
them, so a point says how the model does now, not since the epoch's start, and the curve does not
jump where an epoch ends. Points are kept as columns, as ``history.json`` keeps epochs:
``{"epoch": [...], "loss": [...], "accuracy": [...], "learning_rate": [...]}``, where ``epoch`` is
continuous: 0.37 is 37 % of the way through the first epoch and 1.0 its end. A run folder keeps
them in ``batches.json`` (``recognizer.core.runs.BATCHES_FILE``).

    >>> curve = BatchCurve(steps_per_epoch=4, batch_size=10, train_samples=40, points_per_epoch=2, min_seconds=0)
    >>> [curve.due(0, step) for step in range(4)]
    [False, True, False, True]
    >>> curve.add(0, 1, {"loss": 2.0, "accuracy": 0.5}, 0.1)
    {'epoch': 0.5, 'loss': 2.0, 'accuracy': 0.5, 'learning_rate': 0.1}
    >>> curve.add(0, 3, {"loss": 1.5, "accuracy": 0.6}, 0.1)["loss"]  # batches 3-4 alone: (1.5*40 - 2*20) / 20
    1.0
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

POINTS_PER_EPOCH = 100
# A point costs a few microseconds, but a run of tiny epochs could ask for one every batch: no more
# than twenty a second, so the curve never costs a fast run time.
MIN_SECONDS = 0.05
KEYS = ("epoch", "loss", "accuracy", "learning_rate")
SIGNIFICANT_DIGITS = 6  # JSON of 100 points an epoch stays small


def empty_curve() -> dict[str, list[float]]:
    """The columns of a curve with no points yet."""
    return {key: [] for key in KEYS}


class BatchCurve:
    """Collects a training curve from Keras' per-batch running means (see the module docstring)."""

    def __init__(
        self,
        steps_per_epoch: int,
        batch_size: int,
        train_samples: int,
        points_per_epoch: int = POINTS_PER_EPOCH,
        min_seconds: float = MIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        if steps_per_epoch < 1 or batch_size < 1 or train_samples < 1 or points_per_epoch < 1:
            raise ValueError("steps_per_epoch, batch_size, train_samples and points_per_epoch must be positive")
        self.steps, self.batch_size, self.samples = steps_per_epoch, batch_size, train_samples
        self.points_per_epoch, self.min_seconds, self.clock = points_per_epoch, min_seconds, clock
        self.columns = empty_curve()
        self._last = (-1, 0, 0.0, 0.0)  # epoch, samples seen in it, their summed loss and accuracy
        self._last_time = -math.inf

    def _grid(self, step: int) -> int:
        """How many of the epoch's ``points_per_epoch`` marks batch ``step`` (0-based) has passed."""
        return (step + 1) * self.points_per_epoch // self.steps

    def due(self, epoch: int, step: int) -> bool:
        """Whether batch ``step`` of ``epoch`` ends a stretch: a new mark passed, and not too soon.

        An epoch's last batch always ends one, since Keras' running means start again after it.
        """
        if step + 1 >= self.steps:
            return True
        passed = self._grid(step) > self._grid(step - 1)
        return passed and self.clock() - self._last_time >= self.min_seconds

    def _seen(self, step: int) -> int:
        return min((step + 1) * self.batch_size, self.samples)

    def add(self, epoch: int, step: int, logs: dict[str, float], learning_rate: float | None) -> dict | None:
        """Record the stretch that batch ``step`` of ``epoch`` ends; the point, or None without a loss."""
        if "loss" not in logs:
            return None
        seen = self._seen(step)
        loss_sum, accuracy_sum = logs["loss"] * seen, logs.get("accuracy", math.nan) * seen
        _, last_seen, last_loss, last_accuracy = self._last if self._last[0] == epoch else (epoch, 0, 0.0, 0.0)
        stretch = seen - last_seen
        if stretch <= 0:
            return None
        point = {
            "epoch": epoch + (step + 1) / self.steps,
            "loss": (loss_sum - last_loss) / stretch,
            "accuracy": (accuracy_sum - last_accuracy) / stretch,
            "learning_rate": learning_rate,
        }
        point = {key: _rounded(value) for key, value in point.items()}
        for key in KEYS:
            self.columns[key].append(point[key])
        self._last, self._last_time = (epoch, seen, loss_sum, accuracy_sum), self.clock()
        return point


def _rounded(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def append_point(columns: dict[str, list], point: dict) -> None:
    """Add ``point`` (one value per ``KEYS``) to a curve's ``columns``, as a job's progress keeps them."""
    for key in KEYS:
        columns.setdefault(key, []).append(point.get(key))
