"""The Train page's form for a new run: presets and one widget per ``TrainConfig`` field. Not a page itself.

A newcomer sees three choices (the preset, the architecture, the epochs); every other field sits
under "Advanced settings", which stays open once opened. Ranges and presets come from
``recognizer.training.config`` (``BOUNDS``, ``PRESETS``), so the form offers exactly what
``TrainConfig.problems()`` accepts; the form only chooses labels, steps and layout. Every widget's
value lives in the session under ``train_<field>``.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from app_pages.shared import import_tensorflow
from recognizer.training.config import BOUNDS, LR_SCHEDULES, OPTIMIZERS, PRESET_NOTES, PRESETS, TrainConfig

FIELDS = dataclasses.fields(TrainConfig)
DEFAULTS = TrainConfig().to_dict()
DEFAULT_PRESET = "quick"
PRESET_KEY = "train_preset"
ADVANCED_KEY = "train_advanced"  # the expander's own state, while the page shows it
ADVANCED_OPEN_KEY = "train_advanced_open"  # kept across page switches, which drop widget state
PRESET_HELP = "  \n".join(f"**{name.capitalize()}**: {note}." for name, note in PRESET_NOTES.items())

ss = st.session_state
RENDERED: set[str] = set()  # fields that got a widget in this script run


def field_key(name: str) -> str:
    return f"train_{name}"


def _preset_values(name: str) -> dict:
    values = TrainConfig.preset(name).to_dict()
    values["init_from"] = values["init_from"] or ""  # the widget shows "from scratch" as empty
    return values


def _apply_preset() -> None:
    name = ss.get(PRESET_KEY)
    if name:  # None: the user un-selected the preset; keep the form as it is
        for field, value in _preset_values(name).items():
            ss[field_key(field)] = value


def _edited() -> None:
    # A hand edit means the form no longer is the highlighted preset.
    ss[PRESET_KEY] = None


def start_form() -> None:
    """Fill the form once per session (persist_state keeps it across page switches afterwards)."""
    RENDERED.clear()  # this module outlives a script run: count this run's widgets afresh
    if PRESET_KEY in ss:
        return
    ss[PRESET_KEY] = DEFAULT_PRESET
    _apply_preset()


def preset_control() -> None:
    st.segmented_control(
        "Preset",
        list(PRESETS),
        format_func=str.capitalize,
        key=PRESET_KEY,
        on_change=_apply_preset,
        persist_state="session",
        help=PRESET_HELP,
    )
    name = ss.get(PRESET_KEY)
    note = PRESET_NOTES[name] if name else "your own settings (no preset)"
    st.caption(f"{note[0].upper()}{note[1:]}.")


def _remember_advanced() -> None:
    ss[ADVANCED_OPEN_KEY] = bool(ss.get(ADVANCED_KEY))


def advanced_settings():
    """The "Advanced settings" expander: closed at first, open again after a visit to another page
    if it was open when the visitor left."""
    return st.expander(
        "Advanced settings",
        expanded=ss.get(ADVANCED_OPEN_KEY, False),
        key=ADVANCED_KEY,
        on_change=_remember_advanced,
        icon=":material/tune:",
    )


def essentials() -> None:
    """The three choices a newcomer makes (with the preset): the architecture and the epochs."""
    import_tensorflow()  # before the module that imports it (see import_tensorflow)
    from recognizer.nets.architectures import MODELS

    side_by_side(
        lambda: widget(st.selectbox, "architecture", "Architecture", options=list(MODELS)),
        lambda: bounded(st.number_input, "epochs", "Epochs"),
    )
    st.caption(MODELS[ss[field_key("architecture")]].description)


def widget(kind, name: str, label: str, **kwargs):
    """One form widget bound to the TrainConfig field ``name``."""
    RENDERED.add(name)
    return kind(label, key=field_key(name), on_change=_edited, persist_state="session", **kwargs)


def bounded(kind, name: str, label: str, **kwargs):
    """A slider or number input for ``name`` offering its bounds (``recognizer.training.config.BOUNDS``).

    ``kwargs`` may set another ``step`` (or, for a field whose 0 means "all", another minimum).
    """
    bound = BOUNDS[name]
    low, high = bound.closed_range()
    return widget(kind, name, label, **{"min_value": low, "max_value": high, "step": bound.step, **kwargs})


def side_by_side(*draws) -> None:
    """Draw each callable in its own column of an even row (half-width when there is one)."""
    for column, draw in zip(st.columns(max(2, len(draws))), draws, strict=False):
        with column:
            draw()


def model_section() -> None:
    side_by_side(
        lambda: bounded(st.number_input, "batch_size", "Batch size", step=32),
        lambda: widget(st.selectbox, "optimizer", "Optimizer", options=list(OPTIMIZERS)),
    )
    side_by_side(
        lambda: bounded(st.number_input, "learning_rate", "Learning rate", step=0.0001, format="%g"),
    )
    side_by_side(
        lambda: widget(
            st.selectbox,
            "lr_schedule",
            "LR schedule",
            options=list(LR_SCHEDULES),
            help="cosine: down to 1 % of the start by the last epoch; exponential: times the decay each epoch; "
            "onecycle: up from a tenth of the rate to the rate over the first quarter of training, then down "
            "to almost nothing, every batch",
        ),
        lambda: bounded(
            st.number_input,
            "lr_decay",
            "Decay per epoch",
            disabled=ss[field_key("lr_schedule")] != "exponential",
            help="Only for the exponential schedule",
        ),
    )
    side_by_side(
        lambda: bounded(st.number_input, "seed", "Random seed"),
        lambda: widget(
            st.checkbox,
            "ema",
            "Average the weights (EMA)",
            help="Save the moving average of the weights over about the last 1,000 steps instead of the last step's",
        ),
    )


def augmentation_section() -> None:
    widget(st.checkbox, "augment", "Augment the images", help="Random rotation, zoom, shift and shear each epoch")
    off = not ss[field_key("augment")]
    a, b = st.columns(2)
    with a:
        bounded(st.slider, "rotation", "Rotation (°)", disabled=off)
        bounded(st.slider, "zoom", "Zoom", disabled=off)
    with b:
        bounded(st.slider, "shear", "Shear (°)", disabled=off)
        bounded(st.slider, "shift", "Shift", disabled=off)
    side_by_side(
        lambda: bounded(
            st.slider,
            "elastic",
            "Elastic warp (px)",
            disabled=off,
            help="Bend the strokes by a smooth random warp of about this many pixels; 0 = off",
        )
    )
    side_by_side(
        lambda: bounded(
            st.slider, "mixup", "Mixup", help="Blend pairs of images and their labels; the Beta parameter, 0 = off"
        ),
        lambda: bounded(
            st.slider, "label_smoothing", "Label smoothing", help="Share of each label spread over all classes"
        ),
    )


def stopping_section() -> None:
    widget(st.checkbox, "early_stopping", "Early stopping", help="Stop when validation loss stops improving")
    side_by_side(
        lambda: bounded(
            st.number_input,
            "early_stopping_patience",
            "Patience (epochs)",
            disabled=not ss[field_key("early_stopping")],
            help="Epochs without improvement before it stops",
        )
    )
    widget(
        st.checkbox,
        "reduce_lr_on_plateau",
        "Reduce the learning rate on plateaus",
        help="Cut the learning rate when validation loss stalls (constant schedule only)",
    )
    plateau_off = not ss[field_key("reduce_lr_on_plateau")]
    side_by_side(
        lambda: bounded(st.number_input, "plateau_patience", "Patience (epochs)", disabled=plateau_off),
        lambda: bounded(st.slider, "plateau_factor", "LR factor", disabled=plateau_off),
    )


def other_fields_section() -> None:
    """Widgets for TrainConfig fields this page has no tailored widget for (a newer library)."""
    extra = [f for f in FIELDS if f.name not in RENDERED]
    if not extra:
        return
    st.markdown("##### More settings")
    with st.container():
        for f in extra:
            value, label = DEFAULTS[f.name], f.name.replace("_", " ").capitalize()
            if field_key(f.name) not in ss:
                ss[field_key(f.name)] = value
            if isinstance(value, bool):
                widget(st.checkbox, f.name, label)
            elif isinstance(value, int | float):
                (bounded if f.name in BOUNDS else widget)(st.number_input, f.name, label)
            elif isinstance(value, str):
                widget(st.text_input, f.name, label)
            else:  # no safe widget for this type: the run uses the library's default
                st.caption(f"{label}: {value!r} (default)")


def form_config() -> TrainConfig:
    values = {f.name: ss[field_key(f.name)] for f in FIELDS}
    values["init_from"] = (values["init_from"] or "").strip() or None
    return TrainConfig(**values)
