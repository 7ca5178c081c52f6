"""Training: config validation, the run folder a tiny run writes, hooks, stopping, augmentation."""

import io
import json
import zipfile

import h5py
import numpy as np
import pytest
import tensorflow as tf

from recognizer.data.mnist import MNIST_TRAIN_IMAGES
from recognizer.training.augment import random_affine, random_elastic
from recognizer.training.config import BOUNDS, PRESETS, TrainConfig
from recognizer.training.datasets import split_data, split_sizes
from recognizer.training.hooks import TrainingHooks
from recognizer.training.loop import train

RUN_FILES = {
    "model.keras",
    "model.tflite",  # the same model for LiteRT, which the app reads with
    "model.tflite.json",  # the hash of the model.keras it was made from
    "config.json",
    "history.json",
    "batches.json",  # the training curve within epochs
    "metrics.json",
    "misclassified.json",
    "test_probabilities.npz",
}


class Recorder(TrainingHooks):
    def __init__(self, stop_after_batches=None):
        self.info, self.batches, self.epochs, self.phases = None, [], [], []
        self.stop_after_batches = stop_after_batches

    def on_train_begin(self, info):
        self.info = info

    def on_batch_end(self, epoch, step, logs):
        self.batches.append((epoch, step, logs["loss"]))

    def on_epoch_end(self, epoch, logs):
        self.epochs.append((epoch, logs))

    def on_phase(self, phase):
        self.phases.append(phase)

    def should_stop(self):
        return self.stop_after_batches is not None and len(self.batches) >= self.stop_after_batches


def tiny_config(**overrides):
    values = dict(architecture="lenet5", epochs=1, batch_size=64, train_subset=600, validation_split=0.2)
    values.update(overrides)
    return TrainConfig(**values)


def without_hold_out(runs_dir, mnist) -> dict:
    """``train`` arguments for a test that reads no hold-out figures: no pen-digits file, so the
    run skips reading the held-out writers (most of a tiny run's time)."""
    return {"runs_dir": runs_dir, "mnist": mnist, "pen_path": runs_dir / "no-pen-digits.npz"}


def test_tiny_run_writes_a_complete_run_folder(train_run, tmp_path, tiny_mnist):
    hooks = Recorder()
    config = tiny_config()
    run_dir = train_run(config, runs_dir=tmp_path, hooks=hooks, mnist=tiny_mnist, run_name="tiny")

    assert run_dir == tmp_path / "tiny"
    assert {p.name for p in run_dir.iterdir()} == RUN_FILES
    from recognizer.nets.convert import litert_is_fresh

    assert litert_is_fresh(run_dir / "model.tflite", run_dir / "model.keras")  # made from this very model
    assert [p.name for p in tmp_path.iterdir()] == ["tiny"]  # no leftover temp folder
    assert TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text())) == config

    history = json.loads((run_dir / "history.json").read_text())
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        assert len(history[key]) == 1, key
    assert history["learning_rate"][0] == pytest.approx(1e-3)

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["num_samples"] == 200
    assert np.sum(metrics["confusion_matrix"]) == 200
    assert np.trace(metrics["confusion_matrix"]) == round(metrics["test_accuracy"] * 200)
    assert len(metrics["per_class"]) == 10
    assert metrics["parameter_count"] == 61_706
    assert metrics["model_file_bytes"] == (run_dir / "model.keras").stat().st_size
    with zipfile.ZipFile(run_dir / "model.keras") as saved:
        weights = h5py.File(io.BytesIO(saved.read("model.weights.h5")))
        assert "vars" not in weights.get("optimizer", {})  # optimizer state is not needed to predict
    assert metrics["training_seconds"] > 0
    assert metrics["train_samples"] == 480 and metrics["val_samples"] == 120
    assert metrics["status"] == "finished"

    with np.load(run_dir / "test_probabilities.npz") as saved:
        proba = saved["probabilities"].astype(np.float32)
    assert proba.shape == (200, 10)
    assert np.mean(proba.argmax(axis=1) == tiny_mnist[1][1]) == pytest.approx(metrics["test_accuracy"])
    wrong = json.loads((run_dir / "misclassified.json").read_text())
    assert len(wrong["index"]) == metrics["error_count"]
    assert all(len(p) == 10 for p in wrong["probabilities"])

    assert hooks.info["steps_per_epoch"] == 8  # ceil(480 / 64)
    assert [b[:2] for b in hooks.batches] == [(0, s) for s in range(8)]
    assert hooks.epochs[0][0] == 0 and "val_accuracy" in hooks.epochs[0][1]
    assert hooks.phases == ["loading data", "training", "evaluating", "saving"]


