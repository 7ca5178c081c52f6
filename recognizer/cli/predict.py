"""Predict a Kaggle digit-recognizer CSV and write a submission (ImageId,Label).

    digits-predict --csv test.csv --out submission.csv [--model PATH]

The input is Kaggle's test.csv (784 pixel columns) or train.csv (label first; the labels are
ignored for prediction, and the accuracy against them is printed).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from recognizer.core.runs import ModelNotFoundError
from recognizer.core.storage import write_bytes_atomic
from recognizer.data.mnist import DataError, load_kaggle_csv
from recognizer.reading.recognizer import load_recognizer


def submission_csv(labels: np.ndarray) -> str:
    """Kaggle's format: header ``ImageId,Label``, ImageId counting from 1."""
    out = io.StringIO()
    out.write("ImageId,Label\n")
    for i, label in enumerate(labels, start=1):
        out.write(f"{i},{int(label)}\n")
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", type=Path, required=True, help="Kaggle test.csv or train.csv")
    parser.add_argument("--out", type=Path, required=True, help="submission file to write")
    parser.add_argument("--model", type=Path, default=None, help="run folder or .keras file (default: active)")
    args = parser.parse_args(argv)
    try:
        images, labels = load_kaggle_csv(args.csv)
        rec = load_recognizer(args.model)
    except (DataError, ModelNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    predicted = rec.predict(images)
    write_bytes_atomic(args.out, submission_csv(predicted).encode())
    print(f"wrote {len(predicted)} predictions to {args.out} (model {rec.name})")
    if labels is not None and len(labels):
        print(f"accuracy against the CSV's labels: {np.mean(predicted == labels):.4%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
