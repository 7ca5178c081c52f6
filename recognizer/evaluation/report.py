"""A standalone HTML report on one run: metrics, learning curves, confusions, calibration.

The page works offline (plotly.js is embedded once) and draws the Explore page's figures
(``recognizer.core.figures``).

    >>> from recognizer.evaluation.report import html_report
    >>> page = html_report("models/deepcnn-drawings-v4")  # doctest: +SKIP
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import numpy as np

from recognizer.core.runs import BATCHES_FILE, model_file_of
from recognizer.core.storage import read_json_or
from recognizer.core.units import megabytes
from recognizer.data.mnist import DataError
from recognizer.evaluation.answers import mnist_test_set, test_probabilities
from recognizer.evaluation.curves import reliability


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
    try:
        _, y_test = mnist_test_set()
    except DataError:
        return None
    # Runs evaluated on a test subset (quick tests) scored its first images, in order.
    return y_test[: len(proba)] if len(proba) <= len(y_test) else None


def _curves_part(history: dict, curve: dict):
    """The learning-curve figure (with the curve within epochs, when the run kept one), or why there is none."""
    from recognizer.core.figures import learning_curves_figure

    if not history.get("loss"):
        return "<p>No training history (e.g. an ensemble of trained models).</p>"
    return learning_curves_figure(history, curve)


def _confusion_parts(metrics: dict) -> list:
    """The confusion matrix (counts, as on the Explore page) and the per-class table."""
    from recognizer.core.figures import confusion_figure

    if not metrics.get("confusion_matrix"):
        return ["<p>No confusion matrix in this run's metrics.</p>"]
    parts = [confusion_figure(metrics["confusion_matrix"], clickable=False)]
    if metrics.get("per_class"):
        parts += ["<h2>Per-class metrics</h2>", _per_class_table(metrics["per_class"])]
    return parts


def _calibration_part(run_dir: Path, y_true: np.ndarray | None):
    """The reliability diagram of the run's test probabilities, or why there is none."""
    from recognizer.core.figures import reliability_figure

    try:
        proba = test_probabilities(run_dir)
    except Exception as exc:  # noqa: BLE001 — a report without this plot beats no report
        return f"<p>No reliability diagram: {html.escape(str(exc))}</p>"
    labels = y_true if y_true is not None else _test_labels_for(proba)
    if labels is None or len(labels) != len(proba):
        return "<p>No reliability diagram: the MNIST test labels are not available.</p>"
    return reliability_figure(reliability(labels, proba))


def _rendered(parts: list) -> str:
    """HTML strings as they are, figures as HTML; plotly.js (megabytes of it) is embedded once, with
    the first figure, so the file opens offline."""
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

    The figures are the Explore page's (``recognizer.core.figures``). ``y_true``: the test labels for the
    reliability diagram; read from MNIST when omitted.
    """
    run_dir = Path(run_dir)
    model_file_of(run_dir)
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
        _curves_part(read_json_or(run_dir / "history.json", {}), read_json_or(run_dir / BATCHES_FILE, {})),
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
