"""Training speed: which preset is the fastest, and the clock that times a recipe to a test accuracy."""

import numpy as np

from benchmarks import training_speed
from recognizer.data.mnist import MNIST_TRAIN_IMAGES
from recognizer.training.config import PRESETS, TrainConfig


class Improving:
    """A stand-in model: at its n-th call it answers the first ``n * step`` images right, the rest 0."""

    def __init__(self, labels, step):
        self.labels, self.step, self.calls = labels, step, 0

    def __call__(self, x, training=False):
        self.calls += 1
        answers = np.where(np.arange(len(x)) < self.calls * self.step, self.labels[: len(x)], 0)
        return np.eye(10)[answers]


def test_fastest_preset_is_the_one_with_the_least_work():
    def work(name):
        config = TrainConfig.preset(name)
        return config.epochs * (config.train_subset or MNIST_TRAIN_IMAGES)

    assert training_speed.fastest_preset() == min(PRESETS, key=work) == "quick"


def test_clock_checks_every_n_batches_and_remembers_when_the_target_was_reached():
    labels = np.arange(10) % 9 + 1  # no label 0, so an answer 0 is wrong
    model = Improving(labels, step=4)
    clock = training_speed.AccuracyClock(np.zeros((10, 28, 28), np.uint8), labels, target=0.8, every=3)
    reached = [clock.batch_done(model) for _ in range(9)]
    # Checked after batches 3, 6 and 9: 40 %, 80 %, 100 % right; the target is reached at the second check.
    assert model.calls == 3 and reached == [False] * 5 + [True] * 4
    report = clock.report("fake", steps_per_epoch=3)
    assert report["reached"] and report["best_accuracy"] == 1.0 and report["epochs"] == 3.0
    assert report["seconds"] <= clock.seconds  # the time at the check that reached it, not the whole run


def test_preset_run_trains_the_preset_as_configured(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    small = ((x_train, y_train), (x_test[:200], y_test[:200]))
    report = training_speed.preset_run("quick", small, target=1.01, checks_per_epoch=2, train_subset=640)
    assert report["recipe"] == "preset quick" and not report["reached"]  # 101 % is never reached
    assert report["epochs"] == 1.0  # 5 batches of 128, checked after 2 and 4 of them: the whole epoch trained
    assert report["config"] == {**PRESETS["quick"], "train_subset": 640}
    assert 0.1 < report["best_accuracy"] <= 1.0  # 640 images already teach it more than chance


def test_keras_io_run_stops_once_the_target_is_reached(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    small = ((x_train, y_train), (x_test[:100], y_test[:100]))
    report = training_speed.keras_io_run(small, target=0.0, checks_per_epoch=2, epochs=3, train_subset=600)
    assert report["reached"] and report["epochs"] == 0.4  # stopped at the first check: 2 of 5 batches
