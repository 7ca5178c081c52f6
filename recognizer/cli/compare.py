"""Compare runs side by side, optionally with an ensemble of them, as a Markdown table.

    digits-compare models/deepcnn-mnist-v1 models/deepcnn-drawings-v1
    digits-compare RUN_A RUN_B RUN_C --ensemble ensemble-abc --ensemble-dir ~/runs

Columns: MNIST test accuracy, accuracy on the held-out writers' pen digits drawn on the canvas,
parameters, model file size (MB, 10**6 bytes), training time and the median latency of one image (ms).
With ``--ensemble NAME`` the runs' probabilities are averaged into a new run folder in
``--ensemble-dir`` (default: the user's runs folder), which can then be activated like any run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recognizer.core import paths
from recognizer.core.runs import ModelNotFoundError
from recognizer.core.storage import read_json
from recognizer.evaluation.comparison import comparison_row, markdown_table
from recognizer.evaluation.latency import measure_latency
from recognizer.reading.recognizer import load_recognizer
from recognizer.training.ensembles import build_ensemble


def run_row(run_dir: Path, latency_calls: int) -> dict:
    latency = measure_latency(load_recognizer(run_dir), calls=latency_calls)
    return comparison_row(run_dir, read_json(run_dir / "metrics.json"), latency)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders")
    parser.add_argument("--ensemble", default=None, help="also build an ensemble of the runs under this name")
    parser.add_argument("--ensemble-dir", type=Path, default=None, help="where the ensemble goes (default: user runs)")
    parser.add_argument("--latency-calls", type=int, default=200)
    args = parser.parse_args(argv)
    runs = list(args.runs)
    try:
        if args.ensemble:
            if len(runs) < 2:
                parser.error("an ensemble needs two or more runs")
            runs.append(build_ensemble(runs, args.ensemble_dir or paths.runs_dir(), args.ensemble))
        rows = [run_row(r, args.latency_calls) for r in runs]
    except (ModelNotFoundError, FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
