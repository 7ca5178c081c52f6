"""Inside the network: every layer's output for one image (``recognizer.evaluation.inside``) and the
Explore page's section that shows it.

Every architecture is built untrained (small, no data needed): the probe's layers are the model's
own, each convolution's output is a convolution written out here in NumPy of the layer before it,
and the last output is what ``model.predict`` answers. The pictures are checked pixel by pixel.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from recognizer.evaluation import inside
from recognizer.evaluation.inside import (
    LayerProbe,
    colour_scale,
    diverging,
    kernel_image,
    map_grid,
    members,
    steps,
    strip,
)
from recognizer.nets.architectures import MODELS, build_model

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def untrained(name: str):
    """The architecture ``name``, untrained but with biases and batch-norm statistics that are not
    the fresh 0s and 1s (so a convolution written out must get them right too)."""
    import keras

    model = build_model(name)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D) and layer.use_bias:
            layer.bias.assign(np.linspace(-0.3, 0.3, layer.filters, dtype=np.float32))
        if isinstance(layer, keras.layers.BatchNormalization):
            width = layer.moving_mean.shape[0]
            layer.moving_mean.assign(np.linspace(-0.2, 0.2, width, dtype=np.float32))
            layer.moving_variance.assign(np.linspace(0.5, 2.0, width, dtype=np.float32))
    return model


@pytest.fixture(scope="module")
def probes() -> dict[str, LayerProbe]:
    import keras

    keras.utils.set_random_seed(0)
    return {name: LayerProbe(untrained(name)) for name in MODELS}  # the weights are read when built


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    """A 'seven': a bar and a slanted stroke, ink 1.0 on black, anti-aliased edges."""
    picture = np.zeros((28, 28), np.float32)
    picture[5:8, 6:22] = 1.0
    for row in range(8, 24):
        col = 21 - (row - 8) // 2
        picture[row, col - 1 : col + 2] = 1.0
    picture[4, 6:22] = 0.4
    return picture


def manual_conv(x: np.ndarray, kernel: np.ndarray, bias, strides: int, padding: str) -> np.ndarray:
    """A 2-D convolution (as Keras defines it: cross-correlation) of (h, w, c_in) maps, written out:
    for each place of the kernel, the input pixels under it times that place's weights, summed."""
    kh, kw = kernel.shape[:2]
    h, w = x.shape[:2]
    if padding == "same":  # TensorFlow's: output ceil(size / stride), the extra pad at the end
        oh, ow = -(-h // strides), -(-w // strides)
        ph, pw = max((oh - 1) * strides + kh - h, 0), max((ow - 1) * strides + kw - w, 0)
        x = np.pad(x, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - kh) // strides + 1, (w - kw) // strides + 1
    out = np.zeros((oh, ow, kernel.shape[3]), np.float64)
    for i in range(kh):
        for j in range(kw):
            under = x[i : i + strides * (oh - 1) + 1 : strides, j : j + strides * (ow - 1) + 1 : strides]
            out += under.astype(np.float64) @ kernel[i, j].astype(np.float64)
    return out + (0.0 if bias is None else bias)


def activation(name: str, values: np.ndarray) -> np.ndarray:
    assert name in ("relu", "linear"), f"no manual version of {name}"
    return np.maximum(values, 0.0) if name == "relu" else values


@pytest.mark.parametrize("name", list(MODELS))
def test_every_layer_in_order_with_its_shape_and_the_models_answer_last(probes, image, name):
    probe = probes[name]
    model = probe.model
    layers = probe.run(image)
    assert [layer.name for layer in layers] == [layer.name for layer in model.layers]  # Sequential: no input layer
    for layer, keras_layer in zip(layers, model.layers, strict=True):
        assert layer.shape == tuple(keras_layer.output.shape[1:]), layer.name
    np.testing.assert_allclose(layers[-1].values, model.predict(image[None, :, :, None], verbose=0)[0], atol=1e-5)
    assert layers[-1].kind == "output" and layers[-1].values.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name", [name for name in MODELS if name != "mlp"])
def test_each_convolution_is_a_convolution_of_the_layer_before(probes, image, name):
    import keras

    model = probes[name].model
    layers = probes[name].run(image)
    before = image[:, :, None]
    checked = 0
    for layer, keras_layer in zip(layers, model.layers, strict=True):
        if layer.kind == "conv":
            config = keras_layer.get_config()
            bias = keras_layer.bias.numpy() if keras_layer.use_bias else None
            conv = manual_conv(before, keras_layer.kernel.numpy(), bias, config["strides"][0], config["padding"])
            np.testing.assert_allclose(layer.values, activation(config["activation"], conv), atol=2e-4, rtol=1e-4)
            checked += 1
        before = layer.values
    assert checked == sum(isinstance(x, keras.layers.Conv2D) for x in model.layers) >= 2
    np.testing.assert_allclose(layers[-1].values, model.predict(image[None, :, :, None], verbose=0)[0], atol=1e-6)


def test_a_convolution_with_its_batch_norm_and_relu_is_one_step(probes, image):
    layers = probes["deepcnn"].run(image)
    grouped = steps(layers)
    assert [layer for step in grouped for layer in step] == layers  # nothing lost, nothing reordered
    assert [layer.kind for layer in grouped[0]] == ["conv", "batchnorm", "activation"]
    assert sum(step[0].kind == "conv" for step in grouped) == 7
    assert [[layer.kind for layer in step] for step in grouped[-3:]] == [["flatten"], ["dropout"], ["output"]]
    assert np.all(grouped[0][-1].values >= 0)  # the step's picture is after the ReLU
    lenet = steps(probes["lenet5"].run(image))
    assert [step[0].kind for step in lenet] == ["conv", "pool", "conv", "pool", "flatten", "dense", "dense", "output"]


def test_captions_say_what_each_kind_of_layer_does(probes, image):
    deep = probes["deepcnn"].run(image)
    captions = {layer.kind: layer.caption for layer in reversed(deep)}  # the first of each kind
    strided = next(layer.caption for layer in deep if "stride" in layer.caption)
    assert "no padding, so the maps shrink by 3" in deep[-6].caption  # the 4x4 head: 7 -> 4
    assert captions["conv"].startswith("Convolution: 32 filters of 3×3")
    assert "stride 2" in strided and "5×5" in strided
    assert "off when reading" in captions["dropout"] and "40%" in captions["dropout"]
    assert captions["batchnorm"].startswith("Batch norm")
    assert "softmax" in captions["output"] and "11" not in captions["output"]
    lenet = {layer.kind: layer.caption for layer in reversed(probes["lenet5"].run(image))}
    assert "strongest value of each 2×2 block" in lenet["pool"]
    assert lenet["dense"] == "Dense: 120 units, each a weighted sum of every input, then ReLU."


def test_an_ensemble_is_shown_member_by_member(image):
    import keras

    first, second = build_model("lenet5"), build_model("fastcnn")
    first.name, second.name = "member0_a", "member1_b"
    inputs = keras.Input((28, 28, 1))
    ensemble = keras.Model(inputs, keras.layers.Average()([first(inputs), second(inputs)]), name="ens")
    assert members(ensemble) == [first, second]
    assert members(first) == []
    with pytest.raises(ValueError, match="ensemble of 2 networks"):
        LayerProbe(ensemble)
    answers = [LayerProbe(member).run(image)[-1].values for member in members(ensemble)]
    np.testing.assert_allclose(
        np.mean(answers, axis=0), ensemble.predict(image[None, :, :, None], verbose=0)[0], atol=1e-6
    )


def test_a_wrong_image_is_refused_with_its_shape(probes):
    with pytest.raises(ValueError, match=r"\(28, 28\) image, got shape \(28, 27\)"):
        probes["mlp"].run(np.zeros((28, 27), np.float32))


def test_the_filter_of_a_map(probes):
    deep = probes["deepcnn"]
    first = deep.layers[0]
    second = next(layer for layer in deep.layers[1:] if layer.__class__.__name__ == "Conv2D")
    np.testing.assert_array_equal(kernel_image(first, 5), first.kernel.numpy()[:, :, 0, 5])
    np.testing.assert_allclose(kernel_image(second, 3), second.kernel.numpy()[:, :, :, 3].sum(axis=2), rtol=1e-6)
    assert kernel_image(second, 3).shape == (3, 3)
    with pytest.raises(ValueError, match="has 32 filters, not a filter 32"):
        kernel_image(first, 32)
    assert deep.layer(second.name) is second


def test_colours_white_at_zero_red_above_blue_below():
    rgb = diverging(np.array([0.0, 2.0, -2.0, 1.0, 5.0]), peak=2.0)
    assert rgb.tolist() == [[255, 255, 255], [255, 0, 0], [0, 0, 255], [255, 128, 128], [255, 0, 0]]
    assert diverging(np.zeros(3)).tolist() == [[255, 255, 255]] * 3  # no division by zero
    values = np.r_[np.linspace(-1, 1, 999), 50.0]  # one outlier
    assert colour_scale(values) == pytest.approx(np.percentile(np.abs(values), 99))
    assert colour_scale(values) < 1.0 and diverging(values)[-1].tolist() == [255, 0, 0]  # it saturates
    assert colour_scale(np.r_[np.zeros(200), 3.0]) == 3.0  # mostly zeros: the largest, not 0


def test_feature_maps_are_tiled_in_order_on_one_scale():
    maps = np.zeros((7, 7, 20), np.float32)
    maps[3, 4, :] = np.arange(20)  # map c has value c at one pixel
    grid = map_grid(maps, columns=8, side=56)
    step = 56 + inside.GAP_PX
    assert grid.shape == (3 * step, 8 * step, 3)
    for c in (0, 1, 13, 19):
        row, col = divmod(c, 8)
        top, left = row * step + inside.GAP_PX, col * step + inside.GAP_PX
        pixel = grid[top + 3 * 8 + 4, left + 4 * 8 + 4]  # factor 8: 7 px blown up to 56
        assert pixel.tolist() == diverging(np.array([c]), peak=colour_scale(maps))[0].tolist(), c
        assert grid[top, left].tolist() == [255, 255, 255]  # zero elsewhere
    assert (
        grid[2 * step + inside.GAP_PX + 1, 7 * step + inside.GAP_PX + 1].tolist() == [inside.GAP_GREY] * 3
    )  # no map 23
    with pytest.raises(ValueError, match="feature maps"):
        map_grid(np.zeros(10))


def test_a_dense_layer_is_a_strip_and_pictures_encode_as_png():
    picture = strip(np.array([1.0, -1.0, 0.0]), columns=2, cell=10)
    assert picture.shape == (20, 20, 3)
    assert picture[5, 5].tolist() == [255, 0, 0] and picture[5, 15].tolist() == [0, 0, 255]
    assert picture[15, 5].tolist() == [255, 255, 255] and picture[15, 15].tolist() == [inside.GAP_GREY] * 3
    decoded = cv2.imdecode(np.frombuffer(inside.as_png(picture), np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    np.testing.assert_array_equal(decoded, picture)


# --- The Explore page's section (AppTest, no browser) ---------------------------------------------


def open_inside(drawing: np.ndarray | None = None, link: bool = False, run: str | None = None):
    """The Explore page on "Inside the network", as the Draw page's link opens it (``link``) or by
    the section control, with ``drawing`` as the latest drawing, on ``run`` (default: the active one)."""
    from streamlit.testing.v1 import AppTest

    from app_pages.explore_inside import INSIDE
    from app_pages.shared import INSIDE_QUERY, LAST_DRAWING_KEY

    at = AppTest.from_file(APP, default_timeout=120).run()
    if drawing is not None:
        at.session_state[LAST_DRAWING_KEY] = drawing
    if link:
        at.query_params.update(INSIDE_QUERY)
    if run:
        at.session_state["explore_run"] = run
    at.switch_page("app_pages/explore.py").run()
    if not link:
        at.segmented_control(key="explore_section").set_value(INSIDE).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def shown_steps(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**") and " · " in m.value]


def answers(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("Reads a")]


@pytest.mark.slow  # the section converts its model to LiteRT: seconds (the full tier)
def test_the_draw_pages_link_opens_the_section_on_the_drawing_layer_by_layer(shipped_recognizer, image):
    from app_pages.explore_inside import DRAWING

    at = open_inside(image, link=True)
    assert at.segmented_control(key="explore_section").value == "Inside the network"
    assert at.segmented_control(key="explore_inside_source").value == DRAWING
    assert "section" not in at.query_params  # followed once: the section control is free again
    layers = LayerProbe(shipped_recognizer.model).run(image)
    expected = ["**Input** · 28×28×1"] + [
        f"**{' → '.join(layer.name for layer in step)}** · {'×'.join(map(str, step[-1].shape))}"
        for step in steps(layers)
    ]
    assert shown_steps(at) == expected
    assert expected[1] == "**conv2d → batch_normalization → activation** · 28×28×32"
    # The input, a grid for each of the 7 convolution steps, and a feature map beside its filter.
    assert len(at.image) == 1 + 7 + 2
    assert at.image[0].captions == ["Your latest drawing"]
    network = shipped_recognizer.predict_proba(image[None], views=False)[0]
    assert answers(at) == [
        f"Reads a **{network.argmax()}** ({network.max():.1%}) · one digit {layers[-1].values[:10].sum():.0%}"
    ]
    assert len(at.get("plotly_chart")) == 1


@pytest.mark.slow  # the section converts its model to LiteRT: seconds (the full tier)
def test_a_test_digit_beside_the_drawing_and_a_deeper_filter(shipped_recognizer, mnist, image):
    from app_pages.explore_inside import BOTH, TEST_DIGIT

    _, (x_test, y_test) = mnist
    at = open_inside()  # no drawing yet: a test digit only
    assert at.segmented_control(key="explore_inside_source").options == [TEST_DIGIT]
    at.number_input(key="explore_inside_index").set_value(7).run()
    digit = x_test[7].astype(np.float32) / 255
    network = shipped_recognizer.predict_proba(digit[None], views=False)[0]
    assert answers(at)[0].startswith(f"Reads a **{network.argmax()}** ({network.max():.1%})")
    assert at.image[0].captions == [f"Test #7: a {y_test[7]}"]
    at.session_state["last_drawing"] = image
    at.run()
    at.segmented_control(key="explore_inside_source").set_value(BOTH).run()
    assert not at.exception, at.exception
    assert [c for i in at.image[:1] for c in i.captions] == ["Your latest drawing"]
    assert len(answers(at)) == 2 and len(at.get("plotly_chart")) == 2
    assert len(at.image) == 2 * (1 + 7) + 2
    at.selectbox(key="explore_inside_conv").set_value("conv2d_3").run()
    assert not at.exception, at.exception
    assert any("summed over the 32 maps" in m.value for m in at.markdown)
    at.toggle(key="explore_inside_every").set_value(True).run()
    assert len(shown_steps(at)) == 1 + len(shipped_recognizer.model.layers)  # the input, then every layer


@pytest.mark.slow  # the section converts its model to LiteRT: seconds (the full tier)
def test_an_ensemble_run_is_shown_one_member_at_a_time(isolated_user_dirs, image):
    import shutil

    import keras

    # A run folder whose model averages two small networks (untrained: only the page's path is checked).
    run = isolated_user_dirs / "runs" / "ens-two"
    shutil.copytree(Path(APP).parent / "models" / "deepcnn-mnist-v1", run)
    for name in ("model.tflite", "model.tflite.json", "test_probabilities.npz"):
        (run / name).unlink(missing_ok=True)
    first, second = build_model("lenet5"), build_model("fastcnn")
    first.name, second.name = "member0_lenet", "member1_fast"
    inputs = keras.Input((28, 28, 1), name="image")
    keras.Model(inputs, keras.layers.Average()([first(inputs), second(inputs)]), name="ens_two").save(
        run / "model.keras"
    )
    at = open_inside(image, run="ens-two")
    assert any("ensemble: it averages the probabilities of 2 networks" in i.value for i in at.info)
    assert at.selectbox(key="explore_inside_member").options == ["member0_lenet", "member1_fast"]
    assert [step.split(" · ")[1] for step in shown_steps(at)][:3] == ["28×28×1", "28×28×6", "14×14×6"]  # LeNet-5
    assert any("This member's answer alone" in c.value for c in at.caption)
    at.selectbox(key="explore_inside_member").set_value(1).run()
    assert not at.exception, at.exception
    assert [step.split(" · ")[1] for step in shown_steps(at)][:3] == ["28×28×1", "28×28×16", "14×14×16"]


@pytest.mark.slow  # each run is converted to LiteRT when the section opens it: the full tier
@pytest.mark.parametrize("name", list(MODELS))
def test_every_architecture_the_train_page_offers_renders(isolated_user_dirs, image, name):
    import shutil

    # A run folder holding an untrained network of the architecture: only the page's path is checked.
    run = isolated_user_dirs / "runs" / f"untrained-{name}"
    shutil.copytree(Path(APP).parent / "models" / "deepcnn-mnist-v1", run)
    for file in ("model.tflite", "model.tflite.json", "test_probabilities.npz"):
        (run / file).unlink(missing_ok=True)
    model = build_model(name)
    model.save(run / "model.keras")
    at = open_inside(image, run=run.name)
    expected = ["**Input** · 28×28×1"] + [
        f"**{' → '.join(layer.name for layer in step)}** · {'×'.join(map(str, step[-1].shape))}"
        for step in steps(LayerProbe(model).run(image))
    ]
    assert shown_steps(at) == expected
    assert len(answers(at)) == 1 and len(at.get("plotly_chart")) == 1
