"""Every registered architecture builds, is pure, and maps (N,28,28,1) to (N,10) probabilities."""

import numpy as np
import pytest

from recognizer.nets.architectures import MODELS, build_model, parameter_count


@pytest.mark.parametrize("name", sorted(MODELS))
def test_architecture_builds_with_ten_way_softmax(name):
    model = build_model(name)
    assert model.input_shape == (None, 28, 28, 1)
    assert model.output_shape == (None, 10)
    out = np.asarray(model(np.zeros((3, 28, 28, 1), np.float32), training=False))
    assert out.shape == (3, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    assert parameter_count(model) > 10_000


def test_builders_are_pure_and_independent():
    first, second = build_model("lenet5"), build_model("lenet5")
    assert first is not second
    first.layers[0].kernel.assign(np.zeros(first.layers[0].kernel.shape))
    assert np.abs(np.asarray(second.layers[0].kernel)).sum() > 0


def test_parameter_counts_match_known_designs():
    # LeNet-5 as built here (padding='same' first conv, 28x28 input): 61,706 weights.
    assert parameter_count(build_model("lenet5")) == 61_706
    assert parameter_count(build_model("mlp")) == 784 * 512 + 512 + 512 * 512 + 512 + 5130


def test_fastcnn_is_small_and_its_batch_norm_follows_a_one_epoch_run(tmp_path):
    import keras

    model = build_model("fastcnn")
    assert parameter_count(model) == 29_658  # 16-32-64 filters, 5x5 then 3x3, a 576 -> 10 head
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 3 and all(layer.momentum == 0.9 for layer in norms)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in model.layers)
    model.save(tmp_path / "fastcnn.keras")  # a plain Keras file: loads without custom objects
    x = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    loaded = keras.saving.load_model(tmp_path / "fastcnn.keras", compile=False)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown architecture 'vgg'.*deepcnn"):
        build_model("vgg")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_architecture_can_add_the_not_a_digit_class(name):
    model = build_model(name, num_classes=11)
    assert model.output_shape == (None, 11)
    assert parameter_count(model) > parameter_count(build_model(name))  # one more output unit's weights


def test_inference_copy_answers_the_same_without_optimizer_state(tmp_path):
    import keras

    from recognizer.nets.architectures import inference_copy

    model = build_model("lenet5")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    model.fit(x, np.arange(4), epochs=1, verbose=0)  # the optimizer now holds state
    copy = inference_copy(model, name="renamed")
    assert copy.name == "renamed" and getattr(copy, "optimizer", None) is None
    np.testing.assert_allclose(copy.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    model.save(tmp_path / "trained.keras")
    copy.save(tmp_path / "copy.keras")
    assert (tmp_path / "copy.keras").stat().st_size < (tmp_path / "trained.keras").stat().st_size / 2
    assert keras.saving.load_model(tmp_path / "copy.keras", compile=False).name == "renamed"