def test_should_stop_ends_training_after_that_batch(train_run, tmp_path, tiny_mnist):
    hooks = Recorder(stop_after_batches=3)
    run_dir = train_run(
        tiny_config(epochs=5), hooks=hooks, run_name="stopped", **without_hold_out(tmp_path, tiny_mnist)
    )
    assert len(hooks.batches) == 3
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs_run"] == 1 and metrics["stopped_early"] and metrics["status"] == "stopped"


def test_existing_run_name_is_refused(tmp_path, tiny_mnist):
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError):
        train(tiny_config(), runs_dir=tmp_path, mnist=tiny_mnist, run_name="taken")


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"architecture": "vgg"}, "architecture"),
        ({"optimizer": "adagrad"}, "optimizer"),
        ({"epochs": 0}, "epochs"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"validation_split": 0.0, "early_stopping": True}, "validation_split > 0"),
        ({"reduce_lr_on_plateau": True, "lr_schedule": "cosine"}, "ReduceLROnPlateau"),
        ({"rotation": 90.0}, "rotation"),
        ({"train_subset": 5}, "train_subset"),
    ],
)
def test_invalid_config_is_refused_with_its_reason(overrides, message):
    config = TrainConfig(**overrides)
    assert any(message in p for p in config.problems())
    with pytest.raises(ValueError, match=message):
        config.validate()


def test_default_config_is_valid_and_round_trips():
    config = TrainConfig()
    assert config.problems() == []
    assert TrainConfig.from_dict({**config.to_dict(), "unknown_future_key": 1}) == config


def _bound_problems(name, value):
    return [p for p in TrainConfig(**{name: value}).problems() if p.startswith(f"{name} must")]


@pytest.mark.parametrize("name", list(BOUNDS))
def test_each_bound_is_checked_at_both_ends_and_a_form_offers_only_allowed_values(name):
    bound = BOUNDS[name]
    default = getattr(TrainConfig(), name)
    field_type = int if default is None else type(default)  # train_subset defaults to None (all images)
    low, high = bound.closed_range()
    # A number widget refuses a mix of ints and floats: the bounds and what a form offers are the field's type.
    assert {type(v) for v in (bound.low, bound.high, low, high)} == {field_type}
    assert _bound_problems(name, low) == [] and _bound_problems(name, high) == []
    below = bound.low if bound.low_open else bound.low - bound.step
    above = bound.high if bound.high_open else bound.high + bound.step
    assert _bound_problems(name, below) == [bound.problem(name)] == _bound_problems(name, above)


def test_presets_apply_over_the_defaults_and_overrides_win():
    for name in PRESETS:
        assert TrainConfig.preset(name).problems() == [], name
    best = TrainConfig.preset("best", epochs=2)
    assert best.epochs == 2 and best.not_digit and best.lr_schedule == "cosine" and best.pen_styles == 0.3
    quick = TrainConfig.preset("quick")
    assert (quick.architecture, quick.epochs, quick.lr_schedule) == ("fastcnn", 1, "onecycle")
    assert quick.train_subset is None and quick.validation_split == 0 and not quick.augment  # all 60,000, no extras
    with pytest.raises(ValueError, match="quick, standard, best"):
        TrainConfig.preset("fastest")


def test_learning_rate_schedules():
    cosine = TrainConfig(learning_rate=1e-3, lr_schedule="cosine", epochs=11)
    assert cosine.lr_at(0) == pytest.approx(1e-3)
    assert cosine.lr_at(10) == pytest.approx(1e-5)
    assert cosine.lr_at(5) == pytest.approx((1e-3 + 1e-5) / 2)
    expo = TrainConfig(learning_rate=1e-2, lr_schedule="exponential", lr_decay=0.5)
    assert expo.lr_at(3) == pytest.approx(1.25e-3)


