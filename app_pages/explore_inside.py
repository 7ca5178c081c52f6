"""The Explore page's "Inside the network" section: a drawing or a test digit, layer by layer. Not a page itself.

The Draw page links here ("See inside the network": ``shared.INSIDE_QUERY`` in the URL opens
this section on the latest drawing). It shows the 28x28 input, every convolution's feature maps as a
grid of small heat maps (one colour scale per layer: red positive, blue negative, white zero),
dense layers as a strip, the output as probability bars; a selected feature map enlarged beside
the filter that made it; and the latest drawing beside a test digit, to see where they part. One
forward pass gives every layer (``recognizer.evaluation.inside.LayerProbe``, built once per model
and cached here); the maps are PNG tiles, not plot panels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from app_pages.explore_run import SECTION_KEY, keras_run, mnist_test_digit
from app_pages.shared import (
    INSIDE_QUERY,
    LAST_DRAWING_KEY,
    enlarged,
    recognizer_at,
)
from recognizer.core.classes import NUM_CLASSES_WITH_NOT_DIGIT, split_not_digit
from recognizer.core.runs import MODEL_FILE
from recognizer.core.storage import file_stamp
from recognizer.evaluation.inside import (
    Layer,
    LayerProbe,
    as_png,
    colour_scale,
    diverging,
    kernel_image,
    map_grid,
    members,
    steps,
    strip,
    upscaled,
)

INSIDE = "Inside the network"  # the Explore page's section
DRAWING, TEST_DIGIT, BOTH = "My latest drawing", "MNIST test digit", "Both, side by side"
SOURCE_KEY = "explore_inside_source"
INDEX_KEY = "explore_inside_index"
ENLARGED_PX = 196
CHART_CONFIG = {"staticPlot": True}  # bars to read, not to explore

ss = st.session_state


def open_from_link() -> None:
    """Follow the Draw page's link: open this section on the latest drawing (before the widgets)."""
    if st.query_params.get("section") == INSIDE_QUERY["section"]:
        del st.query_params["section"]
        ss[SECTION_KEY] = INSIDE
        if LAST_DRAWING_KEY in ss:
            ss[SOURCE_KEY] = DRAWING


@st.cache_resource(show_spinner="Preparing the network's layers…", max_entries=4)
def _probe(run_dir: str, stamp: float, member: int, _model) -> LayerProbe:
    # Keyed by the run folder and its model file's stamp (a run re-trained at the same path gets
    # a new probe); built once (a LiteRT conversion, seconds), it answers every visitor in one pass.
    return LayerProbe(_model if member < 0 else members(_model)[member])


def probe_of(run: dict) -> tuple[LayerProbe, bool] | None:
    """The probe of the run's network, or for an ensemble of the member the visitor picks (and
    whether it is a member)."""
    rec = recognizer_at(run["path"])
    if rec is None:
        return None
    try:
        model = rec.model  # the Keras file: a run read with LiteRT has not loaded it yet
    except (OSError, ValueError) as exc:
        st.error(f"The Keras model of {run['name']} could not be loaded, so its layers cannot be shown: {exc}")
        return None
    parts = members(model)
    member = -1
    if parts:
        st.info(
            f"{run['name']} is an ensemble: it averages the probabilities of {len(parts)} networks, each with "
            "layers of its own, so there is no single stack of layers to show. Pick one member to look inside."
        )
        names = [part.name for part in parts]
        member = st.selectbox("Member", range(len(parts)), format_func=names.__getitem__, key="explore_inside_member")
    stamp = file_stamp(Path(run["path"]) / MODEL_FILE)
    try:
        return _probe(str(run["path"]), stamp, int(member), model), member >= 0
    except Exception as exc:  # noqa: BLE001 -- a layer LiteRT cannot convert: the page says so and stays up
        st.error(f"The layers of {run['name']} cannot be shown: {type(exc).__name__}: {exc}")
        return None


