"""What a finished training run writes: a complete run folder, assembled and then renamed into place.

A run folder (``<runs dir>/<YYYYmmdd-HHMMSS>-<architecture>``) holds:
- ``model.keras``: the trained model;
- ``model.tflite`` (and its ``.json`` stamp): the same model for LiteRT, which the app reads with;
- ``config.json``: the ``TrainConfig`` that made it;
- ``history.json``: per-epoch train/val loss and accuracy and the learning rate;
- ``batches.json``: the training curve about every 1 % of an epoch (``training.batch_curves``);
- ``metrics.json``: the test-set report (``recognizer.evaluation.metrics.classification_report``),
  the held-out writers' figures, and how the model was made (training seconds, parameter count,
  model file size, ``made_by``);
- ``misclassified.json`` and ``test_probabilities.npz``: every MNIST test answer
  (``recognizer.evaluation.answers``).

The folder is assembled under a hidden temp name and renamed when complete
(``recognizer.core.runs.write_run_folder``), so a crashed or stopped run never shows up
half-written. docs/run-folder.md describes every file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recognizer.core.runs import BATCHES_FILE, LITERT_FILE, MODEL_FILE
from recognizer.core.storage import write_json_atomic
from recognizer.evaluation.answers import write_test_answers
from recognizer.evaluation.holdout import calibration_holdout_report, not_digit_holdout_report, pen_holdout_report
from recognizer.evaluation.metrics import classification_report
from recognizer.nets.convert import write_classifier_litert
from recognizer.reading.recognizer import Recognizer
from recognizer.training.batch_curves import empty_curve
from recognizer.training.config import TrainConfig
from recognizer.training.datasets import DataSplit


@dataclass
class Fitted:
    """A trained model and how its training went."""

    model: Any
    history: dict[str, list]
    seconds: float
    stopped_by_hand: bool
    curve: dict[str, list] = field(default_factory=empty_curve)  # training.batch_curves' columns


@dataclass
class Tested:
    """What a trained model scores: MNIST test, and the pen hold-outs where their files are found."""

    labels: np.ndarray
    proba: np.ndarray
    report: dict
    pen_report: dict | None
    not_digit_report: dict | None
    calibration: dict | None


def measure(model, data: DataSplit, pen_path) -> Tested:
    """What ``model`` scores on the MNIST test set (as the app reads) and the held-out writers."""
    recognizer = Recognizer(model)
    proba = recognizer.predict_proba(data.x_test)
    not_digit = not_digit_holdout_report(recognizer, pen_path) if recognizer.knows_not_digit else None
    report = classification_report(data.y_test, proba)
    report["network_accuracy"] = float(np.mean(recognizer.predict(data.x_test, views=False) == data.y_test))
    calibration = calibration_holdout_report(recognizer, pen_path, data.y_test, proba)
    return Tested(data.y_test, proba, report, pen_holdout_report(recognizer, pen_path), not_digit, calibration)


def how_it_was_made(config: TrainConfig, data: DataSplit, fitted: Fitted, made_by: str) -> dict[str, Any]:
    """The training facts metrics.json records (see ``run_metrics``)."""
    epochs_run = len(fitted.history.get("loss", []))
    return {
        "architecture": config.architecture,
        "epochs_run": epochs_run,
        "stopped_early": epochs_run < config.epochs,
        "status": "stopped" if fitted.stopped_by_hand else "finished",
        "training_seconds": round(fitted.seconds, 1),
        "train_samples": len(data.x_train),
        "train_sources": dict(data.sources),
        "val_samples": len(data.x_val),
        "made_by": made_by,
    }


def write_run_files(folder: Path, run_name: str, config: TrainConfig, fitted: Fitted, tested: Tested, made: dict):
    """Everything a run folder holds (see the module docstring), written into ``folder``."""
    from recognizer.nets.architectures import inference_copy

    saved = inference_copy(fitted.model)
    saved.save(folder / MODEL_FILE)
    write_classifier_litert(saved, folder / LITERT_FILE, folder / MODEL_FILE)  # what the app reads with
    metrics = run_metrics(run_name, fitted.model, folder / MODEL_FILE, tested.report, tested.pen_report, made)
    if tested.not_digit_report is not None:
        metrics["not_digit"] = tested.not_digit_report
    if tested.calibration is not None:
        metrics["calibration"] = tested.calibration
    write_json_atomic(folder / "config.json", config.to_dict())
    write_json_atomic(folder / "history.json", history_dict(fitted.history))
    write_json_atomic(folder / BATCHES_FILE, fitted.curve)
    write_json_atomic(folder / "metrics.json", metrics)
    # Every test answer, so analysis pages never re-run the model (float16: 200 KB).
    write_test_answers(folder, tested.labels, tested.proba)


def run_metrics(name: str, model, model_file: Path, report: dict, pen_report: dict | None, made: dict) -> dict:
    """A run's ``metrics.json`` record, for trained runs and ensembles alike.

    ``report``: ``recognizer.evaluation.metrics.classification_report`` on the MNIST test set; ``pen_report``:
    ``pen_holdout_report`` (None: not measured); ``made``: how the model was made (architecture,
    epochs_run, stopped_early, status, training_seconds, train_samples, train_sources, val_samples,
    made_by, and anything more, such as an ensemble's members).
    """
    import tensorflow as tf

    from recognizer.nets.architectures import parameter_count

    metrics = {
        "model": name,
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        **mnist_test_metrics(report),
        **made,
        "parameter_count": parameter_count(model),
        "model_file_bytes": Path(model_file).stat().st_size,
        "device": training_device(),
        "tensorflow_version": tf.__version__,
    }
    if pen_report is not None:
        metrics["pen_holdout_accuracy"] = pen_report["accuracy"]
        metrics["pen_holdout"] = pen_report
    return metrics


def mnist_test_metrics(report: dict) -> dict:
    """The metrics.json fields of ``classification_report`` on the MNIST test set (``test_accuracy``...)."""
    renamed = {"accuracy": "test_accuracy", "loss": "test_loss"}
    return {renamed.get(key, key): value for key, value in report.items()}


def history_dict(history: dict[str, list]) -> dict[str, list[float]]:
    wanted = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")
    out = {k: [float(v) for v in history[k]] for k in wanted if k in history}
    out["epoch"] = list(range(1, len(history.get("loss", [])) + 1))
    return out


def training_device() -> str:
    """A short description of what trains: the GPU(s) TensorFlow sees, else the CPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"{len(gpus)} GPU(s): " + ", ".join(g.name for g in gpus) if gpus else "CPU"
