"""Tests for ``recognizer.data.mnist``: finding, verifying, downloading and reading the digit datasets.

Covered: ``load_mnist`` on the real files and its lookup order (``data_dir`` argument, then
``DIGITS_DATA_DIR``, then the cache, then a download); checksum errors for damaged files;
``download_mnist`` against a local HTTP server (progress, mirror fallback, clean failure);
``parse_idx`` on hand-built IDX bytes; ``load_kaggle_csv`` on small hand-written CSVs.

The tests that read the real MNIST files need ``DIGITS_DATA_DIR`` to name a folder holding them
(that folder is only read) and are skipped without it. Every test gets its own cache and home
folders under ``tmp_path``, and may open network connections to loopback only.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from recognizer.data import mnist
from recognizer.data.mnist import (
    MNIST_FILES,
    ChecksumError,
    DataError,
    download_mnist,
    find_mnist_dir,
    load_kaggle_csv,
    load_mnist,
    parse_idx,
)

# Read once at import, before any test changes the environment.
REAL_MNIST_DIR = os.environ.get("DIGITS_DATA_DIR", "")
HAVE_MNIST = bool(REAL_MNIST_DIR) and all(Path(REAL_MNIST_DIR, n).is_file() for n in MNIST_FILES)
needs_mnist = pytest.mark.skipif(
    not HAVE_MNIST, reason="set DIGITS_DATA_DIR to a folder holding the four MNIST .gz files"
)

TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = MNIST_FILES
TRAIN_CLASS_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}


# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Private cache/home folders, no DIGITS_DATA_DIR, and no connections beyond loopback."""
    monkeypatch.setenv("DIGITS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DIGITS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DIGITS_DATA_DIR", raising=False)

    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if host not in LOOPBACK_HOSTS:
            raise socket.gaierror(f"test tried to resolve {host!r}; only loopback is allowed")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock, address):
        if isinstance(address, tuple) and address[0] not in LOOPBACK_HOSTS:
            raise ConnectionRefusedError(f"test tried to connect to {address!r}; only loopback is allowed")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


