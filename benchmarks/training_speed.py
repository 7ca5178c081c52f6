"""How fast a recipe trains: seconds of training until the MNIST test accuracy reaches a target.

``digits-benchmark`` times the project's fastest preset (``recognizer.training.config.PRESETS``, trained
exactly as ``recognizer.training.loop.train`` does) against the keras.io "Simple MNIST convnet" recipe
(Conv32-pool-Conv64-pool-dropout 0.5-dense, Adam, batch 128, a tenth held out for validation).

    >>> from benchmarks.training_speed import keras_io_run, preset_run
    >>> preset_run("quick", mnist, target=0.99)  # doctest: +SKIP
    {'recipe': 'preset quick', 'reached': True, 'seconds': 16.0, 'best_accuracy': 0.9905, 'epochs': 0.75, ...}

The test accuracy is checked ``checks_per_epoch`` times an epoch; the clock stops while it is
checked, so the seconds are training alone (validation included, as each recipe does it).
"""

from __future__ import annotations

import math
import time

import numpy as np

TARGET_ACCURACY = 0.99
CHECKS_PER_EPOCH = 4
KERAS_IO_EPOCHS = 15  # the recipe's own number of epochs
EVAL_BATCH = 2000


def fastest_preset() -> str:
    """The preset with the least training work: epochs times training images."""
    from recognizer.data.mnist import MNIST_TRAIN_IMAGES
    from recognizer.training.config import PRESETS, TrainConfig

    def work(name: str) -> float:
        config = TrainConfig.preset(name)
        return config.epochs * (config.train_subset or MNIST_TRAIN_IMAGES)

    return min(PRESETS, key=work)


class AccuracyClock:
    """Training seconds until the test accuracy reaches ``target``, checked every ``every`` batches."""

    def __init__(self, x_test: np.ndarray, y_test: np.ndarray, target: float, every: int):
        from recognizer.core.preprocess import to_model_input

        self.x_test, self.y_test = to_model_input(x_test), np.asarray(y_test)
        self.target, self.every = target, max(1, every)
        self.seconds, self.batches, self.best = 0.0, 0, 0.0
        self.reached_at: float | None = None
        self._since = time.perf_counter()

    def start(self) -> None:
        self._since = time.perf_counter()

    def batch_done(self, model) -> bool:
        """Count one batch; every ``every`` batches check the accuracy. True once it is reached."""
        self.batches += 1
        if self.batches % self.every:
            return self.reached_at is not None
        self.seconds += time.perf_counter() - self._since
        accuracy = self.accuracy(model)
        self.best = max(self.best, accuracy)
        if accuracy >= self.target and self.reached_at is None:
            self.reached_at = self.seconds
        self._since = time.perf_counter()
        return self.reached_at is not None

    def accuracy(self, model) -> float:
        x = self.x_test
        parts = [np.asarray(model(x[i : i + EVAL_BATCH], training=False)) for i in range(0, len(x), EVAL_BATCH)]
        return float(np.mean(np.concatenate(parts)[:, :10].argmax(axis=1) == self.y_test))

    def report(self, recipe: str, steps_per_epoch: int) -> dict:
        return {
            "recipe": recipe,
            "target_accuracy": self.target,
            "reached": self.reached_at is not None,
            "seconds": round(self.reached_at if self.reached_at is not None else self.seconds, 1),
            "best_accuracy": round(self.best, 4),
            "epochs": round(self.batches / steps_per_epoch, 2),
        }


def _clock_hooks(clock: AccuracyClock, model):
    """``TrainingHooks`` that feed ``clock`` and stop training once the target is reached."""
    from recognizer.training.hooks import TrainingHooks

    class ClockHooks(TrainingHooks):
        stop = False

        def on_phase(self, phase: str) -> None:
            if phase == "training":
                clock.start()

        def on_batch_end(self, epoch, step, logs) -> None:
            self.stop = clock.batch_done(model)

        def should_stop(self) -> bool:
            return self.stop

    return ClockHooks()


