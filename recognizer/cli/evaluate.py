"""Evaluate a model on the MNIST test set: accuracy, per-class table, top confusions.

digits-evaluate                       # the active model
digits-evaluate --model models/deepcnn-mnist-v1 --json report.json
digits-evaluate --model models/deepcnn-drawings-v2 --holdout --write-metrics
digits-evaluate --model models/deepcnn-drawings-v4 --holdout --panel

``--holdout`` also reads the held-out writers' pen digits: accuracy, each styled way of writing
1, 7 and 0, the calibration error, the measured "Not sure" threshold (``recognizer.confidence``) and,
for a model that knows "not a digit", how often it flags held-out letters, digit pairs and digits.
``--panel`` reads the answers the network is unsure of with the runs its ``panel.json`` names too
(``recognizer.inference.PANEL_FILE``).
``--write-metrics`` stores those, and the MNIST figures as the model is read now, in the run's
``metrics.json`` (for a run made before they existed), with its MNIST test answers
(``misclassified.json``, ``test_probabilities.npz``), so the Explore page shows what it counts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from recognizer.core.runs import ModelNotFoundError
from recognizer.core.storage import read_json_or, write_json_atomic
from recognizer.data.drawings import as_mnist
from recognizer.data.mnist import DataError, load_mnist, terminal_progress
from recognizer.data.pen import default_pen_digits_path, load_pen_digits, writer_split
from recognizer.evaluation.answers import write_test_answers
from recognizer.evaluation.holdout import calibration_holdout_report, not_digit_holdout_report, pen_holdout_report
from recognizer.evaluation.metrics import classification_report
from recognizer.reading.recognizer import load_recognizer
from recognizer.reading.views import VIEWS, tta_proba
from recognizer.training.run_files import mnist_test_metrics


def format_report(report: dict, name: str) -> str:
    lines = [
        f"model: {name}",
        f"test accuracy: {report['accuracy']:.4%}  ({report['error_count']} errors in {report['num_samples']}; "
        f"the network alone, without views when unsure: {report['network_accuracy']:.4%})",
        f"test loss: {report['loss']:.4f}   macro F1: {report['macro_f1']:.4f}",
        "",
        "digit  precision  recall     f1  support",
    ]
    for c in report["per_class"]:
        lines.append(f"{c['class']:>5}  {c['precision']:>9.4f}  {c['recall']:>6.4f}  {c['f1']:.4f}  {c['support']:>7}")
    lines += ["", "top confusions (true -> predicted: count)"]
    lines += [f"  {c['true']} -> {c['predicted']}: {c['count']}" for c in report["top_confusions"]] or ["  none"]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="run folder or .keras file (default: active)")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder with the MNIST IDX gz files")
    parser.add_argument("--json", type=Path, default=None, help="also write the full report here")
    parser.add_argument("--holdout", action="store_true", help="also read the held-out pen digits")
    parser.add_argument("--panel", action="store_true", help="read unsure answers with the run's panel too")
    parser.add_argument("--write-metrics", action="store_true", help="store the figures in the run's folder")
    parser.add_argument("--tta", action="store_true", help="also read with test-time augmentation (recognizer.tta)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.write_metrics and not args.holdout:
        parser.error("--write-metrics needs --holdout")
    if args.write_metrics and args.panel:
        parser.error("--write-metrics stores how the app reads a run: without its panel")
    try:
        rec = load_recognizer(args.model, panel=args.panel)
        _, (x_test, y_test) = load_mnist(args.data_dir, progress=terminal_progress())
    except (ModelNotFoundError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    proba = rec.predict_proba(x_test)
    report = classification_report(y_test, proba)
    report["network_accuracy"] = float(np.mean(rec.predict(x_test, views=False) == y_test))
    report["panel"] = [member.name for member in rec.panel]
    print(format_report(report, rec.name))
    if rec.panel:
        print(f"unsure answers read with the panel: {', '.join(report['panel'])}")
    if args.holdout and not _add_holdout(report, rec, y_test, proba):
        return 1
    if args.tta:
        report["tta"] = _tta_figures(rec, x_test, y_test)
    if args.write_metrics:
        _store_holdout(rec.run_dir, report, y_test, proba, argv)
    if args.json:
        write_json_atomic(args.json, report)
    return 0


def _add_holdout(report: dict, rec, y_test, proba) -> bool:
    """Read the held-out pen digits into ``report`` and print them; False without the pen file."""
    report["pen_holdout"] = pen_holdout_report(rec, None)
    if report["pen_holdout"] is None:
        print("error: no pen-digits file (set DIGITS_PEN_DIGITS)", file=sys.stderr)
        return False
    report["calibration"] = calibration_holdout_report(rec, None, y_test, proba)
    if rec.knows_not_digit:
        report["not_digit"] = not_digit_holdout_report(rec, None)
    print(format_holdout(report["pen_holdout"], report["calibration"], report.get("not_digit")))
    return True


def _tta_figures(rec, x_test, y_test) -> dict:
    """Accuracy of the network alone, as read (views where unsure) and with every image in every view:
    MNIST test, and the held-out pen digits as the model sees them (one rendering each, through the
    app's preprocessing)."""
    sets = {"mnist": (x_test, y_test)}
    pen_file = default_pen_digits_path()
    if pen_file is not None and pen_file.is_file():
        pen = load_pen_digits(pen_file)
        sets["pen_holdout"] = as_mnist(pen.subset(writer_split(pen)[1]), seed=0)
    figures = {"views": [list(v) for v in VIEWS]}
    for name, (x, y) in sets.items():
        answers = (rec.predict_proba(x, views=False), rec.predict_proba(x), tta_proba(rec, x))
        plain, read, tta = (float(np.mean(p.argmax(axis=1) == y)) for p in answers)
        figures[name] = {"plain": plain, "views_when_unsure": read, "tta": tta}
        print(
            f"{name}: {plain:.2%} network alone, {read:.2%} as read (views under {rec.views_below:.0%} sure), "
            f"{tta:.2%} with {len(VIEWS)}-view test-time augmentation of every image"
        )
    return figures


def format_holdout(pen: dict, calibration: dict, not_digit: dict | None = None) -> str:
    threshold = calibration["unsure_below"]
    lines = [
        "",
        f"held-out pen digits: {pen['accuracy']:.2%} of {pen['num_samples']} ({pen['writers']} writers)",
        *(f"  {name:<16} {v['accuracy']:.2%} of {v['count']}" for name, v in pen["styled"].items()),
        f"calibration error (ECE): pen {calibration['pen_ece']:.4f}, MNIST {calibration['mnist_ece']:.4f}",
    ]
    if threshold is None:
        lines.append("no threshold keeps the 'Not sure' rule: the page never says 'Not sure' for this model")
    else:
        below, above = calibration["below"], calibration["above"]
        lines.append(
            f"'Not sure' under {threshold:.0%}: {below['share']:.1%} of answers, right {below['accuracy']:.1%}"
            f" (above it: {above['accuracy']:.2%})"
        )
    if not_digit:
        flagged = f"two digits {not_digit['two_digits_flagged']:.1%}, single digits {not_digit['digits_flagged']:.1%}"
        letters = f"letters {not_digit['letters_flagged']:.1%}, " if "letters_flagged" in not_digit else ""
        lines.append(f"flagged 'not a digit': {letters}{flagged}")
    return "\n".join(lines)


def _store_holdout(run_dir: Path, report: dict, y_test: np.ndarray, proba: np.ndarray, argv: list[str] | None) -> None:
    """Store how the app reads the run now (views where unsure) in the run's folder: metrics.json's
    MNIST and hold-out figures, and its MNIST test answers for the Explore page."""
    path = run_dir / "metrics.json"
    metrics = read_json_or(path, {})
    metrics.update(mnist_test_metrics(classification_report(y_test, proba)))
    metrics["network_accuracy"] = report["network_accuracy"]  # beside the network alone
    metrics.update(pen_holdout_accuracy=report["pen_holdout"]["accuracy"], pen_holdout=report["pen_holdout"])
    metrics["calibration"] = report["calibration"]
    if report.get("not_digit"):
        metrics["not_digit"] = report["not_digit"]
    write_test_answers(run_dir, y_test, proba)
    command = " ".join(["digits-evaluate", *(sys.argv[1:] if argv is None else argv)])
    metrics["holdout_measured_by"] = command
    write_json_atomic(path, metrics)
    print(f"stored in {path}")


if __name__ == "__main__":
    sys.exit(main())
