"""recognizer.training.batch_curves: the training curve within epochs, its throttle, its files and figure."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recognizer.core import figures
from recognizer.core.runs import BATCHES_FILE
from recognizer.training.batch_curves import BatchCurve


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _keras_running_means(batch_losses: list[float], batch_sizes: list[int]) -> list[float]:
    """What Keras logs after each batch: the sample-weighted mean of the epoch's batches so far."""
    sums, seen = np.cumsum(np.multiply(batch_losses, batch_sizes)), np.cumsum(batch_sizes)
    return list(sums / seen)


def _one_epoch(curve: BatchCurve, losses: list[float], accuracies: list[float], clock=None, step_seconds=0.0):
    sizes = [min(curve.batch_size, curve.samples - k * curve.batch_size) for k in range(curve.steps)]
    running_loss = _keras_running_means(losses, sizes)
    running_acc = _keras_running_means(accuracies, sizes)
    for step in range(curve.steps):
        if clock is not None:
            clock.now += step_seconds
        if curve.due(0, step):
            curve.add(0, step, {"loss": running_loss[step], "accuracy": running_acc[step]}, 0.01)


def test_points_are_the_mean_over_their_own_stretch_not_since_the_epoch_began():
    curve = BatchCurve(steps_per_epoch=10, batch_size=10, train_samples=95, points_per_epoch=5, min_seconds=0)
    losses = [float(v) for v in range(10, 0, -1)]  # 10, 9, ..., 1: the model learns
    _one_epoch(curve, losses, [0.1 * k for k in range(10)])
    assert curve.columns["epoch"] == [0.2, 0.4, 0.6, 0.8, 1.0]
    # Each point is its two batches alone; the last batch holds 5 images, so it weighs half.
    assert curve.columns["loss"] == pytest.approx([9.5, 7.5, 5.5, 3.5, (2 * 10 + 1 * 5) / 15], rel=1e-5)
    assert curve.columns["accuracy"] == pytest.approx([0.05, 0.25, 0.45, 0.65, (0.8 * 10 + 0.9 * 5) / 15], rel=1e-5)
    assert curve.columns["learning_rate"] == [0.01] * 5


def test_a_point_about_every_percent_of_an_epoch():
    curve = BatchCurve(steps_per_epoch=469, batch_size=128, train_samples=60_000, min_seconds=0)
    _one_epoch(curve, [1.0] * 469, [0.5] * 469)
    xs = np.array(curve.columns["epoch"])
    assert len(xs) == 100 and xs[-1] == 1.0
    assert np.diff(xs).max() <= 0.02 and np.all(np.diff(xs) > 0)


def test_the_clock_throttles_a_fast_run_but_every_epoch_ends_with_a_point():
    clock = FakeClock()
    curve = BatchCurve(steps_per_epoch=1000, batch_size=10, train_samples=10_000, min_seconds=0.05, clock=clock)
    _one_epoch(curve, [1.0] * 1000, [0.5] * 1000, clock, step_seconds=0.001)  # a 1 s epoch: 20 points a second
    xs = curve.columns["epoch"]
    assert 19 <= len(xs) <= 21 and xs[-1] == 1.0
    throttled_loss = np.average(curve.columns["loss"], weights=np.diff([0.0, *xs]))
    assert throttled_loss == pytest.approx(1.0)  # skipped marks widen a stretch; nothing is lost


def test_a_new_epoch_starts_its_own_stretches():
    curve = BatchCurve(steps_per_epoch=2, batch_size=1, train_samples=2, points_per_epoch=2, min_seconds=0)
    curve.add(0, 0, {"loss": 4.0, "accuracy": 0.0}, 0.1)
    curve.add(0, 1, {"loss": 3.0, "accuracy": 0.5}, 0.1)
    point = curve.add(1, 0, {"loss": 1.0, "accuracy": 1.0}, 0.05)  # Keras' running mean starts again
    assert point == {"epoch": 1.5, "loss": 1.0, "accuracy": 1.0, "learning_rate": 0.05}
    assert curve.columns["loss"] == [4.0, 2.0, 1.0]


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError):
        BatchCurve(steps_per_epoch=0, batch_size=10, train_samples=10)


