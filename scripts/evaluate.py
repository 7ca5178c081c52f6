"""Evaluate a model on the MNIST test set: accuracy, per-class table, top confusions.

python scripts/evaluate.py                       # the active model
python scripts/evaluate.py --model models/deepcnn-mnist-v1 --json report.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recognizer.data import DataError, load_mnist, terminal_progress  # noqa: E402
from recognizer.evaluate import classification_report  # noqa: E402
from recognizer.inference import load_recognizer  # noqa: E402
from recognizer.runs import ModelNotFoundError  # noqa: E402
from recognizer.storage import write_json_atomic  # noqa: E402


def format_report(report: dict, name: str) -> str:
    lines = [
        f"model: {name}",
        f"test accuracy: {report['accuracy']:.4%}  ({report['error_count']} errors in {report['num_samples']})",
        f"test loss: {report['loss']:.4f}   macro F1: {report['macro_f1']:.4f}",
        "",
        "digit  precision  recall     f1  support",
    ]
    for c in report["per_class"]:
        lines.append(f"{c['class']:>5}  {c['precision']:>9.4f}  {c['recall']:>6.4f}  {c['f1']:.4f}  {c['support']:>7}")
    lines += ["", "top confusions (true -> predicted: count)"]
    lines += [f"  {c['true']} -> {c['predicted']}: {c['count']}" for c in report["top_confusions"]] or ["  none"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="run folder or .keras file (default: active)")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder with the MNIST IDX gz files")
    parser.add_argument("--json", type=Path, default=None, help="also write the full report here")
    args = parser.parse_args(argv)
    try:
        rec = load_recognizer(args.model)
        _, (x_test, y_test) = load_mnist(args.data_dir, progress=terminal_progress())
    except (ModelNotFoundError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report = classification_report(y_test, rec.predict_proba(x_test))
    print(format_report(report, rec.name))
    if args.json:
        write_json_atomic(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
