"""Measure ``Recognizer.adapt`` as a visitor would use it, on pen-digit writers no model trained on.

For each held-out writer with at least ``--min-digits`` digits: draw their first ``--first`` digits
on the canvas (random renderings through the app's preprocessing, each ``--draws`` times), correct
the ones the shipped recognizer reads wrong, adapt, then read the writer's other digits
(``--renderings`` random renderings each) with the original and the adapted recognizer. MNIST
test accuracy is measured through a sample of the adapted recognizers (``--mnist-writers`` of those
that got corrections; one with none answers as the original). ``--worst N`` keeps the N writers
the recognizer reads worst; ``--styled`` writes every 1 with a long flag, every 0 slashed and
every 7 crossed (``recognizer.styles``), as a writer with those habits would.

    digits-evaluate-adapt                                  # 10 drawn digits a writer
    digits-evaluate-adapt --worst 10 --draws 3             # 30 drawings, worst writers
    digits-evaluate-adapt --styled                         # continental 1s, 7s and 0s

Prints a JSON report; "error_cut" is 1 - errors after / errors before on the other digits, over
all writers; "same_digit_errors" counts errors before on digits the writer corrected (what
corrections can reach).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from recognizer import load_recognizer
from recognizer.data.drawings import as_mnist
from recognizer.data.mnist import load_mnist
from recognizer.data.pen import default_pen_digits_path, load_pen_digits, random_rendering, writer_split
from recognizer.data.styles import styled
from recognizer.reading.adapt import prepare

STYLES = {1: "1 long flag", 0: "0 slashed", 7: "7 crossed"}


def writer_drawings(pen, index, renderings: int, rng, style: bool) -> list[tuple[int, int, np.ndarray]]:
    """(pen index, label, canvas RGBA) for ``renderings`` drawings of each digit at ``index``."""
    out = []
    for i in index:
        strokes, label = pen.strokes(int(i)), int(pen.labels[i])
        if style and label in STYLES:
            strokes = styled(strokes, STYLES[label], rng)  # the writer's habit: the same on every drawing
        out += [(int(i), label, random_rendering(strokes, rng)) for _ in range(renderings)]
    return out


def errors(recognizer, drawings) -> np.ndarray:
    """(N,) True where ``recognizer`` reads a drawing wrong (or as blank)."""
    answers = recognizer.predict_drawings([rgba for _, _, rgba in drawings])
    return np.array([p is None or p.digit != label for p, (_, label, _) in zip(answers, drawings, strict=True)])


def corrections(recognizer, drawings) -> tuple[np.ndarray, np.ndarray]:
    """The wrongly read drawings as the visitor corrects them: (28x28 inputs, right labels)."""
    answers = recognizer.predict_drawings([rgba for _, _, rgba in drawings])
    wrong = [(p.input, label) for p, (_, label, _) in zip(answers, drawings, strict=True) if p and p.digit != label]
    if not wrong:
        return np.zeros((0, 28, 28), np.float32), np.zeros(0, np.int64)
    return np.stack([image for image, _ in wrong]), np.array([label for _, label in wrong])


def chosen_writers(pen, rec, args, rng) -> list[np.ndarray]:
    """Each held-out writer's digit indices in the order written; only the worst with ``--worst``."""
    _, held = writer_split(pen)
    writers = [held[pen.writers[held] == w] for w in np.unique(pen.writers[held])]
    writers = [own for own in writers if len(own) >= args.min_digits]
    if args.worst:
        rate = [errors(rec, writer_drawings(pen, own, 2, rng, args.styled)).mean() for own in writers]
        writers = [writers[k] for k in np.argsort(rate, kind="stable")[::-1][: args.worst]]
    return writers