def _honest(fig) -> dict:
    layout = fig.to_dict()["layout"]
    return {"loss": layout["yaxis"]["range"], "accuracy": layout["yaxis2"]["range"]}


def test_a_one_epoch_run_reads_as_a_curve_with_honest_axes():
    curve = BatchCurve(steps_per_epoch=469, batch_size=128, train_samples=60_000, min_seconds=0)
    steps = np.arange(469)
    _one_epoch(curve, list(2.3 * np.exp(-steps / 40) + 0.03), list(1 - 0.9 * np.exp(-steps / 40)))
    history = {"epoch": [1], "loss": [0.2], "accuracy": [0.95], "learning_rate": [1e-4]}
    fig = figures.learning_curves_figure(history, curve.columns)
    train = [t for t in fig.data if t.name in ("train", "train (raw)")]
    assert len(train) == 4 and all(len(t.x) >= 20 for t in train)
    assert {t.xaxis for t in train} == {"x", "x2"}
    axes = _honest(fig)
    assert axes["loss"][0] == 0 and axes["loss"][1] >= max(curve.columns["loss"])
    assert 0 <= axes["accuracy"][0] <= min(curve.columns["accuracy"]) and axes["accuracy"][1] == 1.0
    rate = next(t for t in fig.data if t.name == "learning rate")
    assert len(rate.x) == 100  # the rate's shape within the epoch, not one dot


def test_a_single_epoch_without_a_curve_says_what_it_is_and_keeps_honest_axes():
    fig = figures.learning_curves_figure({"epoch": [1], "loss": [0.1], "accuracy": [0.99], "learning_rate": [1e-3]})
    axes = _honest(fig)
    assert axes["loss"][0] == 0 and 0 < axes["accuracy"][0] < 0.99 and axes["accuracy"][1] == 1.0
    texts = [a["text"] for a in fig.to_dict()["layout"]["annotations"]]
    assert any("single point" in t for t in texts)
    assert "without a validation split" in fig.layout.legend.title.text
    assert not [t for t in fig.data if t.name == "validation"]


def test_a_validated_run_has_no_note_on_validation():
    history = {"epoch": [1, 2], "loss": [0.3, 0.2], "val_loss": [0.25, 0.2], "accuracy": [0.9, 0.95]}
    history["val_accuracy"] = [0.92, 0.96]
    fig = figures.learning_curves_figure(history)
    assert not fig.layout.legend.title.text
    assert [t.name for t in fig.data].count("validation") == 2
    # The live page knows a validation split is coming before its first point is there.
    live = figures.learning_curves_figure({"epoch": [], "loss": []}, {"epoch": [0.5], "loss": [1.0]}, validated=True)
    assert not live.layout.legend.title.text


def test_a_trained_run_keeps_its_curve_beside_its_history(tiny_run):
    history = json.loads((tiny_run / "history.json").read_text())
    curve = json.loads((tiny_run / BATCHES_FILE).read_text())
    config = json.loads((tiny_run / "config.json").read_text())
    xs = curve["epoch"]
    assert xs and xs[-1] == 1.0 and all(a < b for a, b in zip([0.0, *xs], xs, strict=False))
    # The stretches, weighed by their images, give back Keras' own epoch mean.
    train_samples = json.loads((tiny_run / "metrics.json").read_text())["train_samples"]
    steps = -(-train_samples // config["batch_size"])
    seen = [min(round(x * steps) * config["batch_size"], train_samples) for x in xs]
    weights = np.diff([0, *seen])
    assert np.average(curve["loss"], weights=weights) == pytest.approx(history["loss"][0], rel=1e-4)
    assert np.average(curve["accuracy"], weights=weights) == pytest.approx(history["accuracy"][0], rel=1e-4)
    assert all(rate > 0 for rate in curve["learning_rate"])