def test_one_cycle_warms_up_to_the_peak_then_anneals_to_almost_nothing():
    config = TrainConfig(learning_rate=0.02, lr_schedule="onecycle", epochs=4)
    assert config.lr_per_batch and not TrainConfig(lr_schedule="cosine").lr_per_batch
    assert config.lr_at(0) == pytest.approx(0.002)  # a tenth of the peak
    assert config.lr_at(0.5) == pytest.approx((0.002 + 0.02) / 2)  # halfway up the warm-up (first quarter)
    assert config.lr_at(1) == pytest.approx(0.02)
    assert config.lr_at(2.5) == pytest.approx((0.02 + 2e-5) / 2)  # halfway down the cosine
    assert config.lr_at(4) == pytest.approx(2e-5) == config.lr_at(5)  # a thousandth of the peak, then stays
    rates = [config.lr_at(e / 10) for e in range(41)]
    assert rates[:10] == sorted(rates[:10]) and rates[10:] == sorted(rates[10:], reverse=True)


def test_one_cycle_sets_the_rate_every_batch(train_run, tmp_path, tiny_mnist):
    config = tiny_config(architecture="fastcnn", epochs=2, learning_rate=0.01, lr_schedule="onecycle")
    run_dir = train_run(config, run_name="one-cycle", **without_hold_out(tmp_path, tiny_mnist))
    history = json.loads((run_dir / "history.json").read_text())
    # Each epoch ends at its last batch's rate (8 batches an epoch), not at the epoch's starting rate.
    assert history["learning_rate"] == pytest.approx([config.lr_at(7 / 8), config.lr_at(1 + 7 / 8)])


def test_split_is_seeded_disjoint_and_sized(tiny_mnist):
    a = split_data(tiny_config(seed=1), tiny_mnist)
    b = split_data(tiny_config(seed=1), tiny_mnist)
    c = split_data(tiny_config(seed=2), tiny_mnist)
    assert len(a.x_train) == 480 and len(a.x_val) == 120
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.x_val, c.x_val)


def test_split_sizes_are_what_split_data_takes(tiny_mnist):
    for config in (tiny_config(), tiny_config(train_subset=None, validation_split=0.15), tiny_config(train_subset=900)):
        data = split_data(config, tiny_mnist)
        assert split_sizes(config, 600) == (len(data.x_train), len(data.x_val))
    assert split_sizes(TrainConfig.preset("quick"), MNIST_TRAIN_IMAGES) == (60_000, 0)
    assert split_sizes(TrainConfig(train_subset=10_000), MNIST_TRAIN_IMAGES) == (9_000, 1_000)
    assert split_sizes(TrainConfig(validation_split=0.0), MNIST_TRAIN_IMAGES) == (60_000, 0)


def _ink_on_left_half():
    img = np.zeros((1, 28, 28, 1), np.float32)
    img[0, 6:22, 4:11] = 1.0
    return img


def test_augmentation_with_zero_strength_is_identity():
    img = _ink_on_left_half()
    out = random_affine(tf.constant(img), 0, 0, 0, 0).numpy()
    np.testing.assert_allclose(out, img, atol=1e-6)


def test_augmentation_moves_ink_within_limits_and_never_mirrors():
    tf.random.set_seed(0)
    batch = tf.constant(np.repeat(_ink_on_left_half(), 256, axis=0))
    out = random_affine(batch, rotation=10, zoom=0.1, shift=0.1, shear=10).numpy()
    cols = np.arange(28)
    centre_x = (out.sum(axis=(1, 3)) * cols).sum(axis=1) / out.sum(axis=(1, 2, 3))
    # The bar's centre is at x=7; a mirror would put it near x=20. Shift is at most 2.8 px,
    # rotation/shear/zoom about the centre move it a few px more.
    assert centre_x.max() < 14
    assert centre_x.std() > 0.5  # it really does move


def test_elastic_warp_of_zero_is_identity_and_bends_each_image_its_own_way():
    img = _ink_on_left_half()
    np.testing.assert_allclose(random_elastic(tf.constant(img), 0.0).numpy(), img, atol=1e-6)
    tf.random.set_seed(0)
    out = random_elastic(tf.constant(np.repeat(img, 64, axis=0)), 1.25).numpy()
    changed = np.abs(out - img).reshape(64, -1).max(axis=1)
    assert (changed > 0.2).all()  # every image moved
    assert np.abs(out[0] - out[1]).max() > 0.2  # and not all the same way
    # A smooth warp bends the bar, stretching some and squeezing others; it keeps the ink on
    # average, never loses most of it, and does not move it far.
    ink = out.sum(axis=(1, 2, 3)) / img.sum()
    assert 0.9 < ink.mean() < 1.1 and ink.min() > 0.6
    cols = np.arange(28)
    centre_x = (out.sum(axis=(1, 3)) * cols).sum(axis=1) / out.sum(axis=(1, 2, 3))
    assert np.abs(centre_x - 7).max() < 2.5