def _place(names, dest: Path, src: Path | None = None) -> Path:
    """Put ``names`` into ``dest``: links to (or copies of) the files in ``src``, or empty files."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        if src is None:
            (dest / name).touch()
            continue
        try:
            (dest / name).symlink_to(src / name)
        except OSError:
            shutil.copyfile(src / name, dest / name)
    return dest


def _change_last_byte(gz: bytes) -> bytes:
    """A valid gzip whose content differs in one byte (a label stays a plausible digit)."""
    raw = bytearray(gzip.decompress(gz))
    raw[-1] = (raw[-1] + 1) % 10
    return gzip.compress(bytes(raw), mtime=0)


def _not_gzip(gz: bytes) -> bytes:
    return b"<html><body>Service unavailable</body></html>\n"


def _truncated(gz: bytes) -> bytes:
    return gz[: len(gz) // 2]


def _damaged_deflate_stream(gz: bytes) -> bytes:
    """A gzip header followed by a deflate block of the reserved type 3 (zlib: invalid block type)."""
    fresh = gzip.compress(gzip.decompress(gz), mtime=0)  # 10-byte header, no file name field
    return fresh[:10] + b"\x07" + fresh[11:]


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "one-byte-changed": _change_last_byte,
    "not-gzip": _not_gzip,
    "truncated-gzip": _truncated,
    "damaged-deflate-stream": _damaged_deflate_stream,
}


class Server(NamedTuple):
    root: Path  # the folder served at ``url``
    url: str  # "http://127.0.0.1:<port>/"
    requested: list[str]  # request paths, in order


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A static file server on 127.0.0.1 (free port) in a thread; subfolders of root act as mirrors."""
    root = tmp_path / "www"
    root.mkdir()
    requested: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args) -> None:  # keep test output clean
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Server(root, f"http://127.0.0.1:{httpd.server_address[1]}/", requested)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture
def closed_url() -> Iterator[str]:
    """A loopback URL whose port is bound but not listening, so connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"


def _no_download(*args, **kwargs):
    pytest.fail("download_mnist must not be called here")


# --------------------------------------------------------------------------- load_mnist on real data


@pytest.fixture(scope="module")
def mnist_from_env():
    """``load_mnist()`` with only DIGITS_DATA_DIR telling it where the files are."""
    if not HAVE_MNIST:
        pytest.skip("set DIGITS_DATA_DIR to a folder holding the four MNIST .gz files")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIGITS_DATA_DIR", REAL_MNIST_DIR)
        mp.setattr(mnist, "download_mnist", _no_download)
        return load_mnist()


def test_load_mnist_from_env_shapes_and_dtypes(mnist_from_env):
    (x_train, y_train), (x_test, y_test) = mnist_from_env
    assert [a.shape for a in (x_train, y_train, x_test, y_test)] == [
        (60000, 28, 28),
        (60000,),
        (10000, 28, 28),
        (10000,),
    ]
    assert all(a.dtype == np.uint8 for a in (x_train, y_train, x_test, y_test))


def test_load_mnist_labels_are_digits_with_known_class_counts(mnist_from_env):
    (_, y_train), (_, y_test) = mnist_from_env
    assert y_train.max() <= 9 and y_test.max() <= 9
    assert np.bincount(y_test, minlength=10).tolist() == TEST_CLASS_COUNTS
    assert np.bincount(y_train, minlength=10).tolist() == TRAIN_CLASS_COUNTS


def test_load_mnist_pixels_are_ink_255_on_background_0(mnist_from_env):
    for x in (mnist_from_env[0][0], mnist_from_env[1][0]):
        assert x.min() == 0 and x.max() == 255
        assert (x[:, [0, -1]][:, :, [0, -1]] == 0).all()  # the four corners are background everywhere
        assert (x == 0).mean() > 0.75  # most of every split is background ...
        assert x.max(axis=(1, 2)).min() >= 200  # ... and every image has dark ink


# --------------------------------------------------------------------------- lookup order


@needs_mnist
def test_data_dir_argument_wins_over_env(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITS_DATA_DIR", str(tmp_path / "empty"))
    (x_train, _), (x_test, y_test) = load_mnist(data_dir=REAL_MNIST_DIR)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert np.bincount(y_test, minlength=10).tolist() == TEST_CLASS_COUNTS


def test_explicit_data_dir_missing_files_raises_even_when_env_is_complete(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITS_DATA_DIR", str(_place(MNIST_FILES, tmp_path / "complete")))
    monkeypatch.setattr(mnist, "download_mnist", _no_download)
    partial = _place([TRAIN_IMAGES, TRAIN_LABELS], tmp_path / "partial")
    with pytest.raises(DataError) as info:
        load_mnist(data_dir=partial)
    message = str(info.value)
    assert str(partial) in message and "data_dir" in message
    lacks = message.split("lacks", 1)[1].split(";", 1)[0]
    assert TEST_IMAGES in lacks and TEST_LABELS in lacks
    assert TRAIN_IMAGES not in lacks and TRAIN_LABELS not in lacks


def test_env_dir_missing_files_raises_without_falling_back_to_cache(tmp_path, monkeypatch):
    _place(MNIST_FILES, tmp_path / "cache" / "mnist")  # a complete cache must not be used
    monkeypatch.setenv("DIGITS_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(mnist, "download_mnist", _no_download)
    with pytest.raises(DataError, match="DIGITS_DATA_DIR") as info:
        find_mnist_dir()
    assert all(name in str(info.value) for name in MNIST_FILES)


def test_cache_is_used_when_no_dir_is_given(tmp_path, monkeypatch):
    cache = _place(MNIST_FILES, tmp_path / "cache" / "mnist")
    monkeypatch.setattr(mnist, "download_mnist", _no_download)
    assert find_mnist_dir() == cache


# --------------------------------------------------------------------------- corrupted files


@needs_mnist
@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corrupted_file_raises_checksum_error_naming_it(tmp_path, corrupt):
    folder = _place([TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES], tmp_path / "mnist", Path(REAL_MNIST_DIR))
    (folder / TEST_LABELS).write_bytes(corrupt(Path(REAL_MNIST_DIR, TEST_LABELS).read_bytes()))
    with pytest.raises(ChecksumError) as info:
        load_mnist(data_dir=folder)
    assert TEST_LABELS in str(info.value)
    assert isinstance(info.value, DataError)  # callers catching DataError see it too


# --------------------------------------------------------------------------- offline, nothing found


def test_offline_with_nothing_found_names_the_files_and_the_env_var(tmp_path, monkeypatch, closed_url):
    monkeypatch.setattr(mnist, "download_mnist", functools.partial(download_mnist, mirrors=(closed_url,)))
    with pytest.raises(DataError) as info:
        load_mnist()
    message = str(info.value)
    assert all(name in message for name in MNIST_FILES)
    assert "DIGITS_DATA_DIR" in message
    assert closed_url in message  # the download was really tried, and its failure is reported
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


def test_download_false_raises_without_trying_to_download(monkeypatch):
    monkeypatch.setattr(mnist, "download_mnist", _no_download)
    with pytest.raises(DataError, match="DIGITS_DATA_DIR") as info:
        load_mnist(download=False)
    assert all(name in str(info.value) for name in MNIST_FILES)


# --------------------------------------------------------------------------- download_mnist


@needs_mnist
def test_download_fetches_all_files_and_reports_progress(tmp_path, server):
    _place(MNIST_FILES, server.root / "good", Path(REAL_MNIST_DIR))
    calls: list[tuple[int, int | None, str]] = []
    dest = tmp_path / "dest"

    assert download_mnist(dest, mirrors=(server.url + "good/",), progress=lambda *c: calls.append(c)) == dest

    assert sorted(p.name for p in dest.iterdir()) == sorted(MNIST_FILES)  # no .part files left
    for name in MNIST_FILES:
        size = Path(REAL_MNIST_DIR, name).stat().st_size
        assert (dest / name).read_bytes() == Path(REAL_MNIST_DIR, name).read_bytes()
        done = [d for d, _, n in calls if n == name]
        assert done == sorted(set(done)) and done[-1] == size  # strictly increasing up to the size
        assert {t for _, t, n in calls if n == name} == {size}
    assert len([n for _, _, n in calls if n == TRAIN_IMAGES]) > 1
    assert [n for _, _, n in calls] == sorted((n for _, _, n in calls), key=list(MNIST_FILES).index)


@needs_mnist
@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_download_skips_a_mirror_serving_bad_copies(tmp_path, server, corrupt):
    real = Path(REAL_MNIST_DIR)
    _place(MNIST_FILES, server.root / "good", real)
    bad = server.root / "bad"
    bad.mkdir()
    for name in (TRAIN_LABELS, TEST_LABELS):  # the bad mirror lacks the images (404) and spoils the labels
        (bad / name).write_bytes(corrupt((real / name).read_bytes()))
    dest = tmp_path / "dest"

    download_mnist(dest, mirrors=(server.url + "bad/", server.url + "good/"))

    assert sorted(p.name for p in dest.iterdir()) == sorted(MNIST_FILES)
    for name in MNIST_FILES:
        assert (dest / name).read_bytes() == (real / name).read_bytes()
    assert server.requested == [f"/{mirror}/{name}" for name in MNIST_FILES for mirror in ("bad", "good")]


def test_download_fails_cleanly_when_every_mirror_is_bad(tmp_path, server):
    not_gzip = _place([], server.root / "not-gzip")
    wrong = _place([], server.root / "wrong-content")
    for name in MNIST_FILES:
        (not_gzip / name).write_bytes(b"<html>Service unavailable</html>\n")
        (wrong / name).write_bytes(gzip.compress(bytes(100)))
    mirrors = (server.url + "not-gzip/", server.url + "wrong-content/")
    dest = tmp_path / "dest"

    with pytest.raises(DataError) as info:
        download_mnist(dest, mirrors=mirrors)

    assert TRAIN_IMAGES in str(info.value)
    assert all(mirror in str(info.value) for mirror in mirrors)
    assert server.requested == [f"/not-gzip/{TRAIN_IMAGES}", f"/wrong-content/{TRAIN_IMAGES}"]
    assert list(dest.iterdir()) == []  # neither the bad file nor a temp .part file is left


def test_download_keeps_good_files_and_replaces_only_a_bad_one(tmp_path, monkeypatch, server):
    """Files already in dest are verified, not fetched again; a corrupt one is re-downloaded."""
    good = server.root / "good"
    good.mkdir()
    content = {name: gzip.compress(f"content of {name}".encode(), mtime=0) for name in MNIST_FILES}
    checksums = {name: hashlib.md5(gzip.decompress(gz)).hexdigest() for name, gz in content.items()}
    dest = tmp_path / "dest"
    dest.mkdir()
    for name, gz in content.items():
        (good / name).write_bytes(gz)
        (dest / name).write_bytes(gz if name != TEST_LABELS else gzip.compress(b"stale"))

    monkeypatch.setattr(mnist, "MNIST_FILES", checksums)  # small stand-ins for the real files
    download_mnist(dest, mirrors=(server.url + "good/",))

    assert server.requested == [f"/good/{TEST_LABELS}"]
    assert all((dest / name).read_bytes() == gz for name, gz in content.items())


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd to count open files")
def test_failed_download_attempts_do_not_leak_file_descriptors(tmp_path, closed_url):
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(DataError):
        download_mnist(tmp_path / "dest", mirrors=(closed_url,) * 5)
    assert len(os.listdir("/proc/self/fd")) == before
    assert list((tmp_path / "dest").iterdir()) == []


# --------------------------------------------------------------------------- parse_idx


def _idx(magic: int, dims: tuple[int, ...], payload) -> bytes:
    """IDX bytes: big-endian int32 magic and dimensions, then the uint8 payload."""
    return b"".join(v.to_bytes(4, "big") for v in (magic, *dims)) + bytes(payload)


def test_parse_idx_images():
    images = parse_idx(_idx(2051, (2, 3, 2), [*range(11), 255]))
    assert images.dtype == np.uint8 and images.shape == (2, 3, 2)
    assert images.tolist() == [[[0, 1], [2, 3], [4, 5]], [[6, 7], [8, 9], [10, 255]]]


def test_parse_idx_labels():
    labels = parse_idx(_idx(2049, (4,), [7, 0, 9, 3]))
    assert labels.dtype == np.uint8 and labels.tolist() == [7, 0, 9, 3]


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (_idx(2050, (1,), [5]), "magic number 2050"),
        (_idx(2051, (2, 3, 2), range(11)), "holds 11 values"),
        (_idx(2049, (4,), [7, 0, 9]), "holds 3 values"),
        (_idx(2049, (2,), [7, 0, 9]), "holds 3 values"),
        (b"\x00\x00\x08", "too short"),
        (_idx(2051, (2,), []) + b"\x00\x00", "too short"),
    ],
    ids=[
        "bad-magic",
        "images-truncated",
        "labels-truncated",
        "labels-too-long",
        "no-header",
        "images-header-cut",
    ],
)
def test_parse_idx_rejects_malformed_data(raw, match):
    with pytest.raises(DataError, match=match):
        parse_idx(raw)


# --------------------------------------------------------------------------- load_kaggle_csv

PIXELS = [f"pixel{k}" for k in range(784)]


def _csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.write_text("\n".join(",".join(map(str, row)) for row in [header, *rows]) + "\n")
    return path


def _pixels(**ink: int) -> list[int]:
    """784 zero pixels, with ``p<k>=value`` set."""
    row = [0] * 784
    for key, value in ink.items():
        row[int(key[1:])] = value
    return row


def test_load_kaggle_train_csv(tmp_path):
    gradient = [k % 256 for k in range(784)]
    path = _csv(
        tmp_path / "train.csv",
        ["label", *PIXELS],
        [[3, *gradient], [0, *_pixels(p30=255)], [9, *_pixels(p783=17)]],
    )
    images, labels = load_kaggle_csv(path)
    assert images.shape == (3, 28, 28) and images.dtype == np.uint8
    assert labels is not None and labels.dtype == np.uint8 and labels.tolist() == [3, 0, 9]
    assert all(images[0, k // 28, k % 28] == k % 256 for k in range(784))  # pixel k -> row k//28, col k%28
    assert np.argwhere(images[1]).tolist() == [[1, 2]] and images[1, 1, 2] == 255
    assert np.argwhere(images[2]).tolist() == [[27, 27]] and images[2, 27, 27] == 17


def test_load_kaggle_test_csv(tmp_path):
    path = _csv(tmp_path / "test.csv", PIXELS, [_pixels(p0=1), _pixels(p28=200, p55=7)])
    images, labels = load_kaggle_csv(path)
    assert labels is None
    assert images.shape == (2, 28, 28) and images.dtype == np.uint8
    assert np.argwhere(images[0]).tolist() == [[0, 0]]
    assert np.argwhere(images[1]).tolist() == [[1, 0], [1, 27]]
    assert images[1, 1, 0] == 200 and images[1, 1, 27] == 7


@pytest.mark.parametrize(
    ("header", "rows", "match"),
    [
        (["label", *PIXELS[:-1]], [[1, *[0] * 783]], "784 pixel columns"),
        (PIXELS + ["extra"], [[0] * 785], "784 pixel columns"),
        (["label", *PIXELS], [[1, *[0] * 783]] * 2, "rows have 784 values, header has 785"),
        (["label", *PIXELS], [[1, *[0] * 784], [2, *[0] * 783]], "train.csv"),
        (["label", *PIXELS], [[1, "abc", *[0] * 783]], "integer pixels"),
        (["label", *PIXELS], [[1, 0.5, *[0] * 783]], "integer pixels"),
        (["label", *PIXELS], [[1, *_pixels(p100=300)]], "outside 0..255"),
        (["label", *PIXELS], [[1, *_pixels(p100=-1)]], "outside 0..255"),
        (["label", *PIXELS], [[10, *[0] * 784]], "labels outside 0..9"),
        (["label", *PIXELS], [[256, *[0] * 784]], "labels outside 0..9"),
    ],
    ids=[
        "too-few-columns",
        "too-many-columns",
        "rows-shorter-than-header",
        "ragged-row",
        "word",
        "fraction",
        "pixel-300",
        "pixel-negative",
        "label-10",
        "label-256",
    ],
)
def test_load_kaggle_csv_rejects_bad_files(tmp_path, header, rows, match):
    path = _csv(tmp_path / "train.csv", header, rows)
    with pytest.raises(DataError, match=match) as info:
        load_kaggle_csv(path)
    assert str(path) in str(info.value)


def test_load_kaggle_csv_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        load_kaggle_csv(tmp_path / "nope.csv")


def test_terminal_progress_draws_a_bar_and_ends_the_line():
    import io

    from recognizer.data.mnist import terminal_progress

    out = io.StringIO()
    show = terminal_progress(out)
    show(500_000, 2_000_000, "t10k-labels-idx1-ubyte.gz")  # MB: 10**6 bytes, as everywhere
    show(2_000_000, 2_000_000, "t10k-labels-idx1-ubyte.gz")
    text = out.getvalue()
    assert "[#######                       ] 0.5/2.0 MB" in text
    assert text.endswith("] 2.0/2.0 MB\n")


def test_summary_counts_and_averages_the_split():
    x_train = np.zeros((30, 28, 28), np.uint8)
    y_train = np.repeat(np.arange(10), 3)
    x_train[y_train == 7] = 255  # every 7 is all ink
    x_test, y_test = np.zeros((4, 28, 28), np.uint8), np.array([0, 0, 1, 9])
    summary = mnist.summary(((x_train, y_train), (x_test, y_test)), per_class=2)
    assert summary["train_counts"].tolist() == [3] * 10
    assert summary["test_counts"].tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert summary["samples"].shape == (10, 2, 28, 28) and (summary["samples"][7] == 255).all()
    assert summary["means"].dtype == np.float32 and summary["means"][7].min() == 1 and summary["means"][3].max() == 0
    assert summary["intensity"][255] == 3 * 784 and summary["intensity"].sum() == 30 * 784