def chosen_images() -> list[tuple[np.ndarray, str]]:
    """The images to look at (the latest drawing, a test digit, or both) with their captions."""
    sources = [DRAWING, TEST_DIGIT, BOTH] if LAST_DRAWING_KEY in ss else [TEST_DIGIT]
    if ss.get(SOURCE_KEY) not in sources:
        ss[SOURCE_KEY] = sources[0]
    source = st.segmented_control("Look at", sources, key=SOURCE_KEY) or sources[0]
    if LAST_DRAWING_KEY not in ss:
        st.caption("Draw a digit on the Draw page to follow your own drawing through the network.")
    shown = []
    if source in (DRAWING, BOTH):
        shown.append((np.asarray(ss[LAST_DRAWING_KEY], np.float32), "Your latest drawing"))
    if source in (TEST_DIGIT, BOTH):
        picked = mnist_test_digit(INDEX_KEY)
        if picked is None:
            return shown
        image, index, label = picked
        shown.append((image, f"Test #{index}: a {label}"))
    return shown


def shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape)


def show_input(images: list[tuple[np.ndarray, str]]) -> None:
    st.markdown("**Input** · 28×28×1")
    st.caption("What the network gets: 28×28 grey levels from 0 to 1, ink bright on black.")
    for column, (image, caption) in zip(st.columns(len(images)), images, strict=True):
        column.image(enlarged(image, 4), caption=caption)


