"""Training speed: which preset is the fastest, and the clock that times a recipe to a test accuracy."""

import numpy as np
import pytest

from benchmarks import training_speed
from recognizer.training.config import PRESETS


class Improving:
    """A stand-in model: at its n-th call it answers the first ``n * step`` images right, the rest 0."""

    def __init__(self, labels, step):
        self.labels, self.step, self.calls = labels, step, 0

    def __call__(self, x, training=False):
        self.calls += 1
        answers = np.where(np.arange(len(x)) < self.calls * self.step, self.labels[: len(x)], 0)
        return np.eye(10)[answers]


def test_fastest_preset_is_quick():
    # By hand from PRESETS: quick is 1 epoch over all 60,000 images, standard 8 and best 20 epochs.
    assert training_speed.fastest_preset() == "quick"


def test_fastest_preset_is_the_one_with_the_least_work_not_the_fewest_epochs_or_images(monkeypatch):
    import recognizer.training.config as config

    presets = {
        "one-epoch": dict(epochs=1),  # 1 x 60,000 images = 60,000
        "few-images": dict(epochs=50, train_subset=1000),  # 50 x 1,000 = 50,000
        "least-work": dict(epochs=4, train_subset=10_000),  # 4 x 10,000 = 40,000
        "middling": dict(epochs=2, train_subset=25_000),  # 2 x 25,000 = 50,000
    }
    monkeypatch.setattr(config, "PRESETS", presets)
    assert training_speed.fastest_preset() == "least-work"
    monkeypatch.setattr(config, "PRESETS", {**presets, "less": dict(epochs=39, train_subset=1000)})  # 39,000
    assert training_speed.fastest_preset() == "less"


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


@pytest.mark.slow
def test_preset_run_trains_the_preset_as_configured(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    small = ((x_train, y_train), (x_test[:200], y_test[:200]))
    report = training_speed.preset_run("quick", small, target=1.01, checks_per_epoch=2, train_subset=640)
    assert report["recipe"] == "preset quick" and not report["reached"]  # 101 % is never reached
    assert report["epochs"] == 1.0  # 5 batches of 128, checked after 2 and 4 of them: the whole epoch trained
    assert report["config"] == {**PRESETS["quick"], "train_subset": 640}
    assert 0.1 < report["best_accuracy"] <= 1.0  # 640 images already teach it more than chance


@pytest.mark.slow
def test_keras_io_run_stops_once_the_target_is_reached(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    small = ((x_train, y_train), (x_test[:100], y_test[:100]))
    report = training_speed.keras_io_run(small, target=0.0, checks_per_epoch=2, epochs=3, train_subset=600)
    assert report["reached"] and report["epochs"] == 0.4  # stopped at the first check: 2 of 5 batches
