"""The corrections store: atomic, concurrent-safe files that training can load."""

import threading

import numpy as np
import pytest

from recognizer.feedback import FeedbackStore


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