def show_step(step: list[list[Layer]]) -> None:
    """One step (a convolution with its batch norm and ReLU, a pooling, a dense layer…) for each
    image: its names, output shape and what it does, and a picture of its output."""
    first, last = step[0], step[0][-1]
    st.markdown(f"**{' → '.join(layer.name for layer in first)}** · {shape_text(last.shape)}")
    st.caption(" ".join(layer.caption for layer in first))
    if last.kind == "dropout" or (last.kind == "flatten" and len(first) == 1):
        return  # the same numbers as the step above: nothing new to picture
    outputs = [layers[-1].values for layers in step]
    columns = st.columns(len(outputs))
    peak = colour_scale(np.concatenate([values.ravel() for values in outputs]))  # one scale: images compare
    for column, values in zip(columns, outputs, strict=True):
        picture = map_grid(values, 16 // len(outputs), peak=peak) if values.ndim == 3 else strip(values)
        column.image(as_png(picture), width="stretch" if values.ndim == 3 else "content")


def show_output(outputs: list[Layer], member: bool) -> None:
    from recognizer.core.figures import probability_chart  # Plotly: imported when first drawn

    last = outputs[0]
    st.markdown(f"**{last.name}** · {shape_text(last.shape)}")
    st.caption(last.caption)
    columns = st.columns(len(outputs))
    for n, (column, layer) in enumerate(zip(columns, outputs, strict=True)):
        proba, one_digit = split_not_digit(layer.values[None])
        best = int(proba[0].argmax())
        extra = f" · one digit {one_digit[0]:.0%}" if layer.shape[-1] == NUM_CLASSES_WITH_NOT_DIGIT else ""
        column.markdown(f"Reads a **{best}** ({proba[0, best]:.1%}){extra}")
        chart = probability_chart(proba[0], height=240)
        column.plotly_chart(chart, width="stretch", config=CHART_CONFIG, key=f"explore_inside_bars_{n}")
    st.caption(
        ("This member's answer alone: the ensemble averages it with the others'. " if member else "")
        + "The network alone, in one pass: the Draw page reads an unsure drawing again in a few turned and "
        "scaled views, so its answer can differ a little."
    )


def show_layers(probe: LayerProbe, images: list, every_layer: bool, member: bool) -> list[list[Layer]]:
    """Every layer for every image, in order; returns the layers of each image."""
    runs = [probe.run(image) for image, _ in images]
    show_input(images)
    grouped = [[[layer] for layer in layers] if every_layer else steps(layers) for layers in runs]
    for n in range(len(grouped[0])):
        st.divider()
        last = grouped[0][n][-1]
        if n == len(grouped[0]) - 1 and last.values.ndim == 1:  # the scores, whatever layer gives them
            show_output([g[n][-1] for g in grouped], member)
        else:
            show_step([g[n] for g in grouped])
    return runs


# ---------------------------------------------------------------------------------------------
# A feature map and its filter
# ---------------------------------------------------------------------------------------------


def filter_text(conv, kernel_inputs: int, followed: bool) -> str:
    """What a learner is looking at in the map and filter pair."""
    size = "×".join(str(k) for k in conv.get_config()["kernel_size"])
    if kernel_inputs == 1:
        text = (
            f"**The filter** is the {size} grid of weights this convolution slides over the 28×28 input. At every "
            "place it multiplies the pixels under it by these weights and adds them up: ink under red weights "
            "raises the sum, ink under blue ones lowers it. **The map** is that sum at every place: red where "
            "the drawing looks like the red part of the filter (often a stroke's edge at one angle)."
        )
    else:
        text = (
            f"**The filter** of a deeper layer does not look at pixels: it has a {size} grid of weights for each "
            f"of the {kernel_inputs} maps of the layer before. Shown is those grids summed over the {kernel_inputs} "
            "maps: a rough summary of where it listens, not a pen pattern. **The map** is red where the maps "
            "before it show the mix of patterns this filter responds to."
        )
    if max(conv.get_config()["strides"]) > 1:
        text += " With stride 2 the filter jumps two places at a time, so its map is half the size of its input."
    if followed:
        text += " The map is the convolution's own output, before the batch norm and ReLU after it."
    return text


def filter_view(probe: LayerProbe, layers: list[Layer], caption: str) -> None:
    """One feature map, enlarged, beside the filter that made it."""
    st.subheader("A feature map and its filter")
    convs = [layer for layer in layers if layer.kind == "conv"]
    if not convs:
        st.info(
            "This network has no convolution: its first dense layer weighs all 784 pixels at once, so it has "
            "no small filters to show."
        )
        return
    a, b = st.columns(2)
    names = [layer.name for layer in convs]
    name = a.selectbox(
        "Convolution",
        names,
        key="explore_inside_conv",
        format_func=lambda n: f"{n} ({shape_text(convs[names.index(n)].shape)})",
    )
    maps = convs[names.index(name)].values
    strongest = int(maps.max(axis=(0, 1)).argmax())
    label = f"Feature map (0–{maps.shape[-1] - 1}; {strongest} is the strongest here)"
    channel = int(b.number_input(label, 0, maps.shape[-1] - 1, value=strongest, key=f"explore_inside_map_{name}"))
    conv = probe.layer(name)
    kernel = kernel_image(conv, channel)
    after = layers[[layer.name for layer in layers].index(name) + 1 :][:1]
    cols = st.columns([1, 1, 2])
    cols[0].image(
        as_png(upscaled(diverging(maps[..., channel]), ENLARGED_PX)),
        caption=f"Map {channel} of {name} for {caption.lower()}",
    )
    inputs = conv.get_weights()[0].shape[2]
    summed = "" if inputs == 1 else f", summed over {inputs} input maps"
    cols[1].image(
        as_png(upscaled(diverging(kernel), ENLARGED_PX)), caption=f"Its filter, {shape_text(kernel.shape)}{summed}"
    )
    cols[2].markdown(filter_text(conv, inputs, bool(after) and after[0].kind == "batchnorm"))
    st.caption("Each picture has its own colour scale: white is zero, red positive, blue negative.")


# ---------------------------------------------------------------------------------------------
# The section
# ---------------------------------------------------------------------------------------------


def inside_view(runs: list[dict]) -> None:
    run = keras_run(runs, "Inside the network (the Keras model's layers)")
    if run is None:
        return
    st.caption(
        "Your drawing, layer by layer, as this network reads it. Feature maps are small heat maps, one colour "
        "scale per layer: red positive, blue negative, white zero (the strongest 1 % of values in full colour)."
    )
    images = chosen_images()
    if not images:
        return
    found = probe_of(run)
    if found is None:
        return
    probe, member = found
    every = st.toggle(
        "Every layer apart (convolution, batch norm and ReLU each on its own)", key="explore_inside_every"
    )
    layers = show_layers(probe, images, every, member)
    st.divider()
    filter_view(probe, layers[0], images[0][1])
