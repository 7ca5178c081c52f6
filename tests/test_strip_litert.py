"""The strip reader read as the app reads it: a LiteRT front and a NumPy GRU, against Keras.

``recognizer.nets.strip`` writes the files (``write_reader_files``) and computes the recurrent part
(``recurrent_logits``); ``recognizer.reading.strip_reader`` loads them, remaking stale ones.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from recognizer.core.paths import cache_dir
from recognizer.core.preprocess import ink_from_image
from recognizer.data.compose import SPACED_GAPS, TOUCHING_GAPS, sample_numbers
from recognizer.nets import strip as strip_net
from recognizer.nets.convert import file_sha256, litert_is_fresh
from recognizer.nets.strip import (
    BLANK,
    FRONT_FILE,
    RECURRENT_FILE,
    STRIP_HEIGHT,
    front_model,
    reader_files_fresh,
    recurrent_logits,
    recurrent_weights,
    strip_from_ink,
)
from recognizer.reading.lite import LiteFileError
from recognizer.reading.strip_reader import SHIPPED_READER, greedy_read, load_shipped_reader, load_strip_reader

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "models" / SHIPPED_READER
READER_FILES = (FRONT_FILE, f"{FRONT_FILE}.json", RECURRENT_FILE, f"{RECURRENT_FILE}.json")


@pytest.fixture(scope="module")
def keras_reader():
    """The shipped strip reader as Keras reads it: the reference the LiteRT reader must match."""
    import keras

    return keras.saving.load_model(SHIPPED / "model.keras", compile=False)


@pytest.fixture(scope="module")
def keras_logits(keras_reader):
    """``keras_logits(strip)``: the Keras reader's logits for one strip, traced once for every width."""
    import tensorflow as tf

    forward = tf.function(
        lambda x: keras_reader(x, training=False),
        input_signature=[tf.TensorSpec([None, STRIP_HEIGHT, None, 1], tf.float32)],
    )
    return lambda strip: forward(strip[None, :, :, None]).numpy()[0]


def _copy_reader(folder: Path, with_litert: bool = True) -> Path:
    """A copy of the shipped reader's folder: ``model.keras``, and its LiteRT files when asked."""
    folder.mkdir(parents=True)
    for name in ("model.keras", *(READER_FILES if with_litert else ())):
        shutil.copy(SHIPPED / name, folder / name)
    return folder