def test_elastic_warp_and_affine_transform_resample_once(rng):
    # The bending path reads pixels where the affine transform would: with a vanishing warp the
    # two agree, so the affine part is not applied twice nor the image interpolated twice.
    batch = tf.constant(rng.random((16, 28, 28, 1)).astype(np.float32))
    tf.random.set_seed(3)
    affine = random_affine(batch, rotation=10, zoom=0.1, shift=0.1, shear=10).numpy()
    tf.random.set_seed(3)
    both = random_affine(batch, rotation=10, zoom=0.1, shift=0.1, shear=10, elastic=1e-6).numpy()
    np.testing.assert_allclose(both, affine, atol=1e-3)


def test_elastic_runs_only_when_training_with_augmentation(rng):
    from recognizer.training.loop import _dataset

    x = rng.integers(0, 256, (8, 28, 28), dtype=np.uint8)
    y = np.arange(8) % 10
    warped = tiny_config(elastic=2.0, rotation=0, zoom=0, shift=0, shear=0)
    images, _ = next(iter(_dataset(x, y, warped, training=True)))
    assert np.abs(images.numpy()[..., 0] - x / 255).max() > 0.1
    images, _ = next(iter(_dataset(x, y, warped, training=False)))
    np.testing.assert_allclose(images.numpy()[..., 0], x / 255, atol=1e-6)


def test_drawing_data_adds_pen_digits_corrections_and_canvas_style(tiny_mnist, isolated_user_dirs, pen_path, pen):
    from recognizer.data.corrections import FeedbackStore
    from recognizer.data.pen import writer_split
    from recognizer.training.datasets import add_drawing_data

    store = FeedbackStore()
    for label in (3, 8):
        store.save(np.full((28, 28), 0.5, np.float32), label=label, predicted=5)

    config = tiny_config(pen_digits=True, pen_copies=1, corrections=True, canvas_style=0.5)
    data = add_drawing_data(config, split_data(config, tiny_mnist), pen_path)

    train_writers, held_writers = (set(pen.writers[i]) for i in writer_split(pen))
    assert not train_writers & held_writers
    assert data.sources["mnist"] == 480 and data.sources["corrections"] == 2
    # every training writer's digit is rendered once (a drawing read as blank would be dropped)
    assert data.sources["pen_digits"] == np.isin(pen.writers, list(train_writers)).sum()
    assert len(data.x_train) == len(data.y_train) == sum(data.sources.values())
    assert data.y_train[-2:].tolist() == [3, 8]
    assert data.x_train_canvas.shape == data.x_train.shape
    # canvas style changes MNIST images, and leaves the extras (already drawings) as they are
    assert not np.array_equal(data.x_train_canvas[:480], data.x_train[:480])
    np.testing.assert_array_equal(data.x_train_canvas[480:], data.x_train[480:])


def test_pen_digits_without_a_file_is_a_clear_error(tiny_mnist, tmp_path):
    from recognizer.data.mnist import DataError
    from recognizer.training.datasets import add_drawing_data

    config = tiny_config(pen_digits=True)
    with pytest.raises(DataError, match="DIGITS_PEN_DIGITS"):
        add_drawing_data(config, split_data(config, tiny_mnist), tmp_path / "missing.npz")


def test_not_digit_adds_an_eleventh_class_from_training_writers_only(tiny_mnist, pen_path):
    from recognizer.core.classes import NOT_DIGIT
    from recognizer.training.datasets import add_drawing_data

    config = tiny_config(pen_digits=True, pen_copies=1, not_digit=True)
    data = add_drawing_data(config, split_data(config, tiny_mnist), pen_path)
    extra = data.sources["not_digit"]
    assert extra > 50 and config.num_classes == 11
    assert (data.y_train[-extra:] == NOT_DIGIT).all() and (data.y_train[:-extra] < NOT_DIGIT).all()
    assert data.x_train.shape[0] == len(data.y_train) and data.x_train.dtype == np.uint8


def test_not_digit_needs_pen_digits():
    assert any("not_digit needs pen_digits" in p for p in tiny_config(not_digit=True).problems())


def _flagged_share(recognizer, drawings) -> float:
    """The share of ``drawings`` the recognizer says are not one digit, counted here."""
    answers = recognizer.predict_drawings(drawings)
    return sum(a is not None and not a.is_digit for a in answers) / len(drawings)


