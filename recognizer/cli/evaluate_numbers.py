"""Measure how a model reads written numbers and knows ink that is not a digit (held-out writers).

    digits-evaluate-numbers                     # the active model
    digits-evaluate-numbers --model models/deepcnn-drawings-v1 --numbers 500 --json out.json

Numbers are composed from the pen-written digits of writers no model trained on (one writer per
number) on an 840x280 canvas: digits 165-195 px high, brush 14-25 px, neighbours 15-40 px apart
("spaced") or -6..+6 px ("touching": overlapping to just apart). A number counts only when read
exactly. "Not a digit": the shares ``predict_drawing`` flags among held-out writers' clearly-not-digit
letters, two-digit drawings and single digits on the 280 px one-digit canvas.

Then the stress table (``--stress`` numbers a row, 0 to skip): the same numbers written with one
way people vary at a time (digit heights, baseline, slant, brush, several hands, length and place,
gaps), a mix of hands and sizes, and all together; and the plain figures per source collection.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recognizer.core.runs import ModelNotFoundError
from recognizer.core.storage import write_json_atomic
from recognizer.data.pen import default_pen_digits_path, load_pen_digits, writer_split
from recognizer.evaluation.holdout import not_digit_holdout_report
from recognizer.evaluation.numbers import number_report
from recognizer.evaluation.stress import collection_report, format_collections, format_stress, stress_report
from recognizer.reading.recognizer import load_recognizer


def format_tables(numbers: dict, not_digit: dict | None, name: str) -> str:
    lines = [f"model: {name}", "", "| how the number is written | read exactly | digits right | ms per number |"]
    lines.append("| --- | ---: | ---: | ---: |")
    for case, f in numbers.items():
        lines.append(f"| {case} | {f['exact']:.1%} | {f['digit_accuracy']:.1%} | {f['ms_per_number']:.1f} |")
    if not_digit:
        lines += ["", "| drawn in One digit mode | flagged 'not a digit' |", "| --- | ---: |"]
        if "letters_flagged" in not_digit:
            lines.append(f"| clearly-not-digit letters ({not_digit['letters']}) | {not_digit['letters_flagged']:.1%} |")
        lines.append(f"| two digits ({not_digit['two_digit_drawings']}) | {not_digit['two_digits_flagged']:.1%} |")
        lines.append(f"| single digits ({not_digit['digits']}) | {not_digit['digits_flagged']:.1%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="run folder or .keras file (default: active)")
    parser.add_argument("--reader", type=Path, default=None, help="strip reader folder (default: the shipped one)")
    parser.add_argument("--numbers", type=int, default=500, help="numbers per case")
    parser.add_argument("--stress", type=int, default=300, help="numbers per stress-table row (0: no table)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    pen_path = default_pen_digits_path()
    if pen_path is None or not pen_path.is_file():
        print("error: no pen-digits file: set DIGITS_PEN_DIGITS to its path", file=sys.stderr)
        return 1
    try:
        rec = load_recognizer(args.model, number_reader=args.reader or True)
    except (ModelNotFoundError, ValueError) as exc:  # LiteFileError, an unreadable reader, is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 1
    pen = load_pen_digits(pen_path)
    held_out = writer_split(pen)[1]
    numbers = number_report(rec, pen.subset(held_out), args.numbers, args.seed)
    not_digit = not_digit_holdout_report(rec, pen_path) if rec.knows_not_digit else None
    print(format_tables(numbers, not_digit, rec.name))
    reader = rec.number_reader.run_dir if rec.number_reader else None
    figures = {"model": rec.name, "reader": str(reader), "numbers": numbers, "not_digit": not_digit}
    if args.stress > 0:
        figures["stress"] = stress_report(rec, pen.subset(held_out), args.stress, args.seed)
        figures["collections"] = collection_report(rec, pen, held_out, args.stress, args.seed)
        print(f"\n{format_stress(figures['stress'])}\n\n{format_collections(figures['collections'])}")
    if args.json:
        write_json_atomic(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
