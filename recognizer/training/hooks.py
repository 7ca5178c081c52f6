"""How a training run reports its progress: override the ``TrainingHooks`` methods you need.

The CLI prints, the Train page's job writes ``progress.json``, the tests count; training itself
only calls these methods.
"""

from __future__ import annotations

from typing import Any


class TrainingHooks:
    """Progress callbacks for a training run; override what you need. All default to no-ops."""

    def on_train_begin(self, info: dict[str, Any]) -> None:
        """``info``: epochs, steps_per_epoch, train_samples, val_samples, test_samples, device."""

    def on_epoch_begin(self, epoch: int, learning_rate: float) -> None:
        """Before each epoch: 0-based epoch and the learning rate it trains with."""

    def on_batch_end(self, epoch: int, step: int, logs: dict[str, float]) -> None:
        """After each training batch: 0-based epoch and step, running loss and accuracy."""

    def on_curve_point(self, point: dict[str, float | None]) -> None:
        """About every 1 % of an epoch: a point of the training curve (``training.batch_curves``):
        epoch (continuous), loss and accuracy over the batches since the last point, learning_rate."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """After each epoch: loss, accuracy, val_loss, val_accuracy, learning_rate."""

    def on_download(self, done: int, total: int | None, name: str) -> None:
        """While MNIST downloads (first use on a machine): bytes done and total of file ``name``."""

    def on_phase(self, phase: str) -> None:
        """A coarse phase change: 'loading data', 'training', 'evaluating', 'saving'."""

    def should_stop(self) -> bool:
        """Polled after every batch; True ends training after that batch."""
        return False