def test_a_not_digit_run_reports_what_it_flags(train_run, tiny_mnist, pen_path, pen, pen_letters, tmp_path):
    """Every figure a not-digit run stores is recounted: MNIST from its stored answers, the held-out
    writers' figures by reading their drawings afresh with the saved model."""
    from recognizer.data.negatives import CLEAR_LETTERS, two_digit_drawings
    from recognizer.data.pen import random_rendering, writer_split
    from recognizer.data.styles import VARIANTS
    from recognizer.reading.recognizer import load_recognizer

    # Three epochs (a few seconds more than one; reading the held-out writers takes most of the
    # time) teach it to flag most digit pairs and few single digits, so the shares are worth recounting.
    config = tiny_config(pen_digits=True, pen_copies=1, not_digit=True, architecture="lenet5", epochs=3)
    run_dir = train_run(config, runs_dir=tmp_path, mnist=tiny_mnist, run_name="tiny-not-digit", pen_path=pen_path)
    metrics = json.loads((run_dir / "metrics.json").read_text())

    # MNIST: the confusion matrix, accuracy and per-class figures of the stored answers, by hand.
    y_test = tiny_mnist[1][1]
    with np.load(run_dir / "test_probabilities.npz") as saved:
        answers = saved["probabilities"].astype(np.float32).argmax(axis=1)
    counts = np.zeros((10, 10), int)
    np.add.at(counts, (y_test, answers), 1)
    assert metrics["confusion_matrix"] == counts.tolist()
    assert metrics["test_accuracy"] == pytest.approx(np.mean(answers == y_test))
    assert metrics["num_samples"] == 200 and metrics["error_count"] == np.sum(answers != y_test)
    for k, row in enumerate(metrics["per_class"]):
        right, labelled, answered = counts[k, k], counts[k].sum(), counts[:, k].sum()
        assert row["class"] == k and row["support"] == labelled
        assert row["recall"] == pytest.approx(right / labelled if labelled else 0.0)
        assert row["precision"] == pytest.approx(right / answered if answered else 0.0)

    # "Not a digit": how many held-out drawings were read, and the shares flagged, read again.
    rec = load_recognizer(run_dir, number_reader=False)
    assert rec.knows_not_digit
    held_out = pen.subset(writer_split(pen)[1])
    figures = metrics["not_digit"]
    assert figures["digits"] == len(held_out) > 100 and figures["two_digit_drawings"] == 1000
    letters = pen_letters.subset(writer_split(pen_letters)[1])
    assert figures["letters"] == np.isin(letters.labels, list(CLEAR_LETTERS)).sum()
    rng = np.random.default_rng(0)  # the stored protocol: one rendering per digit, seed 0
    digits = [random_rendering(held_out.strokes(i), rng) for i in range(len(held_out))]
    digits_flagged = _flagged_share(rec, digits)
    pairs_flagged = _flagged_share(rec, two_digit_drawings(held_out, 1000, seed=0))
    assert figures["digits_flagged"] == pytest.approx(digits_flagged, abs=2 / len(digits))
    assert figures["two_digits_flagged"] == pytest.approx(pairs_flagged, abs=2 / 1000)
    assert pairs_flagged > digits_flagged + 0.2  # it learnt what it flags

    # The held-out writers' other figures count the same digits.
    assert metrics["pen_holdout"]["num_samples"] == len(held_out)
    styled = {variant: measured["count"] for variant, measured in metrics["pen_holdout"]["styled"].items()}
    assert styled == {variant: np.sum(held_out.labels == digit) for variant, (digit, _) in VARIANTS.items()}
    calibration = metrics["calibration"]  # ECE and the measured "Not sure" threshold (None: none kept the rule)
    assert calibration["pen_answers"] == 3 * len(held_out)
    if calibration["unsure_below"] is not None:
        assert calibration["below"]["count"] + calibration["above"]["count"] == calibration["pen_answers"]
    with np.load(run_dir / "test_probabilities.npz") as saved:
        proba = saved["probabilities"].astype(np.float64)
    confidence, right = proba.max(axis=1), proba.argmax(axis=1) == y_test
    bins = np.minimum((confidence * 10).astype(int), 9)  # ten equal bins: |right - sum of confidence| / N
    ece = sum(abs(right[bins == b].sum() - confidence[bins == b].sum()) for b in range(10)) / len(y_test)
    assert calibration["mnist_ece"] == pytest.approx(ece, abs=2e-3)  # the answers are stored as float16
    np.testing.assert_allclose(rec.predict_proba(tiny_mnist[1][0][:5]).sum(axis=1), 1.0, rtol=1e-5)


