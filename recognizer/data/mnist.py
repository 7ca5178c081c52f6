"""MNIST and Kaggle digit data: find, verify, download and read.

``load_mnist`` returns the standard split as uint8 arrays, ink = 255 on background = 0:

    >>> from recognizer.data.mnist import load_mnist
    >>> (x_train, y_train), (x_test, y_test) = load_mnist()  # doctest: +SKIP
    >>> x_train.shape, x_test.shape  # doctest: +SKIP
    ((60000, 28, 28), (10000, 28, 28))

Where the four IDX gz files are looked for, in order:
1. the ``data_dir`` argument;
2. the ``DIGITS_DATA_DIR`` environment variable;
3. the user cache dir (``recognizer.core.paths.cache_dir() / "mnist"``);
4. a download from public MNIST mirrors into that cache, with progress and checksums.

Checksums are MD5s of the *decompressed* bytes (the gz wrapper may differ between mirrors).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from recognizer.core import paths
from recognizer.core.preprocess import to_unit
from recognizer.core.units import megabytes

# name -> MD5 of the decompressed IDX bytes (the official MNIST values).
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}

MNIST_MIRRORS: tuple[str, ...] = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)

MNIST_TRAIN_IMAGES = 60_000  # images in MNIST's training set (its test set has 10,000)

IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049

# (bytes done, bytes total or None, file name) -> None
DownloadProgress = Callable[[int, int | None, str], None]


def terminal_progress(stream=None) -> DownloadProgress:
    """A ``DownloadProgress`` that draws a one-line bar per file on a terminal (stderr by default)."""
    import sys

    stream = stream or sys.stderr

    def show(done: int, total: int | None, name: str) -> None:
        if total:
            filled = int(30 * done / total)
            line = f"\rdownloading {name} [{'#' * filled:<30}] {megabytes(done):.1f}/{megabytes(total):.1f} MB"
        else:
            line = f"\rdownloading {name} {megabytes(done):.1f} MB"
        end = "\n" if total and done >= total else ""
        print(line, end=end, file=stream, flush=True)

    return show


class DataError(RuntimeError):
    """The dataset could not be found, downloaded or read; the message says what to do."""


class ChecksumError(DataError):
    """A data file's decompressed content does not match its published MD5."""


