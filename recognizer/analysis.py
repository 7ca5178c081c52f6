"""Looking inside trained models: ROC curves, calibration, saliency, ensembles and HTML reports.

Metrics are pure NumPy on labels and probabilities, so they are checked by hand in the tests;
the model-facing helpers (saliency, Grad-CAM, latency, ensembles) take a loaded ``Recognizer``.

    >>> import numpy as np
    >>> y = np.array([0, 0, 1, 1])
    >>> proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.7, 0.3], [0.2, 0.8]])
    >>> roc_curves(y, proba)[1]["auc"]
    0.75
    >>> reliability(y, proba, bins=2)["count"]
    [0, 4]
    >>> from recognizer import load_recognizer
    >>> rec = load_recognizer()  # the active model   # doctest: +SKIP
    >>> saliency_map(rec, np.zeros((28, 28), np.float32)).shape  # doctest: +SKIP
    (28, 28)

Probabilities of a run on the MNIST test set come from the run's ``test_probabilities.npz``
(written by ``recognizer.train``) or, for older runs, are computed once and cached under
``paths.cache_dir() / "analysis"``.
"""

from __future__ import annotations

import html
import os
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recognizer import paths
from recognizer.evaluate import NUM_CLASSES
from recognizer.inference import NUM_CLASSES_WITH_NOT_DIGIT, Recognizer, load_recognizer
from recognizer.preprocess import to_model_input
from recognizer.runs import (
    MODEL_FILE,
    PROBABILITIES_FILE,
    ModelNotFoundError,
    read_probabilities,
    write_probabilities,
    write_run_folder,
    write_test_answers,
)
from recognizer.storage import read_json_or, write_json_atomic
from recognizer.units import megabytes

# --- Probabilities of a run on the test set ------------------------------------------------------


def _model_file(run_dir: Path) -> Path:
    model_file = run_dir / MODEL_FILE
    if not model_file.is_file():
        raise ModelNotFoundError(f"{run_dir} holds no {MODEL_FILE}")
    return model_file


def probabilities_cache_path(run_dir: str | os.PathLike) -> Path:
    """Where computed test probabilities of ``run_dir`` are cached.

    The model file's mtime is part of the name, so a retrained model never reads stale numbers.
    """
    run_dir = Path(run_dir)
    mtime = int(_model_file(run_dir).stat().st_mtime)
    return paths.cache_dir() / "analysis" / f"{run_dir.name}-{mtime}.npz"


def _mnist_test_set() -> tuple[np.ndarray, np.ndarray]:
    from recognizer.data import load_mnist

    _, (x_test, y_test) = load_mnist(download=False)
    return x_test, y_test


def test_probabilities(run_dir: str | os.PathLike) -> np.ndarray:
    """A run's probabilities on the MNIST test set, float32 (N, 10) (N = 10,000 for full runs).

    Reads the run's own ``test_probabilities.npz`` when it has one; otherwise runs the model once
    and caches the result, so opening a page never evaluates the test set twice.
    """
    run_dir = Path(run_dir)
    own = run_dir / PROBABILITIES_FILE
    if own.is_file():
        return read_probabilities(own)
    cached = probabilities_cache_path(run_dir)
    if cached.is_file():
        return read_probabilities(cached)
    x_test, _ = _mnist_test_set()
    # Read back what was written, so this call and every cached one give identical numbers.
    write_probabilities(cached, load_recognizer(run_dir).predict_proba(x_test))
    return read_probabilities(cached)


# Not a test function, whatever pytest's name-based collection might think.
test_probabilities.__test__ = False


# --- Metrics from labels and probabilities -------------------------------------------------------


