"""Ensembles: one model that averages the probabilities of several trained runs, saved as a run.

``build_ensemble`` writes a run folder like any other (model, config, metrics, test answers), so
an ensemble loads, activates and lists like a trained run. Members may mix digits-only runs with
runs that know "not a digit": a digits-only member gives that class probability 0.

    >>> build_ensemble(["runs/a", "runs/b"], "runs", "ens-ab")  # doctest: +SKIP
    PosixPath('runs/ens-ab')
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from recognizer.core import paths
from recognizer.core.classes import NUM_CLASSES, NUM_CLASSES_WITH_NOT_DIGIT
from recognizer.core.runs import LITERT_FILE, MODEL_FILE, check_run_name, model_file_of, write_run_folder
from recognizer.core.storage import read_json_or, write_json_atomic
from recognizer.evaluation.answers import mnist_test_set, write_test_answers
from recognizer.evaluation.holdout import pen_holdout_report
from recognizer.evaluation.metrics import classification_report
from recognizer.nets.convert import write_classifier_litert
from recognizer.reading.recognizer import Recognizer
from recognizer.training.run_files import run_metrics


def _layer_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _renamed_member(model_file: Path, name: str):
    """The model at ``model_file`` as a fresh copy called ``name`` (members must differ by name)."""
    import keras

    from recognizer.nets.architectures import inference_copy

    return inference_copy(keras.saving.load_model(model_file, compile=False), name)


def ensemble_model(run_dirs: list[Path], name: str):
    """A Keras model averaging the probabilities of the models in ``run_dirs``."""
    import keras

    inputs = keras.Input((28, 28, 1), name="image")
    members = [
        _renamed_member(model_file_of(run_dir), f"member{i}_{_layer_name(run_dir.name)}")
        for i, run_dir in enumerate(run_dirs)
    ]
    widths = {member.output_shape[-1] for member in members}
    if not widths <= {NUM_CLASSES, NUM_CLASSES_WITH_NOT_DIGIT}:
        raise ValueError(f"ensemble members answer 10 digits or 10 digits and 'not a digit', not {sorted(widths)}")
    outputs = [member(inputs) for member in members]
    if len(widths) > 1:
        # A digits-only member knows nothing of "not a digit": it gives that class 0, so the mean
        # says "not a digit" only as strongly as the members that can say it agree.
        outputs = [
            _with_zero_not_digit(output, member.name) if member.output_shape[-1] == NUM_CLASSES else output
            for member, output in zip(members, outputs, strict=True)
        ]
    outputs = keras.layers.Average(name="mean_probability")(outputs)
    return keras.Model(inputs, outputs, name=_layer_name(name))


def _with_zero_not_digit(probabilities, member_name: str):
    """A digits-only member's 10 probabilities, with probability 0 for "not a digit" appended.

    A fixed dense layer (the identity beside a zero column) rather than a Lambda: a model file
    with Python code in it does not load under Keras's safe mode.
    """
    import keras

    pad = keras.layers.Dense(NUM_CLASSES_WITH_NOT_DIGIT, use_bias=False, trainable=False, name=f"{member_name}_pad")
    padded = pad(probabilities)
    pad.set_weights([np.eye(NUM_CLASSES, NUM_CLASSES_WITH_NOT_DIGIT, dtype="float32")])
    return padded


def _member_training_seconds(run_dirs: list[Path]) -> float:
    total = 0.0
    for run_dir in run_dirs:
        try:
            total += float(read_json_or(run_dir / "metrics.json", {}).get("training_seconds") or 0.0)
        except (ValueError, TypeError):
            continue  # a member without metrics adds no known cost
    return round(total, 1)


def _ensemble_metrics(name: str, run_dirs: list[Path], model, model_file: Path, report: dict, pen_report) -> dict:

    made = {
        "architecture": "ensemble",
        "epochs_run": 0,
        "stopped_early": False,
        "status": "finished",
        # Its cost is its members' training: nothing more was trained.
        "training_seconds": _member_training_seconds(run_dirs),
        "train_samples": 0,
        "train_sources": {},
        "val_samples": 0,
        "made_by": "recognizer.training.ensembles.build_ensemble",
        "members": [run_dir.name for run_dir in run_dirs],
    }
    return run_metrics(name, model, model_file, report, pen_report, made)


def _checked_ensemble_target(run_dirs, out_dir, name) -> tuple[list[Path], Path]:
    run_dirs = [Path(d) for d in run_dirs]
    if len(run_dirs) < 2:
        raise ValueError(f"an ensemble needs at least 2 runs, got {len(run_dirs)}")
    for run_dir in run_dirs:
        model_file_of(run_dir)
    check_run_name(name)
    out_dir = Path(out_dir)
    if out_dir.resolve() == paths.shipped_models_dir().resolve():
        raise ValueError("ensembles are user runs: build them outside the repo's models/ folder")
    if (out_dir / name).exists():
        raise FileExistsError(f"run folder {out_dir / name} already exists")
    return run_dirs, out_dir


def build_ensemble(
    run_dirs: list[str | os.PathLike],
    out_dir: str | os.PathLike,
    name: str,
    *,
    mnist=None,
    pen_holdout: bool = True,
) -> Path:
    """Save a run folder ``out_dir/name`` whose model averages the probabilities of ``run_dirs``.

    The folder has what ``recognizer.training`` writes (model, config, history, metrics,
    misclassified, test probabilities), so it loads, activates and lists like any run. ``mnist``
    (the ``load_mnist`` tuple) may be passed to skip loading it; ``pen_holdout=False`` skips the
    pen-digits hold-out evaluation (it is skipped anyway when the pen-digits file is missing).
    """
    run_dirs, out_dir = _checked_ensemble_target(run_dirs, out_dir, name)
    x_test, y_test = mnist_test_set() if mnist is None else mnist[1]
    model = ensemble_model(run_dirs, name)
    recognizer = Recognizer(model)
    proba = recognizer.predict_proba(x_test)
    pen_report = pen_holdout_report(recognizer, None) if pen_holdout else None
    return write_run_folder(
        out_dir, name, lambda folder: _write_ensemble_run(folder, name, run_dirs, model, (y_test, proba), pen_report)
    )


def _write_ensemble_run(folder: Path, name: str, run_dirs: list[Path], model, answers, pen_report) -> None:
    """The files of a run folder for an ensemble; ``answers``: the test labels and its probabilities."""
    y_test, proba = answers
    model.save(folder / MODEL_FILE)
    write_classifier_litert(model, folder / LITERT_FILE, folder / MODEL_FILE)  # scores only: no teaching
    config = {
        "architecture": "ensemble",
        "members": [run_dir.name for run_dir in run_dirs],
        "member_paths": [str(run_dir.resolve()) for run_dir in run_dirs],
        "combine": "mean of the members' probabilities",
    }
    write_json_atomic(folder / "config.json", config)
    write_json_atomic(folder / "history.json", {})
    report = classification_report(y_test, proba)
    metrics = _ensemble_metrics(name, run_dirs, model, folder / MODEL_FILE, report, pen_report)
    write_json_atomic(folder / "metrics.json", metrics)
    write_test_answers(folder, y_test, proba)