def one_writer(pen, rec, own, args, rng) -> dict:
    """Draw, correct, adapt and read the rest for one writer."""
    drawn = writer_drawings(pen, own[: args.first], args.draws, rng, args.styled)
    images, labels = corrections(rec, drawn)
    started = time.perf_counter()
    adapted = rec.adapt(images, labels)
    seconds = time.perf_counter() - started
    rest = writer_drawings(pen, own[args.first :], args.renderings, rng, args.styled)
    before, after = errors(rec, rest), errors(adapted, rest)
    rest_labels = np.array([label for _, label, _ in rest])
    return {
        "corrections": len(labels),
        "errors_before": int(before.sum()),
        "errors_after": int(after.sum()),
        "same_digit_errors": int((before & np.isin(rest_labels, labels)).sum()),
        "new_errors": int((after & ~before).sum()),
        "adapt_seconds": seconds,
        "adapted": adapted,
    }


def mnist_accuracies(rec, adapted: list, count: int) -> tuple[float, list[float]]:
    """MNIST test accuracy of the original and of the first ``count`` adapted recognizers."""
    _, (x_test, y_test) = load_mnist()
    base = float((rec.predict(x_test) == y_test).mean())
    return base, [float((a.predict(x_test) == y_test).mean()) for a in adapted[:count]]


def fifty_corrections_seconds(rec, pen) -> float:
    """Time to adapt to 50 corrections (the page re-adapts with all of a visitor's corrections)."""
    _, held = writer_split(pen)

    images, labels = as_mnist(pen.subset(held[:50]), seed=3)
    started = time.perf_counter()
    rec.adapt(images[:50], labels[:50])
    return time.perf_counter() - started


def report(rec, pen, args) -> dict:

    started = time.perf_counter()
    prepare(rec.network)  # once per network (MNIST reference digits); the first correction on a server pays it
    prepare_seconds = time.perf_counter() - started
    rng = np.random.default_rng(args.seed)
    writers = chosen_writers(pen, rec, args, rng)
    rows = [one_writer(pen, rec, own, args, rng) for own in writers]
    taught = [r["adapted"] for r in rows if r["corrections"]]
    base, mnist = mnist_accuracies(rec, taught, args.mnist_writers) if args.mnist_writers else (None, [])
    before, after = sum(r["errors_before"] for r in rows), sum(r["errors_after"] for r in rows)
    return {
        "writers": len(rows),
        "writers_with_corrections": len(taught),
        "corrections": sum(r["corrections"] for r in rows),
        "errors_before": before,
        "errors_after": after,
        "error_cut": 1 - after / before if before else None,
        "same_digit_errors": sum(r["same_digit_errors"] for r in rows),
        "new_errors": sum(r["new_errors"] for r in rows),
        "drawings_read": sum(max(0, len(own) - args.first) for own in writers) * args.renderings,
        "mnist_test": {
            "original": base,
            "adapted_mean": float(np.mean(mnist)) if mnist else None,
            "adapted_worst": min(mnist) if mnist else None,
            "adapted_count": len(mnist),
        },
        "prepare_seconds": prepare_seconds,
        "adapt_seconds_max": max((r["adapt_seconds"] for r in rows), default=0.0),
        "adapt_seconds_50_corrections": fifty_corrections_seconds(rec, pen),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="run folder or .keras file (default: the active model)")
    parser.add_argument("--pen-digits", help="pen-digits .npz (default: DIGITS_PEN_DIGITS or the development copy)")
    parser.add_argument("--first", type=int, default=10, help="digits each writer draws before reading the rest")
    parser.add_argument("--draws", type=int, default=1, help="times each of those digits is drawn")
    parser.add_argument("--renderings", type=int, default=5, help="random renderings of each other digit read")
    parser.add_argument("--min-digits", type=int, default=20, help="writers with at least this many digits")
    parser.add_argument("--worst", type=int, default=0, help="keep only the N writers read worst (0: all)")
    parser.add_argument("--styled", action="store_true", help="1s with a long flag, 0s slashed, 7s crossed")
    parser.add_argument("--mnist-writers", type=int, default=20, help="adapted recognizers measured on MNIST test")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rec = load_recognizer(args.model, number_reader=False)
    pen = load_pen_digits(args.pen_digits or default_pen_digits_path())
    print(json.dumps(report(rec, pen, args), indent=2))


if __name__ == "__main__":
    main()