def test_mined_cuts_need_a_model_to_mine_with():
    found = tiny_config(pen_digits=True, not_digit=True, mined_cuts=100).problems()
    assert any("mined_cuts needs init_from" in p for p in found)


def test_starting_weights_of_another_shape_are_refused(tiny_mnist, tiny_run, tmp_path, pen_path):
    config = tiny_config(pen_digits=True, pen_copies=1, not_digit=True, init_from=str(tiny_run))
    with pytest.raises(ValueError, match="is not a lenet5 with 11 classes"):
        train(config, runs_dir=tmp_path, mnist=tiny_mnist, pen_path=pen_path)


def test_training_can_start_from_a_run(train_run, tiny_mnist, tiny_run, tmp_path):
    from recognizer.reading.recognizer import load_recognizer

    config = tiny_config(init_from=str(tiny_run), learning_rate=1e-9, augment=False)
    run_dir = train_run(config, run_name="continued", **without_hold_out(tmp_path, tiny_mnist))
    x = tiny_mnist[1][0][:20]
    # With a vanishing learning rate the continued model answers as the run it started from.
    continued, start = load_recognizer(run_dir).predict_proba(x), load_recognizer(tiny_run).predict_proba(x)
    np.testing.assert_allclose(continued, start, atol=1e-4)


def test_mined_cuts_are_pieces_that_match_no_written_digit(pen):
    from recognizer.data.pen import writer_split
    from recognizer.training.datasets import mined_cuts

    class EverythingIsAThree:
        def predict_scores(self, images):
            scores = np.zeros((len(images), 11), np.float32)
            scores[:, 3] = 1.0
            return scores

    found = mined_cuts(EverythingIsAThree(), pen.subset(writer_split(pen)[0][:200]), 30, seed=1)
    assert found.shape == (30, 28, 28) and found.dtype == np.uint8 and (found.max(axis=(1, 2)) > 0).all()


def test_mixup_blends_pairs_of_images_and_their_labels(rng):
    from recognizer.training.loop import _dataset

    y = rng.integers(0, 10, 64)
    x = np.repeat((y * 20).astype(np.uint8)[:, None, None], 28, axis=1).repeat(28, axis=2)  # ink = 20 x label
    images, labels = next(iter(_dataset(x, y, tiny_config(mixup=0.4, augment=False), training=True)))
    images, labels = images.numpy(), labels.numpy()
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-5)
    assert ((labels > 1e-6).sum(axis=1) <= 2).all() and (labels.max(axis=1) < 0.9).sum() > 5  # some really mixed
    # each image is the blend its label says: the same weights on the two images' inks
    expected = labels @ (np.arange(10) * 20 / 255)
    np.testing.assert_allclose(images[:, :, :, 0].mean(axis=(1, 2)), expected, atol=1e-4)


def test_label_smoothing_and_mixup_train_on_one_hot_labels(train_run, tiny_mnist, tmp_path):
    from recognizer.training.loop import _loss

    config = tiny_config(label_smoothing=0.1)
    assert config.soft_labels and _loss(config).get_config()["label_smoothing"] == pytest.approx(0.1)
    assert _loss(tiny_config()) == "sparse_categorical_crossentropy" and not tiny_config().soft_labels
    soft = tiny_config(label_smoothing=0.1, mixup=0.2, epochs=4)
    run = train_run(soft, run_name="soft", **without_hold_out(tmp_path, tiny_mnist))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.3  # it learned (chance is 0.1) from soft labels
    assert any("mixup" in p for p in tiny_config(mixup=-1).problems())


def test_ema_saves_the_average_of_the_weights(train_run, tiny_mnist, tmp_path):
    import keras

    from recognizer.nets.architectures import build_model

    def trained(ema: bool):
        run = train_run(tiny_config(ema=ema, seed=3), run_name=f"ema-{ema}", **without_hold_out(tmp_path, tiny_mnist))
        return keras.saving.load_model(run / "model.keras", compile=False).get_weights()

    def distance(a, b):
        return float(np.sqrt(sum(np.sum((x - y) ** 2) for x, y in zip(a, b, strict=True))))

    keras.utils.set_random_seed(3)  # as train() does before it builds the model
    start = build_model("lenet5").get_weights()
    plain, averaged = trained(False), trained(True)
    # 8 steps averaged with momentum 0.999 stay near the first step; the last step's weights moved on
    assert distance(start, averaged) < 0.5 * distance(start, plain)
