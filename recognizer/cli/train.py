"""Train a model from the terminal: a preset, a flag for every TrainConfig field, a progress bar.

    digits-train --architecture deepcnn --epochs 15 --lr-schedule cosine
    digits-train --architecture lenet5 --epochs 1 --train-subset 500
    digits-train --preset best --epochs 10      # a preset; flags given override its values
    digits-train --runs-dir models --name deepcnn-v1 --activate   # a shipped model

Prints the run folder and the final test accuracy. ``--activate`` makes the run the active model.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import types
import typing
from pathlib import Path

from recognizer.core.runs import set_active
from recognizer.core.storage import read_json
from recognizer.data.mnist import DataError, terminal_progress
from recognizer.training.config import PRESET_NOTES, PRESETS, TrainConfig
from recognizer.training.hooks import TrainingHooks
from recognizer.training.loop import train


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _field_type(field: dataclasses.Field) -> type:
    hint = typing.get_type_hints(TrainConfig)[field.name]
    if isinstance(hint, types.UnionType):  # `int | None`
        return next(a for a in typing.get_args(hint) if a is not type(None))
    return hint


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=None,
        # argparse expands %-formats in help: the notes' percent signs are escaped.
        help="start from a ready-made run: "
        + "; ".join(f"{name}: {note}" for name, note in PRESET_NOTES.items()).replace("%", "%%"),
    )
    defaults = TrainConfig()
    for field in dataclasses.fields(TrainConfig):
        kind = _field_type(field)
        parser.add_argument(
            "--" + field.name.replace("_", "-"),
            type=_parse_bool if kind is bool else kind,
            default=None,  # None = not given: the preset's value, else TrainConfig's default
            metavar="BOOL" if kind is bool else kind.__name__.upper(),
            help=f"(default: {getattr(defaults, field.name)}, or the preset's)",
        )
    parser.add_argument(
        "--runs-dir", type=Path, default=None, help="where the run folder goes (default: user data dir)"
    )
    parser.add_argument("--name", default=None, help="run folder name (default: timestamp-architecture)")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder with the MNIST IDX gz files")
    parser.add_argument("--activate", action="store_true", help="make the finished run the active model")
    return parser


class ProgressBar(TrainingHooks):
    """One line per epoch, redrawn per batch, on stderr."""

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stderr  # the stream of the moment, not of the import
        self._download_bar = terminal_progress(stream)
        self.epochs = self.steps = 0
        self.epoch_started = time.perf_counter()

    def on_phase(self, phase: str) -> None:
        print(f"[{phase}]", file=self.stream, flush=True)

    def on_download(self, done, total, name) -> None:
        self._download_bar(done, total, name)

    def on_train_begin(self, info) -> None:
        self.epochs, self.steps = info["epochs"], info["steps_per_epoch"]
        print(
            f"training on {info['train_samples']} images, validating on {info['val_samples']}, "
            f"device: {info['device']}",
            file=self.stream,
        )

    def on_batch_end(self, epoch, step, logs) -> None:
        if step == 0:
            self.epoch_started = time.perf_counter()
        done = (step + 1) / self.steps
        bar = "#" * int(30 * done)
        elapsed = time.perf_counter() - self.epoch_started
        eta = elapsed / done - elapsed
        print(
            f"\repoch {epoch + 1}/{self.epochs} [{bar:<30}] {step + 1}/{self.steps} "
            f"loss {logs.get('loss', 0):.4f} acc {logs.get('accuracy', 0):.4f} eta {eta:4.0f}s",
            end="",
            file=self.stream,
            flush=True,
        )

    def on_epoch_end(self, epoch, logs) -> None:
        val = f" val_loss {logs['val_loss']:.4f} val_acc {logs['val_accuracy']:.4f}" if "val_loss" in logs else ""
        took = time.perf_counter() - self.epoch_started
        print(f" | {took:.0f}s{val} lr {logs['learning_rate']:.2e}", file=self.stream, flush=True)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The preset (if any) with every flag given over it; ``--train-subset 0`` means all images."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    given = {name: value for name, value in values.items() if value is not None}
    config = TrainConfig.preset(args.preset, **given) if args.preset else TrainConfig(**given)
    return dataclasses.replace(config, train_subset=None) if config.train_subset == 0 else config


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    problems = config.problems()
    if problems:
        print("error: " + "\n       ".join(problems), file=sys.stderr)
        return 2

    try:
        run_dir = train(
            config,
            runs_dir=args.runs_dir,
            hooks=ProgressBar(),
            data_dir=args.data_dir,
            run_name=args.name,
            made_by="digits-train " + " ".join(argv if argv is not None else sys.argv[1:]),
        )
    except (DataError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    metrics = read_json(run_dir / "metrics.json")
    print(f"run: {run_dir}")
    print(
        f"test accuracy: {metrics['test_accuracy']:.4%} ({metrics['error_count']} errors in {metrics['num_samples']})"
    )
    if args.activate:
        set_active(run_dir)
        print(f"active model: {run_dir.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