def preset_run(
    name: str, mnist, target: float = TARGET_ACCURACY, checks_per_epoch: int = CHECKS_PER_EPOCH, **overrides
) -> dict:
    """Train the preset ``name`` as ``recognizer.training.loop.train`` does, until ``target`` or its last epoch."""
    import keras

    # The private steps of recognizer.training.loop.train, so the preset trains exactly as a run does.
    from recognizer.training.config import PRESETS, TrainConfig
    from recognizer.training.datasets import add_drawing_data, split_data
    from recognizer.training.loop import compiled_model, fit

    config = TrainConfig.preset(name, **overrides).validate()
    data = add_drawing_data(config, split_data(config, mnist))
    keras.utils.set_random_seed(config.seed)
    model = compiled_model(config)
    steps = math.ceil(len(data.x_train) / config.batch_size)
    clock = AccuracyClock(data.x_test, data.y_test, target, steps // checks_per_epoch)
    fit(model, data, config, _clock_hooks(clock, model))
    shown = {**PRESETS[name], **overrides}  # what the preset (and the caller) set
    return {**clock.report(f"preset {name}", steps), "config": {k: getattr(config, k) for k in shown}}


def keras_io_convnet(num_classes: int = 10):
    """The keras.io "Simple MNIST convnet" (34,826 parameters)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )


def keras_io_run(
    mnist,
    target: float = TARGET_ACCURACY,
    checks_per_epoch: int = CHECKS_PER_EPOCH,
    epochs: int = KERAS_IO_EPOCHS,
    train_subset: int | None = None,
) -> dict:
    """Train the keras.io recipe (Adam, batch 128, validation split 0.1) until ``target`` or ``epochs``."""
    import keras

    from recognizer.core.preprocess import to_model_input

    (x_train, y_train), (x_test, y_test) = mnist
    if train_subset:
        x_train, y_train = x_train[:train_subset], y_train[:train_subset]
    keras.utils.set_random_seed(42)
    model = keras_io_convnet()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    steps = math.ceil(len(x_train) * 0.9 / 128)
    clock = AccuracyClock(x_test, y_test, target, steps // checks_per_epoch)

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            clock.start()

        def on_train_batch_end(self, batch, logs=None):
            if clock.batch_done(self.model):
                self.model.stop_training = True

    model.fit(
        to_model_input(x_train),
        y_train,
        batch_size=128,
        epochs=epochs,
        validation_split=0.1,
        verbose=0,
        callbacks=[Clock()],
    )
    return clock.report("keras.io simple MNIST convnet", steps)


def curve_overhead(name: str, mnist, repeats: int = 3, **overrides) -> dict:
    """What recording the training curve costs: preset ``name`` trained with and without it.

    The two alternate (on, off, then off, on, ...) so that a machine growing busier or quieter
    weighs on both; medians of ``repeats`` each. ``point_us`` is one point's own cost (deciding
    it is due, adding it, reading the learning rate), timed apart, and ``counted_share`` what the
    points then take of the training time: a cost far below what the A/B's noise can show.
    """
    import keras

    from recognizer.training.config import TrainConfig
    from recognizer.training.datasets import add_drawing_data, split_data
    from recognizer.training.hooks import TrainingHooks
    from recognizer.training.loop import compiled_model, fit

    config = TrainConfig.preset(name, **overrides).validate()
    data = add_drawing_data(config, split_data(config, mnist))
    seconds: dict[bool, list[float]] = {True: [], False: []}
    points = 0
    for k in range(repeats):
        for recording in (True, False) if k % 2 == 0 else (False, True):
            keras.utils.set_random_seed(config.seed)
            fitted = fit(compiled_model(config), data, config, TrainingHooks(), curve_points=recording)
            seconds[recording].append(fitted.seconds)
            points = max(points, len(fitted.curve["epoch"]))
    on, off = float(np.median(seconds[True])), float(np.median(seconds[False]))
    point_us = point_cost_us() + rate_read_us(fitted.model)
    return {
        "preset": name,
        "repeats": repeats,
        "with_curve_s": round(on, 2),
        "without_curve_s": round(off, 2),
        "ratio": round(on / off, 4),
        "runs_s": {"with": [round(t, 2) for t in seconds[True]], "without": [round(t, 2) for t in seconds[False]]},
        "points": points,
        "point_us": round(point_us, 2),
        # What the points cost, counted: the share of the training time they take.
        "counted_share": round(points * point_us / 1e6 / off, 6),
    }


def rate_read_us(model, reads: int = 2_000) -> float:
    """Microseconds one read of the optimizer's learning rate takes (each curve point reads it)."""
    started = time.perf_counter()
    for _ in range(reads):
        float(model.optimizer.learning_rate.numpy())
    return (time.perf_counter() - started) / reads * 1e6


def point_cost_us(points: int = 20_000) -> float:
    """Microseconds one curve point costs: ``BatchCurve.due`` and ``BatchCurve.add`` together."""
    from recognizer.training.batch_curves import BatchCurve

    curve = BatchCurve(
        steps_per_epoch=points, batch_size=1, train_samples=points, points_per_epoch=points, min_seconds=0
    )
    logs = {"loss": 0.1, "accuracy": 0.9}
    started = time.perf_counter()
    for step in range(points):
        if curve.due(0, step):
            curve.add(0, step, logs, 0.001)
    return (time.perf_counter() - started) / points * 1e6