def _checked(y_true: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels as int64 (N,) and probabilities as float64 (N, C), or ``ValueError``."""
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"proba must be (N, classes) with at least 2 classes, got shape {p.shape}")
    if y.ndim != 1 or len(y) != len(p):
        raise ValueError(f"y_true must be (N,) with N={len(p)} to match proba, got shape {y.shape}")
    if len(y) == 0:
        raise ValueError("need at least one sample")
    if not np.all(np.isfinite(p)):
        raise ValueError("proba holds NaN or infinite values")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(f"y_true must hold integer labels in 0..{p.shape[1] - 1}")
    return y.astype(np.int64), p


def _check_bins(bins: int) -> None:
    if not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")


def trapezoid_area(x: np.ndarray, y: np.ndarray) -> float:
    """Area under the piecewise-linear curve through (x, y)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def roc_curve(is_positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct score threshold, from (0, 0) to (1, 1).

    Tied scores cross the threshold together, so ties give a diagonal step, not a staircase.
    """
    order = np.argsort(-scores, kind="stable")
    scores, is_positive = scores[order], is_positive[order]
    true_pos = np.cumsum(is_positive)
    false_pos = np.cumsum(~is_positive)
    # The last position of each run of equal scores: the counts once that threshold is passed.
    group_ends = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tpr = np.r_[0.0, true_pos[group_ends] / true_pos[-1]]
    fpr = np.r_[0.0, false_pos[group_ends] / false_pos[-1]]
    return fpr, tpr


def roc_curves(y_true: np.ndarray, proba: np.ndarray) -> dict[int, dict[str, Any]]:
    """One-vs-rest ROC of every class: ``{k: {"fpr": [...], "tpr": [...], "auc": float}}``.

    A class absent from ``y_true`` (or the only one present) has no ROC: empty lists, ``auc`` None.
    """
    y, p = _checked(y_true, proba)
    curves = {}
    for k in range(p.shape[1]):
        is_positive = y == k
        if is_positive.all() or not is_positive.any():
            curves[k] = {"fpr": [], "tpr": [], "auc": None}
            continue
        fpr, tpr = roc_curve(is_positive, p[:, k])
        curves[k] = {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "auc": trapezoid_area(fpr, tpr)}
    return curves


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value for bins [e0, e1), [e1, e2), ..., [e_{n-1}, e_n] (the last one closed)."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def _top_class(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Confidence of the predicted class and whether the prediction is right."""
    return p.max(axis=1), p.argmax(axis=1) == y


def reliability(y_true: np.ndarray, proba: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Calibration of the top-class confidence in ``bins`` equal-width bins over [0, 1].

    Keys: ``bin_edges`` (bins + 1), per bin ``confidence`` and ``accuracy`` (None when empty) and
    ``count``, and ``ece``, the expected calibration error sum(count/N * |accuracy - confidence|).
    """
    y, p = _checked(y_true, proba)
    return answer_reliability(*_top_class(y, p), bins=bins)


def answer_reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """``reliability`` of answers given as their confidence (N,) and whether each is right (N,)."""
    _check_bins(bins)
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, bool)
    if confidence.shape != correct.shape or confidence.ndim != 1 or len(confidence) == 0:
        raise ValueError(f"confidence and correct must be equal non-empty (N,) arrays, got {confidence.shape}")
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = _bin_index(confidence, edges)
    counts = np.bincount(index, minlength=bins)
    conf_sums = np.bincount(index, weights=confidence, minlength=bins)
    right_sums = np.bincount(index, weights=correct.astype(np.float64), minlength=bins)
    mean_conf = [float(s / n) if n else None for s, n in zip(conf_sums, counts, strict=True)]
    accuracy = [float(s / n) if n else None for s, n in zip(right_sums, counts, strict=True)]
    ece = float(np.sum(np.abs(right_sums - conf_sums)) / len(confidence))
    return {
        "bin_edges": edges.tolist(),
        "confidence": mean_conf,
        "accuracy": accuracy,
        "count": counts.astype(int).tolist(),
        "ece": ece,
    }


def confidence_histogram(y_true: np.ndarray, proba: np.ndarray, bins: int = 20) -> dict[str, list]:
    """Counts of top-class confidence in equal-width bins over [0, 1], split by right and wrong."""
    _check_bins(bins)
    y, p = _checked(y_true, proba)
    confidence, correct = _top_class(y, p)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = _bin_index(confidence, edges)
    return {
        "bin_edges": edges.tolist(),
        "correct": np.bincount(index[correct], minlength=bins).astype(int).tolist(),
        "wrong": np.bincount(index[~correct], minlength=bins).astype(int).tolist(),
    }


# --- Which test samples a confusion-matrix cell shows ---------------------------------------------


@dataclass(frozen=True)
class CellSamples:
    """The test samples of one confusion-matrix cell, in the order to show them."""

    indices: list[int]  # MNIST test indices, every sample of the cell
    probabilities: np.ndarray | None  # of the first ``shown`` indices; None when unknown
    least_sure_first: bool = False  # right answers ordered by their confidence, the lowest first


def cell_samples(
    true: int, pred: int, y_test: np.ndarray, misclassified: dict, proba: np.ndarray | None = None, shown: int = 8
) -> CellSamples:
    """The test samples read as ``pred`` whose label is ``true``.

    A wrong cell comes from the run's ``misclassified.json`` (with their probabilities); a right
    cell from the run's test probabilities ``proba`` (least sure first), else from the labels less
    the misclassified indices (no probabilities).
    """
    if true != pred:
        rows = [
            (int(i), pr)
            for i, t, p, pr in zip(
                *(misclassified.get(key, []) for key in ("index", "true", "predicted", "probabilities")), strict=False
            )
            if t == true and p == pred
        ]
        probabilities = np.asarray([pr for _, pr in rows[:shown]]) if rows else None
        return CellSamples([i for i, _ in rows], probabilities)
    if proba is not None:
        right = np.flatnonzero((y_test == true) & (proba.argmax(axis=1) == true))
        indices = right[np.argsort(proba[right, true], kind="stable")].tolist()
        return CellSamples(indices, proba[indices[:shown]], least_sure_first=True)
    wrong = set(misclassified.get("index", []))
    return CellSamples([int(i) for i in np.flatnonzero(y_test == true) if int(i) not in wrong], None)


# --- What the model looks at ---------------------------------------------------------------------


def _one_image_batch(image28: np.ndarray) -> np.ndarray:
    image = np.asarray(image28)
    if image.shape != (28, 28):
        raise ValueError(f"expected one (28, 28) image, got shape {image.shape}")
    return to_model_input(image)


def _unit_range(values: np.ndarray) -> np.ndarray:
    """Scaled to 0..1 by the maximum; all zeros stay zeros (a flat map, not a division by 0)."""
    values = np.maximum(np.asarray(values, dtype=np.float32), 0.0)
    peak = float(values.max())
    return (values / peak if peak > 0 else values).astype(np.float32)


def saliency_map(recognizer: Recognizer, image28: np.ndarray) -> np.ndarray:
    """|d p(predicted class) / d pixel| for a (28, 28) image in 0..1: float32 (28, 28) in 0..1."""
    import tensorflow as tf

    x = tf.convert_to_tensor(_one_image_batch(image28))
    with tf.GradientTape() as tape:
        tape.watch(x)
        proba = recognizer.model(x, training=False)
        target = proba[0, int(tf.argmax(proba[0]))]
    gradient = tape.gradient(target, x).numpy()[0, :, :, 0]
    return _unit_range(np.abs(gradient))


def last_conv_layer(model) -> Any | None:
    """The model's last top-level ``Conv2D`` layer, None when it has none (an MLP, an ensemble)."""
    import keras

    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    return convs[-1] if convs else None


def _conv_maps_and_output(model, conv, x):
    """The activations of ``conv`` and the model's output for ``x``, in one forward pass."""
    import keras

    if isinstance(model, keras.Sequential):
        # Layer by layer: a loaded Sequential's conv.output can belong to another graph than
        # model.outputs (built twice), which leaves the gradient disconnected.
        maps, h = None, x
        for layer in model.layers:
            h = layer(h, training=False)
            if layer is conv:
                maps = h
        return maps, h
    probe = keras.Model(model.inputs, [conv.output, model.outputs[0]])
    return probe(x, training=False)


def grad_cam(recognizer: Recognizer, image28: np.ndarray) -> np.ndarray | None:
    """Grad-CAM of the predicted class on the last Conv2D layer: float32 (28, 28) in 0..1.

    None for models without a convolution layer (e.g. the MLP).
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(_one_image_batch(image28))
    model = recognizer.model
    conv = last_conv_layer(model)
    if conv is None:
        return None
    with tf.GradientTape() as tape:
        maps, proba = _conv_maps_and_output(model, conv, x)
        target = proba[0, int(tf.argmax(proba[0]))]
    gradient = tape.gradient(target, maps)
    weights = tf.reduce_mean(gradient, axis=(1, 2))  # one importance per channel
    cam = tf.nn.relu(tf.reduce_sum(maps * weights[:, None, None, :], axis=-1))[..., None]
    cam28 = tf.image.resize(cam, (28, 28), method="bilinear").numpy()[0, :, :, 0]
    return _unit_range(cam28)


def measure_latency(recognizer: Recognizer, calls: int = 50) -> float:
    """Median milliseconds of one-image ``predict_proba`` calls, after a warm-up call."""
    if not isinstance(calls, int) or calls < 1:
        raise ValueError(f"calls must be a positive integer, got {calls!r}")
    image = np.zeros((1, 28, 28), np.float32)
    recognizer.predict_proba(image)
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        recognizer.predict_proba(image)
        timings.append((time.perf_counter() - started) * 1000)
    return float(statistics.median(timings))


# --- Ensembles -----------------------------------------------------------------------------------

_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _check_run_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME_OK.match(name):
        raise ValueError(f"run name must be letters, digits, '.', '_' or '-' (not starting with '.'), got {name!r}")


def _layer_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _renamed_member(model_file: Path, name: str):
    """The model at ``model_file`` as a fresh copy called ``name`` (members must differ by name)."""
    import keras

    from recognizer.models import inference_copy

    return inference_copy(keras.saving.load_model(model_file, compile=False), name)


def ensemble_model(run_dirs: list[Path], name: str):
    """A Keras model averaging the probabilities of the models in ``run_dirs``."""
    import keras

    inputs = keras.Input((28, 28, 1), name="image")
    members = [
        _renamed_member(_model_file(run_dir), f"member{i}_{_layer_name(run_dir.name)}")
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
    from recognizer.train import run_metrics

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
        "made_by": "recognizer.analysis.build_ensemble",
        "members": [run_dir.name for run_dir in run_dirs],
    }
    return run_metrics(name, model, model_file, report, pen_report, made)


def _checked_ensemble_target(run_dirs, out_dir, name) -> tuple[list[Path], Path]:
    run_dirs = [Path(d) for d in run_dirs]
    if len(run_dirs) < 2:
        raise ValueError(f"an ensemble needs at least 2 runs, got {len(run_dirs)}")
    for run_dir in run_dirs:
        _model_file(run_dir)
    _check_run_name(name)
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

    The folder has what ``recognizer.train`` writes (model, config, history, metrics,
    misclassified, test probabilities), so it loads, activates and lists like any run. ``mnist``
    (the ``load_mnist`` tuple) may be passed to skip loading it; ``pen_holdout=False`` skips the
    pen-digits hold-out evaluation (it is skipped anyway when the pen-digits file is missing).
    """
    from recognizer.train import pen_holdout_report

    run_dirs, out_dir = _checked_ensemble_target(run_dirs, out_dir, name)
    x_test, y_test = _mnist_test_set() if mnist is None else mnist[1]
    model = ensemble_model(run_dirs, name)
    recognizer = Recognizer(model)
    proba = recognizer.predict_proba(x_test)
    pen_report = pen_holdout_report(recognizer, None) if pen_holdout else None
    return write_run_folder(
        out_dir, name, lambda folder: _write_ensemble_run(folder, name, run_dirs, model, (y_test, proba), pen_report)
    )


def _write_ensemble_run(folder: Path, name: str, run_dirs: list[Path], model, answers, pen_report) -> None:
    """The files of a run folder for an ensemble; ``answers``: the test labels and its probabilities."""
    from recognizer.evaluate import classification_report

    y_test, proba = answers
    model.save(folder / MODEL_FILE)
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


# --- A standalone HTML report --------------------------------------------------------------------


def _percent(value) -> str:
    return f"{100 * value:.2f} %" if isinstance(value, (int, float)) else "—"


def _table(rows: list[tuple[str, Any]], header: tuple[str, str] | None = None) -> str:
    head = f"<tr><th>{html.escape(header[0])}</th><th>{html.escape(header[1])}</th></tr>" if header else ""
    body = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{head}{body}</table>"


def _key_metrics_rows(metrics: dict) -> list[tuple[str, Any]]:
    size = metrics.get("model_file_bytes")
    seconds = metrics.get("training_seconds")
    return [
        ("Architecture", metrics.get("architecture", "—")),
        ("Test accuracy", _percent(metrics.get("test_accuracy"))),
        ("Pen hold-out accuracy", _percent(metrics.get("pen_holdout_accuracy"))),
        ("Parameters", f"{metrics['parameter_count']:,}" if "parameter_count" in metrics else "—"),
        ("Model file size", f"{megabytes(size):.2f} MB" if isinstance(size, (int, float)) else "—"),
        ("Training time", f"{seconds:.1f} s" if isinstance(seconds, (int, float)) else "—"),
        ("Epochs run", metrics.get("epochs_run", "—")),
        ("Created", metrics.get("created", "—")),
    ]


def _per_class_table(per_class: list[dict]) -> str:
    head = "<tr><th>Digit</th><th>Precision</th><th>Recall</th><th>F1</th><th>Support</th></tr>"
    rows = "".join(
        f"<tr><td>{int(c['class'])}</td><td>{c['precision']:.4f}</td><td>{c['recall']:.4f}</td>"
        f"<td>{c['f1']:.4f}</td><td>{int(c['support'])}</td></tr>"
        for c in per_class
    )
    return f"<table>{head}{rows}</table>"


def _test_labels_for(proba: np.ndarray) -> np.ndarray | None:
    """MNIST test labels matching ``proba``, None when MNIST is not at hand."""
    from recognizer.data import DataError

    try:
        _, y_test = _mnist_test_set()
    except DataError:
        return None
    # Runs evaluated on a test subset (quick tests) scored its first images, in order.
    return y_test[: len(proba)] if len(proba) <= len(y_test) else None


def _curves_part(history: dict):
    """The learning-curve figure, or why there is none."""
    from recognizer.figures import learning_curves_figure

    if not history.get("loss"):
        return "<p>No training history (e.g. an ensemble of trained models).</p>"
    return learning_curves_figure(history)


def _confusion_parts(metrics: dict) -> list:
    """The confusion matrix (counts, as on the Explore page) and the per-class table."""
    from recognizer.figures import confusion_figure

    if not metrics.get("confusion_matrix"):
        return ["<p>No confusion matrix in this run's metrics.</p>"]
    parts = [confusion_figure(metrics["confusion_matrix"], clickable=False)]
    if metrics.get("per_class"):
        parts += ["<h2>Per-class metrics</h2>", _per_class_table(metrics["per_class"])]
    return parts


def _calibration_part(run_dir: Path, y_true: np.ndarray | None):
    """The reliability diagram of the run's test probabilities, or why there is none."""
    from recognizer.figures import reliability_figure

    try:
        proba = test_probabilities(run_dir)
    except Exception as exc:  # noqa: BLE001 — a report without this plot beats no report
        return f"<p>No reliability diagram: {html.escape(str(exc))}</p>"
    labels = y_true if y_true is not None else _test_labels_for(proba)
    if labels is None or len(labels) != len(proba):
        return "<p>No reliability diagram: the MNIST test labels are not available.</p>"
    return reliability_figure(reliability(labels, proba))


def _rendered(parts: list) -> str:
    """HTML strings as they are, figures as HTML; plotly.js (about 4.6 MB) is embedded once, with the
    first figure, so the file opens offline."""
    out, embed_plotly_js = [], True
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        else:
            out.append(part.to_html(full_html=False, include_plotlyjs=embed_plotly_js))
            embed_plotly_js = False
    return "\n".join(out)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
th { background: #f3f3f3; }
"""


def html_report(run_dir: str | os.PathLike, y_true: np.ndarray | None = None) -> str:
    """A standalone HTML page (works offline) on one run: metrics, curves, confusions, calibration.

    The figures are the Explore page's (``recognizer.figures``). ``y_true``: the test labels for the
    reliability diagram; read from MNIST when omitted.
    """
    run_dir = Path(run_dir)
    _model_file(run_dir)
    metrics = read_json_or(run_dir / "metrics.json", {})
    config = read_json_or(run_dir / "config.json", {})
    title = f"Model report: {run_dir.name}"
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Key metrics</h2>",
        _table(_key_metrics_rows(metrics)),
        "<h2>Training configuration</h2>",
        _table(sorted(config.items()), header=("setting", "value")),
        "<h2>Learning curves</h2>",
        _curves_part(read_json_or(run_dir / "history.json", {})),
        "<h2>Confusion matrix</h2>",
        *_confusion_parts(metrics),
        "<h2>Calibration</h2>",
        _calibration_part(run_dir, y_true),
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        + _rendered(parts)
        + "\n</body>\n</html>\n"
    )
