"""Train a model from one ``TrainConfig`` and write a complete run folder.

    >>> from recognizer.train import TrainConfig, train
    >>> run_dir = train(TrainConfig(architecture="lenet5", epochs=1, train_subset=500))  # doctest: +SKIP

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
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recognizer import paths
from recognizer.storage import write_json_atomic

OPTIMIZERS = ("adam", "rmsprop", "sgd")
LR_SCHEDULES = ("constant", "cosine", "exponential")


@dataclass
class TrainConfig:
    """Every knob of a training run. Saved as ``config.json`` beside the model."""

    architecture: str = "deepcnn"
    epochs: int = 15
    batch_size: int = 128
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"  # constant | cosine (to 1% of start) | exponential
    lr_decay: float = 0.9  # per-epoch factor of the exponential schedule
    augment: bool = True
    rotation: float = 10.0  # max degrees
    zoom: float = 0.1  # max relative scale change
    shift: float = 0.1  # max fraction of the image size
    shear: float = 10.0  # max degrees
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
    pen_styles: float = 0.0  # share of pen 0s, 1s and 7s redrawn slashed, footed, barred
    corrections: bool = False  # add the corrections saved from the Draw page
    not_digit: bool = False  # an 11th class "not one digit": letters, digit groups, fragments, scribbles
    init_from: str | None = None  # start from this run's weights (same architecture and classes)
    mined_cuts: int = 0  # add this many wrong cuts that the init_from model reads as a digit

    @property
    def num_classes(self) -> int:
        return 11 if self.not_digit else 10

    def problems(self) -> list[str]:
        """Human-readable reasons this config cannot run (empty when it can)."""
        from recognizer.models import MODELS

        found = []
        if self.architecture not in MODELS:
            found.append(f"architecture must be one of {', '.join(MODELS)}")
        if self.optimizer not in OPTIMIZERS:
            found.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.lr_schedule not in LR_SCHEDULES:
            found.append(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}")
        if not 1 <= self.epochs <= 1000:
            found.append("epochs must be between 1 and 1000")
        if not 1 <= self.batch_size <= 8192:
            found.append("batch_size must be between 1 and 8192")
        if not 0 < self.learning_rate <= 1:
            found.append("learning_rate must be in (0, 1]")
        if not 0 < self.lr_decay <= 1:
            found.append("lr_decay must be in (0, 1]")
        if not 0 <= self.rotation <= 45:
            found.append("rotation must be between 0 and 45 degrees")
        if not 0 <= self.zoom < 0.5:
            found.append("zoom must be in [0, 0.5)")
        if not 0 <= self.shift < 0.5:
            found.append("shift must be in [0, 0.5)")
        if not 0 <= self.shear <= 45:
            found.append("shear must be between 0 and 45 degrees")
        if not 0 <= self.validation_split < 0.5:
            found.append("validation_split must be in [0, 0.5)")
        if (self.early_stopping or self.reduce_lr_on_plateau) and self.validation_split == 0:
            found.append("early stopping and ReduceLROnPlateau watch validation loss: set validation_split > 0")
        if self.reduce_lr_on_plateau and self.lr_schedule != "constant":
            found.append("ReduceLROnPlateau needs lr_schedule 'constant' (it would fight the schedule)")
        if self.early_stopping_patience < 1 or self.plateau_patience < 1:
            found.append("patience values must be at least 1")
        if not 0 < self.plateau_factor < 1:
            found.append("plateau_factor must be in (0, 1)")
        if not 0 <= self.canvas_style <= 1:
            found.append("canvas_style must be between 0 and 1")
        if not 0 <= self.pen_styles <= 1:
            found.append("pen_styles must be between 0 and 1")
        if not 1 <= self.pen_copies <= 50:
            found.append("pen_copies must be between 1 and 50")
        if self.mined_cuts and not (self.init_from and self.not_digit):
            found.append("mined_cuts needs init_from (the model whose mistakes are mined) and not_digit")
        if not 0 <= self.mined_cuts <= 100_000:
            found.append("mined_cuts must be between 0 and 100,000")
        if self.not_digit and not self.pen_digits:
            found.append("not_digit needs pen_digits: its examples are made from pen-written digits and letters")
        if self.train_subset is not None and self.train_subset < 20:
            found.append("train_subset must be at least 20 images (or empty for all)")
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

    def lr_at(self, epoch: int) -> float:
        """Learning rate the schedule gives at (0-based) ``epoch``."""
        if self.lr_schedule == "cosine":
            floor = 0.01 * self.learning_rate
            frac = epoch / max(1, self.epochs - 1)
            return floor + 0.5 * (self.learning_rate - floor) * (1 + math.cos(math.pi * frac))
        if self.lr_schedule == "exponential":
            return self.learning_rate * self.lr_decay**epoch
        return self.learning_rate


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


def split_data(config: TrainConfig, mnist) -> DataSplit:
    """Shuffle the training set with the run's seed, apply the subset, carve out validation."""
    (x_train, y_train), (x_test, y_test) = mnist
    order = np.random.default_rng(config.seed).permutation(len(x_train))
    if config.train_subset:
        order = order[: config.train_subset]
    n_val = int(round(len(order) * config.validation_split))
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
    from recognizer.data import DataError
    from recognizer.feedback import FeedbackStore
    from recognizer.negatives import NOT_DIGIT
    from recognizer.pendigits import as_mnist, default_pen_digits_path, load_pen_digits, writer_split

    extra_x, extra_y = [], []
    if config.pen_digits:
        pen_path = pen_path or default_pen_digits_path()
        if pen_path is None or not Path(pen_path).is_file():
            raise DataError("pen_digits is on but no pen-digits file was found: set DIGITS_PEN_DIGITS to its path")
        pen = load_pen_digits(pen_path)
        train_idx, _ = writer_split(pen)
        x_pen, y_pen = as_mnist(
            pen.subset(train_idx), seed=config.seed, copies=config.pen_copies, style_share=config.pen_styles
        )
        extra_x.append(x_pen)
        extra_y.append(y_pen)
        data.sources["pen_digits"] = len(y_pen)
    if config.not_digit:
        x_not = _not_digit_data(config, pen.subset(train_idx), len(data.x_train))
        extra_x.append(x_not)
        extra_y.append(np.full(len(x_not), NOT_DIGIT, np.int64))
        data.sources["not_digit"] = len(x_not)
    if config.mined_cuts:
        from recognizer.inference import load_recognizer
        from recognizer.negatives import mined_cuts

        x_mined = mined_cuts(load_recognizer(config.init_from), pen.subset(train_idx), config.mined_cuts, config.seed)
        extra_x.append(x_mined)
        extra_y.append(np.full(len(x_mined), NOT_DIGIT, np.int64))
        data.sources["mined_cuts"] = len(x_mined)
    if config.corrections:
        x_fix, y_fix = FeedbackStore().load()
        extra_x.append(x_fix)
        extra_y.append(y_fix)
        data.sources["corrections"] = len(y_fix)
    if config.canvas_style > 0:
        data.x_train_canvas = canvas_style(data.x_train)
    if extra_x:
        data.x_train = np.concatenate([data.x_train, *extra_x])
        data.y_train = np.concatenate([data.y_train, *[y.astype(data.y_train.dtype) for y in extra_y]])
        if data.x_train_canvas is not None:  # the extras already look like drawings
            data.x_train_canvas = np.concatenate([data.x_train_canvas, *extra_x])
    return data


