"""Measure how a model reads photos of paper: a stress table, one row per condition (held-out writers).

    digits-evaluate-photos                          # the active model, 500 digits and 200 numbers a row
    digits-evaluate-photos --count 200 --numbers 100 --json photos.json
    digits-evaluate-photos --rows clean "defocus blur"

Pen-written digits of writers no model trained on, rendered as 112x112 scans of paper (ink dark on
white, some margin, a felt pen) and 4-digit numbers of one writer each, then changed by one
condition per row: paper texture, uneven light and a shadow, defocus blur, JPEG quality 40-90, a
thin blue or black ballpoint, ruled or squared paper, turned ±10° and askew, the size of a phone
photo (3000x4000, the digits a small part of it). Each row gives single digits read right through
``read_photo`` and ``predict_drawing``, numbers read exactly through ``read_photo``, and how long
``read_photo`` takes on one digit's photo (docs/photos.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recognizer.core.runs import ModelNotFoundError
from recognizer.core.storage import write_json_atomic
from recognizer.data.pen import default_pen_digits_path, load_pen_digits, writer_split
from recognizer.data.photos import CONDITIONS
from recognizer.evaluation.photos import format_table, photo_report
from recognizer.reading.recognizer import load_recognizer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="run folder or .keras file (default: active)")
    parser.add_argument("--count", type=int, default=500, help="single digits per row")
    parser.add_argument("--numbers", type=int, default=200, help="4-digit numbers per row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", nargs="+", default=None, choices=[name for name, _, _ in CONDITIONS])
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.count < 0 or args.numbers < 0:
        parser.error("--count and --numbers must be 0 or more")
    pen_path = default_pen_digits_path()
    if pen_path is None or not pen_path.is_file():
        print("error: no pen-digits file: set DIGITS_PEN_DIGITS to its path", file=sys.stderr)
        return 1
    try:
        rec = load_recognizer(args.model)
    except ModelNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    pen = load_pen_digits(pen_path)
    report = photo_report(rec, pen.subset(writer_split(pen)[1]), args.count, args.numbers, args.seed, args.rows)
    print(f"model: {rec.name}\n")
    print(format_table(report))
    if args.json:
        write_json_atomic(args.json, {"model": rec.name, "seed": args.seed, "rows": report})
    return 0


if __name__ == "__main__":
    sys.exit(main())