def _decompressed(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise ChecksumError(f"{path} is not a readable gzip file ({exc}); delete it or replace it") from exc


def verify_file(path: Path) -> bytes:
    """Return the decompressed bytes of an MNIST file after checking its MD5."""
    raw = _decompressed(path)
    expected = MNIST_FILES[path.name]
    actual = hashlib.md5(raw).hexdigest()
    if actual != expected:
        raise ChecksumError(
            f"{path} is corrupt: MD5 of its decompressed content is {actual}, expected {expected}. "
            "Delete it (it will be downloaded again) or replace it with a good copy."
        )
    return raw


def parse_idx(raw: bytes) -> np.ndarray:
    """Parse IDX bytes (magic 2051 images or 2049 labels) into a uint8 array."""
    if len(raw) < 8:
        raise DataError("IDX data is too short to hold a header")
    magic = int.from_bytes(raw[0:4], "big")
    count = int.from_bytes(raw[4:8], "big")
    if magic == IDX_IMAGES_MAGIC:
        if len(raw) < 16:
            raise DataError("IDX images data is too short to hold a header")
        rows, cols = int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big")
        shape, offset = (count, rows, cols), 16
    elif magic == IDX_LABELS_MAGIC:
        shape, offset = (count,), 8
    else:
        raise DataError(f"not an IDX images/labels file (magic number {magic})")
    data = np.frombuffer(raw, dtype=np.uint8, offset=offset)
    if data.size != int(np.prod(shape)):
        raise DataError(f"IDX data holds {data.size} values, header promises {shape}")
    return data.reshape(shape)


def _has_all(folder: Path) -> bool:
    return all((folder / name).is_file() for name in MNIST_FILES)


def _missing_message(searched: list[str]) -> str:
    names = ", ".join(MNIST_FILES)
    where = "; ".join(searched) if searched else "nowhere"
    return (
        f"MNIST data not found (looked in: {where}) and it could not be downloaded. "
        f"Put the four files {names} in a folder and set DIGITS_DATA_DIR to it "
        "(or pass data_dir=...)."
    )


def download_mnist(
    dest: Path,
    mirrors: tuple[str, ...] = MNIST_MIRRORS,
    progress: DownloadProgress | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download the four MNIST files into ``dest``, verifying each before it is kept.

    A file is downloaded to a temp name, checked, and only then renamed into place, so an
    interrupted download never leaves a corrupt file behind. Raises ``DataError`` when no mirror
    delivers a good copy.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        target = dest / name
        if target.is_file():
            try:
                verify_file(target)
                continue
            except ChecksumError:
                target.unlink()
        errors = []
        for mirror in mirrors:
            try:
                _download_one(mirror + name, target, progress, timeout)
                break
            except (urllib.error.URLError, OSError, ChecksumError) as exc:
                errors.append(f"{mirror}: {exc}")
        else:
            raise DataError(f"could not download {name}: " + " | ".join(errors))
    return dest


def _download_one(url: str, target: Path, progress: DownloadProgress | None, timeout: float) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            total = int(total) if total else None
            done = 0
            while chunk := response.read(1 << 16):
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total, target.name)
        if hashlib.md5(_decompressed(tmp)).hexdigest() != MNIST_FILES[target.name]:
            raise ChecksumError(f"{url} delivered a file with the wrong checksum")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def find_mnist_dir(
    data_dir: str | os.PathLike | None = None, download: bool = True, progress: DownloadProgress | None = None
) -> Path:
    """Return a folder holding the four MNIST files, following the lookup order above."""
    searched = []
    explicit = data_dir if data_dir is not None else os.environ.get("DIGITS_DATA_DIR")
    if explicit:
        folder = Path(explicit).expanduser()
        if _has_all(folder):
            return folder
        missing = [n for n in MNIST_FILES if not (folder / n).is_file()]
        raise DataError(
            f"{folder} (from {'data_dir' if data_dir is not None else 'DIGITS_DATA_DIR'}) "
            f"lacks {', '.join(missing)}; it must hold all four MNIST files: {', '.join(MNIST_FILES)}"
        )
    cache = paths.cache_dir() / "mnist"
    searched.append(str(cache))
    if _has_all(cache):
        return cache
    if not download:
        raise DataError(_missing_message(searched))
    try:
        return download_mnist(cache, progress=progress)
    except DataError as exc:
        raise DataError(_missing_message(searched) + f" Download error: {exc}") from exc


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    progress: DownloadProgress | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)``, uint8, checksums verified."""
    folder = find_mnist_dir(data_dir, download=download, progress=progress)
    arrays = {name: parse_idx(verify_file(folder / name)) for name in MNIST_FILES}
    x_train, y_train = arrays["train-images-idx3-ubyte.gz"], arrays["train-labels-idx1-ubyte.gz"]
    x_test, y_test = arrays["t10k-images-idx3-ubyte.gz"], arrays["t10k-labels-idx1-ubyte.gz"]
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise DataError(f"MNIST files in {folder} disagree on the number of samples")
    return (x_train, y_train), (x_test, y_test)


def summary(mnist, per_class: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """MNIST at a glance, from the ``load_mnist`` tuple.

    ``train_counts`` and ``test_counts`` (images per digit), ``samples`` (10, per_class, 28, 28) uint8:
    random training images of each digit, ``means`` (10, 28, 28) float32 0..1: the mean training image of
    each digit, and ``intensity`` (256,): how many training pixels have each value.
    """
    (x_train, y_train), (_, y_test) = mnist
    rng = np.random.default_rng(seed)
    by_digit = [np.flatnonzero(y_train == d) for d in range(10)]
    return {
        "train_counts": np.bincount(y_train, minlength=10),
        "test_counts": np.bincount(y_test, minlength=10),
        "samples": np.stack([x_train[rng.choice(rows, per_class, replace=False)] for rows in by_digit]),
        "means": np.stack([to_unit(x_train[rows].mean(axis=0)) for rows in by_digit]),
        "intensity": np.bincount(x_train.ravel(), minlength=256),
    }


def load_kaggle_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a Kaggle digit-recognizer CSV: ``train.csv`` (label + 784 pixels) or ``test.csv``.

    Returns ``(images uint8 (N,28,28), labels uint8 (N,) or None)``. Raises ``DataError`` for a
    file that is not in that format.
    """
    path = Path(path)
    try:
        with open(path) as f:
            header = f.readline().strip().split(",")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    has_label = header[:1] == ["label"]
    n_pixels = len(header) - int(has_label)
    if n_pixels != 784:
        raise DataError(
            f"{path} has {len(header)} columns; expected 784 pixel columns (test.csv) or 'label' plus 784 (train.csv)"
        )
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
    except ValueError as exc:
        raise DataError(f"{path} could not be read as rows of integer pixels: {exc}") from exc
    if table.shape[1] != len(header):
        raise DataError(f"{path}: rows have {table.shape[1]} values, header has {len(header)}")
    pixels = table[:, 1:] if has_label else table
    if pixels.size and (pixels.min() < 0 or pixels.max() > 255):
        raise DataError(f"{path} has pixel values outside 0..255")
    images = pixels.astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, 0].astype(np.uint8) if has_label else None
    if labels is not None and labels.size and (table[:, 0].min() < 0 or table[:, 0].max() > 9):
        raise DataError(f"{path} has labels outside 0..9")
    return images, labels