def _start_weights(config: TrainConfig, model) -> list:
    """The weights of ``config.init_from``; ``ValueError`` when they do not fit ``model``."""
    import keras

    from recognizer.runs import MODEL_FILE

    start = Path(config.init_from)
    weights = keras.saving.load_model(start / MODEL_FILE if start.is_dir() else start, compile=False).get_weights()
    if [w.shape for w in weights] != [w.shape for w in model.get_weights()]:
        raise ValueError(f"{config.init_from} is not a {config.architecture} with {config.num_classes} classes")
    return weights


def _not_digit_data(config: TrainConfig, pen_train, mnist_count: int) -> np.ndarray:
    """Examples of "not one digit" from the training writers, about a third as many as MNIST's."""
    from recognizer.negatives import not_digit_examples
    from recognizer.pendigits import default_pen_letters_path, load_pen_letters, writer_split

    letters_path = default_pen_letters_path()
    letters = None
    if letters_path is not None and letters_path.is_file():
        letters = load_pen_letters(letters_path)
        letters = letters.subset(writer_split(letters)[0])
    return not_digit_examples(pen_train, letters, seed=config.seed, scale=min(1.0, mnist_count / 54000))


def _optimizer(config: TrainConfig):
    import keras

    lr = config.lr_at(0)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=0.9, nesterov=True)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr)
    return keras.optimizers.Adam(learning_rate=lr)


