"""Train the number reader: the strip model that reads a whole written number at once.

    digits-train-reader --samples 60000 --epochs 8 --varied-share 0.5 --out models/number-reader-v2  # the shipped one
    digits-train-reader --samples 2000 --epochs 1 --out /tmp/reader

Numbers are composed from the development writers' pen digits and MNIST's training digits
(``recognizer.training.number_reader``; ``--varied-share`` of the pen numbers written as people
vary them); the app's number reading combines this reader with the digit
classifier (``recognizer.reading.strip_reader.reconcile``). Prints the reader's own held-out figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from pathlib import Path

from recognizer.training.number_reader import NumberReaderConfig, train_number_reader


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for field in dataclasses.fields(NumberReaderConfig):
        default = field.default
        parser.add_argument("--" + field.name.replace("_", "-"), type=type(default), default=default)
    parser.add_argument("--out", type=Path, required=True, help="folder to write the reader to (replaced)")
    return parser


def main(argv: list[str] | None = None) -> int:

    args = build_parser().parse_args(argv)
    config = NumberReaderConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(NumberReaderConfig)})
    if config.problems():
        print("error: " + "; ".join(config.problems()), file=sys.stderr)
        return 2
    made_by = "digits-train-reader " + shlex.join(argv if argv is not None else sys.argv[1:])
    out = train_number_reader(config, args.out, made_by=made_by)
    print(out)
    print(json.dumps(json.loads((out / "metrics.json").read_text())["held_out_exact"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
