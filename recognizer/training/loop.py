"""Train a model from one ``TrainConfig`` and write a complete run folder.

``train`` loads the data (``recognizer.training.datasets``), builds and compiles the config's
network, fits it with Keras while telling ``TrainingHooks`` how it goes (per batch and per
epoch), measures it (``recognizer.training.run_files.measure``) and writes the run folder. The
``tf.data`` pipeline scales and augments batches in graph form, as ``to_model_input`` scales.

    >>> from recognizer.training.config import TrainConfig
    >>> run_dir = train(TrainConfig(architecture="lenet5", epochs=1, train_subset=500))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from recognizer.core import paths
from recognizer.core.preprocess import to_unit
from recognizer.core.runs import MODEL_FILE, write_run_folder
from recognizer.data.mnist import load_mnist
from recognizer.training.batch_curves import BatchCurve, empty_curve
from recognizer.training.config import TrainConfig, new_run_name
from recognizer.training.datasets import DataSplit, add_drawing_data, split_data
from recognizer.training.hooks import TrainingHooks
from recognizer.training.run_files import Fitted, how_it_was_made, measure, training_device, write_run_files

# The weight average's horizon is about 1 / (1 - momentum) = 1,000 steps: about 1.4 epochs of the
# shipped recipe's 700 steps each, so it smooths the last epoch's noise without reaching far back.
EMA_MOMENTUM = 0.999


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

    from recognizer.training.augment import random_affine

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


def _keras_callbacks(config: TrainConfig, hooks: TrainingHooks, steps_per_epoch: int, curve: BatchCurve | None) -> list:
    import keras

    callbacks = [_hooks_bridge(config, hooks, steps_per_epoch, curve), _keep_best(hooks)]
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


def _hooks_bridge(config: TrainConfig, hooks: TrainingHooks, steps_per_epoch: int, curve: BatchCurve | None):
    """A Keras callback that forwards Keras events to ``hooks``, sets the scheduled learning rate and
    records the training ``curve`` (None: no curve)."""
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
            logs = {k: float(v) for k, v in (logs or {}).items()}
            hooks.on_batch_end(self.epoch, batch, logs)
            if curve is not None and curve.due(self.epoch, batch):
                point = curve.add(self.epoch, batch, logs, float(self.model.optimizer.learning_rate.numpy()))
                if point is not None:
                    hooks.on_curve_point(point)
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


def train(
    config: TrainConfig,
    runs_dir: str | Path | None = None,
    hooks: TrainingHooks | None = None,
    mnist=None,
    data_dir: str | Path | None = None,
    run_name: str | None = None,
    made_by: str = "recognizer.training.loop.train",
    pen_path: str | Path | None = None,
) -> Path:
    """Train ``config`` and return the finished run folder.

    ``mnist`` (the ``load_mnist`` tuple) may be passed to skip loading; otherwise it is read from
    ``data_dir`` (see ``recognizer.data.mnist.load_mnist``). ``runs_dir`` defaults to the user's runs
    folder. ``made_by`` (e.g. the command line) is recorded in metrics.json.
    """
    import keras

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
    fitted = fit(compiled_model(config), data, config, hooks)
    hooks.on_phase("evaluating")
    tested = measure(fitted.model, data, pen_path)
    hooks.on_phase("saving")
    made = how_it_was_made(config, data, fitted, made_by)
    return write_run_folder(
        runs_dir, run_name, lambda folder: write_run_files(folder, run_name, config, fitted, tested, made)
    )


def compiled_model(config: TrainConfig):
    """The config's model, on every GPU there is, from scratch or from ``init_from``'s weights."""
    from recognizer.nets.architectures import build_model

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


def fit(model, data: DataSplit, config: TrainConfig, hooks: TrainingHooks, curve_points: bool = True) -> Fitted:
    """Train ``model`` on ``data``, telling ``hooks`` as it goes.

    ``curve_points``: record the training curve about every 1 % of an epoch (``Fitted.curve``);
    False only to measure what recording costs.
    """
    train_ds = _dataset(data.x_train, data.y_train, config, training=True, x_canvas=data.x_train_canvas)
    val_ds = _dataset(data.x_val, data.y_val, config, training=False) if len(data.x_val) else None
    steps_per_epoch = math.ceil(len(data.x_train) / config.batch_size)
    curve = BatchCurve(steps_per_epoch, config.batch_size, len(data.x_train)) if curve_points else None
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
        callbacks=_keras_callbacks(config, hooks, steps_per_epoch, curve),
    )
    seconds = time.perf_counter() - started
    return Fitted(model, history.history, seconds, hooks.should_stop(), curve.columns if curve else empty_curve())