def _without_tensorflow(monkeypatch):
    """Make the reader believe TensorFlow is not installed."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorflow" else real(name, *a))


def test_the_numpy_gru_and_dense_equal_the_keras_layers(keras_reader):
    weights = recurrent_weights(keras_reader)
    after = keras_reader.layers[keras_reader.layers.index(front_model(keras_reader).layers[-1]) + 1 :]
    rng = np.random.default_rng(0)
    for steps in (1, 2, 9, 40):
        features = rng.normal(scale=2.0, size=(2, steps, 128)).astype(np.float32)
        expected = features
        for layer in after:
            expected = layer(expected, training=False)
        found = recurrent_logits(features, weights)
        assert found.shape == (2, steps, BLANK + 1)
        np.testing.assert_allclose(found, np.asarray(expected), atol=1e-5)


def _strips(held_out, count: int) -> list[np.ndarray]:
    """Strips of 4-digit numbers composed from held-out writers, touching and spaced."""
    numbers = [
        *sample_numbers(held_out, count // 2, gaps=TOUCHING_GAPS, seed=5),
        *sample_numbers(held_out, count - count // 2, gaps=SPACED_GAPS, seed=6),
    ]
    return [strip_from_ink(ink_from_image(n.image))[0] for n in numbers]


def test_the_litert_reader_reads_real_strips_as_keras_does(keras_logits, held_out):
    reader = load_shipped_reader()
    assert reader is not None and reader_files_fresh(SHIPPED, SHIPPED / "model.keras")
    strips = _strips(held_out, 50)
    assert len({s.shape[1] for s in strips}) > 5  # many widths, one front
    for strip in strips:
        expected = keras_logits(strip)
        found = reader.logits(strip)
        np.testing.assert_allclose(found, expected, atol=1e-4)
        assert greedy_read(found).digits == greedy_read(expected).digits


def test_a_stale_front_is_made_again_from_model_keras(tmp_path, held_out):
    folder = _copy_reader(tmp_path / "reader")
    (folder / f"{FRONT_FILE}.json").write_text('{"model_sha256": "an older model"}')
    (folder / FRONT_FILE).write_bytes(b"not a flatbuffer")
    assert not reader_files_fresh(folder, folder / "model.keras")
    reader = load_strip_reader(folder)
    assert reader_files_fresh(folder, folder / "model.keras") and reader.run_dir == folder
    strip = _strips(held_out, 1)[0]
    np.testing.assert_allclose(reader.logits(strip), load_shipped_reader().logits(strip), atol=1e-5)


def test_without_tensorflow_missing_files_give_an_error_naming_the_folder(tmp_path, monkeypatch):
    folder = _copy_reader(tmp_path / "reader", with_litert=False)
    _without_tensorflow(monkeypatch)
    with pytest.raises(LiteFileError, match=rf"{folder}.*{FRONT_FILE}.*TensorFlow"):
        load_strip_reader(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["model.keras"]
    # Fresh files need no TensorFlow.
    for name in READER_FILES:
        shutil.copy(SHIPPED / name, folder / name)
    assert load_strip_reader(folder).read(np.pad(np.ones((40, 8), np.float32), 20)) is not None


def test_a_read_only_folder_gets_its_files_in_the_user_cache(tmp_path, monkeypatch):
    folder = _copy_reader(tmp_path / "reader", with_litert=False)
    write = strip_net.write_litert

    def read_only_folder(data, path, model_file):
        if Path(path).parent == folder:
            raise PermissionError(13, "Permission denied", str(path))
        write(data, path, model_file)

    monkeypatch.setattr(strip_net, "write_litert", read_only_folder)
    load_strip_reader(folder)
    cached = cache_dir() / "litert" / f"reader-{file_sha256(folder / 'model.keras')[:16]}"
    assert sorted(p.name for p in cached.iterdir()) == sorted(READER_FILES)
    assert litert_is_fresh(cached / FRONT_FILE, folder / "model.keras")
    _without_tensorflow(monkeypatch)  # the cached copy is found again, nothing to convert
    assert load_strip_reader(folder).run_dir == folder


@pytest.mark.parametrize("damage", ["garbage model.keras", "corrupt front, fresh stamp", "no recurrent weights"])
def test_the_shipped_reader_is_none_when_its_folder_is_broken(tmp_path, monkeypatch, damage):
    folder = _copy_reader(tmp_path / "models" / SHIPPED_READER)
    monkeypatch.setenv("DIGITS_MODELS_DIR", str(tmp_path / "models"))
    if damage == "garbage model.keras":
        (folder / "model.keras").write_bytes(b"not a zip")
    elif damage == "corrupt front, fresh stamp":
        (folder / FRONT_FILE).write_bytes(b"\0" * 64)
    else:
        (folder / RECURRENT_FILE).unlink()
        _without_tensorflow(monkeypatch)
    assert load_shipped_reader() is None


def test_a_recognizer_reads_numbers_with_the_reader_it_is_given(tmp_path):
    from recognizer import load_recognizer

    assert load_recognizer().number_reader.run_dir == SHIPPED
    copy = tmp_path / "reader"
    shutil.copytree(SHIPPED, copy)
    assert load_recognizer(number_reader=copy).number_reader.run_dir == copy
    assert load_recognizer(number_reader=False).number_reader is None
    with pytest.raises(LiteFileError, match="no strip reader"):
        load_recognizer(number_reader=tmp_path / "nothing")


def test_reading_a_number_loads_neither_tensorflow_nor_keras(python_process):
    script = """
import sys
import numpy as np
from recognizer.reading.strip_reader import load_shipped_reader
ink = np.zeros((100, 300), np.float32); ink[20:80, 40:50] = 1; ink[20:80, 200:210] = 1
found = load_shipped_reader().read(ink)
assert found is not None and found[0].digits, found
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
assert not heavy, heavy[:5]
"""
    python_process([sys.executable, "-c", script], cwd=ROOT)
