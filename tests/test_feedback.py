"""The corrections store: atomic, concurrent-safe files that training can load."""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from recognizer.data.corrections import FeedbackStore


def test_saved_corrections_load_back(tmp_path):
    store = FeedbackStore(tmp_path / "fixes")
    assert store.count() == 0
    images, labels = store.load()
    assert images.shape == (0, 28, 28) and labels.shape == (0,)

    picture = np.zeros((28, 28), np.float32)
    picture[5:20, 12:15] = 1.0
    store.save(picture, label=1, predicted=7)
    store.save((picture * 255).astype(np.uint8), label=4)
    images, labels = store.load()
    assert store.count() == 2
    assert sorted(labels.tolist()) == [1, 4]
    assert images.dtype == np.uint8
    np.testing.assert_array_equal(images[0], (picture * 255).astype(np.uint8))


def test_concurrent_saves_all_land(tmp_path):
    store = FeedbackStore(tmp_path)
    threads = [threading.Thread(target=store.save, args=(np.zeros((28, 28), np.uint8), i % 10)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 20


def test_bad_corrections_are_refused_and_nothing_is_written(tmp_path):
    store = FeedbackStore(tmp_path)
    with pytest.raises(ValueError, match="28x28"):
        store.save(np.zeros((20, 20)), label=3)
    with pytest.raises(ValueError, match="0..9"):
        store.save(np.zeros((28, 28)), label=12)
    assert list(tmp_path.iterdir()) == []


def test_unreadable_file_is_skipped_and_temp_files_ignored(tmp_path):
    store = FeedbackStore(tmp_path)
    store.save(np.zeros((28, 28), np.uint8), label=2)
    (tmp_path / "20260101-000000-deadbeef-5.npz").write_bytes(b"not a zip")
    (tmp_path / ".20260101-000001-x-5.npz.abc.tmp").write_bytes(b"half written")
    images, labels = store.load()
    assert labels.tolist() == [2]


# Saves corrections (label = count % 10, a bar as wide as the label) until killed.
SAVE_FOREVER = """
import sys
import numpy as np
from recognizer.data.corrections import FeedbackStore
store = FeedbackStore(sys.argv[1])
i = 0
while True:
    image = np.zeros((28, 28), np.uint8)
    image[4:24, 4 : 5 + i % 10] = 255
    store.save(image, label=i % 10)
    i += 1
"""


def test_a_process_killed_while_saving_corrections_loses_none_it_finished(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    store = FeedbackStore(tmp_path)
    for kill in range(8):
        before = store.count()
        saver = subprocess.Popen([sys.executable, "-c", SAVE_FOREVER, str(tmp_path)], env=env)
        deadline = time.monotonic() + 30
        while store.count() == before:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.02 * kill)
        saver.send_signal(signal.SIGKILL)
        saver.wait()
    files = store.files()
    images, labels = store.load()
    assert len(labels) == len(files) > 8  # every listed correction loads: none is half-written
    widths = (images[:, 10] == 255).sum(axis=1)  # the bar drawn for each label
    np.testing.assert_array_equal(widths, labels + 1)
    assert all(p.stem.endswith(f"-{label}") for p, label in zip(files, labels, strict=True))