def _dataset(x: np.ndarray, y: np.ndarray, config: TrainConfig, training: bool, x_canvas: np.ndarray | None = None):
    import tensorflow as tf

    from recognizer.augment import random_affine

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
        # The same scaling as recognizer.preprocess.to_model_input, in graph form.
        images = tf.cast(images, tf.float32)[..., None] / 255.0
        if training and config.augment:
            images = random_affine(images, config.rotation, config.zoom, config.shift, config.shear)
        return images, labels

    return ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _keras_callbacks(config: TrainConfig, hooks: TrainingHooks, steps_per_epoch: int) -> list:
    import keras

    class Bridge(keras.callbacks.Callback):
        """Forwards Keras events to the hooks and records the learning rate per epoch."""

        epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            if config.lr_schedule != "constant":
                self.model.optimizer.learning_rate.assign(config.lr_at(epoch))
            hooks.on_epoch_begin(epoch, float(self.model.optimizer.learning_rate.numpy()))

        def on_train_batch_end(self, batch, logs=None):
            hooks.on_batch_end(self.epoch, batch, {k: float(v) for k, v in (logs or {}).items()})
            if hooks.should_stop():
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            logs = logs if logs is not None else {}
            logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())
            hooks.on_epoch_end(epoch, {k: float(v) for k, v in logs.items()})

    class KeepBest(keras.callbacks.Callback):
        """Remembers the weights of the best epoch (validation loss), for a run stopped by hand."""

        best_loss, best_weights = float("inf"), None

        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("val_loss")
            if loss is not None and loss < self.best_loss:
                self.best_loss, self.best_weights = loss, self.model.get_weights()

        def on_train_end(self, logs=None):
            if hooks.should_stop() and self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    callbacks = [Bridge(), KeepBest()]
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
    return f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{config.architecture}"


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
    import tensorflow as tf

    from recognizer.data import load_mnist
    from recognizer.evaluate import classification_report, misclassified
    from recognizer.inference import Recognizer
    from recognizer.models import build_model, parameter_count

    config.validate()
    hooks = hooks or TrainingHooks()
    runs_dir = Path(runs_dir) if runs_dir is not None else paths.runs_dir()
    run_name = run_name or new_run_name(config)
    final_dir = runs_dir / run_name
    if final_dir.exists():
        raise FileExistsError(f"run folder {final_dir} already exists")

    hooks.on_phase("loading data")
    data = split_data(config, mnist if mnist is not None else load_mnist(data_dir, progress=hooks.on_download))
    data = add_drawing_data(config, data, pen_path)
    keras.utils.set_random_seed(config.seed)

    with _strategy().scope():
        model = build_model(config.architecture, config.num_classes)
        if config.init_from:
            model.set_weights(_start_weights(config, model))
        model.compile(optimizer=_optimizer(config), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    train_ds = _dataset(data.x_train, data.y_train, config, training=True, x_canvas=data.x_train_canvas)
    val_ds = _dataset(data.x_val, data.y_val, config, training=False) if len(data.x_val) else None
    steps = math.ceil(len(data.x_train) / config.batch_size)
    hooks.on_train_begin(
        {
            "epochs": config.epochs,
            "steps_per_epoch": steps,
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
        callbacks=_keras_callbacks(config, hooks, steps),
    )
    training_seconds = time.perf_counter() - started
    stopped_by_hand = hooks.should_stop()

    hooks.on_phase("evaluating")
    recognizer = Recognizer(model)
    proba = recognizer.predict_proba(data.x_test)
    report = classification_report(data.y_test, proba)
    pen_report = pen_holdout_report(recognizer, pen_path)
    not_digit_report = not_digit_holdout_report(recognizer, pen_path) if recognizer.knows_not_digit else None

    hooks.on_phase("saving")
    tmp_dir = runs_dir / f".{run_name}.partial"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    try:
        _inference_copy(model).save(tmp_dir / "model.keras")
        epochs_run = len(history.history.get("loss", []))
        metrics = {
            "model": run_name,
            "architecture": config.architecture,
            "created": dt.datetime.now().isoformat(timespec="seconds"),
            "test_accuracy": report["accuracy"],
            "test_loss": report["loss"],
            "epochs_run": epochs_run,
            "stopped_early": epochs_run < config.epochs,
            "status": "stopped" if stopped_by_hand else "finished",
            "training_seconds": round(training_seconds, 1),
            "parameter_count": parameter_count(model),
            "model_file_bytes": (tmp_dir / "model.keras").stat().st_size,
            "train_samples": len(data.x_train),
            "train_sources": dict(data.sources),
            "val_samples": len(data.x_val),
            "device": training_device(),
            "made_by": made_by,
            "tensorflow_version": tf.__version__,
            **{k: v for k, v in report.items() if k not in ("accuracy", "loss")},
        }
        if pen_report is not None:
            metrics["pen_holdout_accuracy"] = pen_report["accuracy"]
            metrics["pen_holdout"] = pen_report
        if not_digit_report is not None:
            metrics["not_digit"] = not_digit_report
        write_json_atomic(tmp_dir / "config.json", config.to_dict())
        write_json_atomic(tmp_dir / "history.json", _history_dict(history.history))
        write_json_atomic(tmp_dir / "metrics.json", metrics)
        write_json_atomic(tmp_dir / "misclassified.json", misclassified(data.y_test, proba))
        # Every test probability, so analysis pages never re-run the model (float16: 200 KB).
        np.savez_compressed(tmp_dir / "test_probabilities.npz", probabilities=proba.astype(np.float16))
        tmp_dir.rename(final_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return final_dir


def _inference_copy(model):
    """The trained model without its optimizer state: a third of the file, all that inference needs."""
    # Not keras.models.clone_model: it compiles the copy with the original's optimizer.
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def pen_holdout_report(recognizer, pen_path: str | Path | None) -> dict | None:
    """How the model reads the held-out writers' pen digits drawn on the canvas (None: no data).

    ``styled`` reads their 1s, 7s and 0s in each common way of writing them (``recognizer.styles``).
    """
    from recognizer.pendigits import default_pen_digits_path, evaluate_drawings, load_pen_digits, writer_split
    from recognizer.styles import styled_report

    pen_path = pen_path or default_pen_digits_path()
    if pen_path is None or not Path(pen_path).is_file():
        return None
    pen = load_pen_digits(pen_path)
    _, held_out = writer_split(pen)
    report = evaluate_drawings(recognizer, pen.subset(held_out), seed=0, copies=1)
    report["writers"] = int(len(np.unique(pen.writers[held_out])))
    report["protocol"] = "one random canvas rendering per digit: brush 10-30 px, height 25-90 % of 280 px, seed 0"
    report["styled"] = styled_report(recognizer, pen.subset(held_out))
    return report


def not_digit_holdout_report(recognizer, pen_path: str | Path | None) -> dict | None:
    """How often held-out writers' letters, digit pairs and digits are flagged "not a digit"."""
    from recognizer.negatives import evaluate_not_digit
    from recognizer.pendigits import (
        default_pen_digits_path,
        default_pen_letters_path,
        load_pen_digits,
        load_pen_letters,
        writer_split,
    )

    pen_path = pen_path or default_pen_digits_path()
    if pen_path is None or not Path(pen_path).is_file():
        return None
    pen = load_pen_digits(pen_path)
    letters_path = default_pen_letters_path()
    letters = None
    if letters_path is not None and letters_path.is_file():
        letters = load_pen_letters(letters_path)
        letters = letters.subset(writer_split(letters)[1])
    return evaluate_not_digit(recognizer, pen.subset(writer_split(pen)[1]), letters)


def _history_dict(history: dict[str, list]) -> dict[str, list[float]]:
    wanted = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")
    out = {k: [float(v) for v in history[k]] for k in wanted if k in history}
    out["epoch"] = list(range(1, len(history.get("loss", [])) + 1))
    return out
