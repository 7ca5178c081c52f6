"""Export a model as a SavedModel (TF Serving) and TFLite float32 / float16 / int8, and compare them.

    digits-export                          # the active model, into the user data folder
    digits-export --model models/deepcnn-drawings-v2 --out exports/v2 --json exports/v2.json

Prints a Markdown table: each format's size, MNIST test accuracy and its change from the Keras
model, and the median milliseconds of one image (int8 is calibrated on MNIST training images).
The conversion code is ``recognizer.export``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from recognizer.core import paths
from recognizer.core.runs import ModelNotFoundError
from recognizer.core.storage import write_json_atomic
from recognizer.data.mnist import DataError, load_mnist
from recognizer.nets.convert import CALIBRATION_IMAGES
from recognizer.reading.recognizer import load_recognizer
from recognizer.training.export import export_all, markdown_table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="run folder or .keras (default: active)")
    parser.add_argument("--out", type=Path, default=None, help="default: <user data>/exports/<model>")
    parser.add_argument("--data-dir", type=Path, default=None, help="the MNIST folder (default: found as usual)")
    parser.add_argument("--calibration", type=int, default=CALIBRATION_IMAGES, help="MNIST training images for int8")
    parser.add_argument("--test-images", type=int, default=10_000, help="MNIST test images the accuracy is measured on")
    parser.add_argument("--latency-calls", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    try:
        rec = load_recognizer(args.model, number_reader=False)
        (x_train, _), (x_test, y_test) = load_mnist(args.data_dir, download=False)
    except (ModelNotFoundError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out = args.out or paths.user_data_dir() / "exports" / rec.name
    n = args.test_images
    with contextlib.redirect_stdout(sys.stderr):  # Keras prints while it converts; stdout is the table
        rows = export_all(rec.model, out, x_train[: args.calibration], x_test[:n], y_test[:n], args.latency_calls)
    print(f"{rec.name}: {min(n, len(x_test))} MNIST test images, files in {out}\n")
    print(markdown_table(rows))
    if args.json:
        write_json_atomic(args.json, {"model": rec.name, "folder": str(out), "formats": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
