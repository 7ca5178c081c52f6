"""The Train page's data: the form's Data column and what a run will train on, in numbers. Not a page itself."""

from __future__ import annotations

import streamlit as st

from app_pages.train_form import bounded, field_key, widget
from recognizer.core.storage import file_stamp
from recognizer.data.mnist import MNIST_TRAIN_IMAGES, DataError, find_mnist_dir
from recognizer.data.pen import default_pen_digits_path, load_pen_digits, writer_split
from recognizer.training.config import TrainConfig
from recognizer.training.datasets import split_sizes

ss = st.session_state


@st.cache_data(show_spinner=False, max_entries=4)
def _pen_training_digits(path: str, stamp: float) -> tuple[int, int]:
    # `stamp` (the file's mtime) makes a replaced file count afresh.
    pen = load_pen_digits(path)
    train_idx, _ = writer_split(pen)
    return len(train_idx), len(set(pen.writers[train_idx].tolist()))


def pen_digits_available() -> tuple[int, int] | str:
    """(training writers' digits, writers), or why there are none."""
    path = default_pen_digits_path()
    if path is None:
        return "not found (set DIGITS_PEN_DIGITS to the pen-digits .npz file)"
    try:
        return _pen_training_digits(str(path), file_stamp(path))
    except FileNotFoundError:
        return f"not found at {path}"
    except (OSError, ValueError, KeyError) as exc:
        return f"unreadable ({path}: {exc})"


def data_section(pen_available: tuple[int, int] | str, corrections: int) -> None:
    a, b = st.columns(2)
    with a:
        # Empty is every image (train_subset=None), and the field says so.
        bounded(
            st.number_input,
            "train_subset",
            "MNIST images to use",
            value=None,
            step=1000,
            placeholder=f"all {MNIST_TRAIN_IMAGES:,}",
            help=f"Empty: all {MNIST_TRAIN_IMAGES:,}. A subset trains faster; the images are picked at random "
            "(seeded).",
        )
    with b:
        bounded(
            st.slider,
            "validation_split",
            "Validation share",
            help="Held out of training to draw the validation curves (and for early stopping)",
        )
    bounded(
        st.slider,
        "canvas_style",
        "Canvas-style share",
        help="Share of MNIST images shown redrawn as canvas strokes each epoch: helps reading drawings",
    )
    pen_section(pen_available)
    fine_tune_section()
    widget(
        st.checkbox,
        "corrections",
        f"Add saved corrections ({corrections:,})",
        help="The digits people corrected on the Draw page (“Wrong? It is …”)",
    )


def pen_section(pen_available: tuple[int, int] | str) -> None:
    widget(
        st.checkbox,
        "pen_digits",
        "Add pen-written digits",
        help="Real handwriting written on tablets, rendered as the canvas draws it",
        disabled=isinstance(pen_available, str) and not ss[field_key("pen_digits")],
    )
    a, b = st.columns(2)
    pen_off = not ss[field_key("pen_digits")]
    with a:
        bounded(st.number_input, "pen_copies", "Copies per pen digit", disabled=pen_off)
    with b:
        bounded(
            st.slider,
            "pen_styles",
            "Styled 0s, 1s, 7s",
            disabled=pen_off,
            help="Share of pen 0s, 1s and 7s written another way: 1 with a long flag (and a foot), 7 crossed, "
            "0 slashed or dotted",
        )
    bounded(
        st.slider,
        "pen_distort",
        "Reshaped pen digits",
        disabled=pen_off,
        help="Share of pen digits reshaped before they are drawn, as other writers might shape them: slant, "
        "width, a slight bend, strokes that meet a little elsewhere",
    )
    widget(
        st.checkbox,
        "not_digit",
        "Learn “not a digit”",
        disabled=pen_off,
        help="An 11th class trained on pen-written letters, digit pairs, cut digits and scribbles: the model "
        "can then say when ink is not one digit, and the number reader uses it to cut touching digits",
    )


def fine_tune_section() -> None:
    a, b = st.columns(2)
    with a:
        widget(
            st.text_input,
            "init_from",
            "Start from run (folder)",
            help="Fine-tune: start from this run's weights (same architecture and classes); empty = from scratch",
        )
    with b:
        bounded(
            st.number_input,
            "mined_cuts",
            "Mined wrong cuts",
            step=1000,
            help="Wrong cuts of touching numbers that the starting run reads as a digit, taught as “not a digit”",
        )


def data_summary(config: TrainConfig, pen_available: tuple[int, int] | str, corrections: int) -> None:
    """What the run will train on, in numbers (``split_sizes`` is the split ``split_data`` makes)."""
    n_train, n_val = split_sizes(config, MNIST_TRAIN_IMAGES)
    held_out = f"{n_val:,} held out for validation" if n_val else "none held out for validation"
    lines = [f"- **{n_train:,}** MNIST training images ({held_out})"]
    if config.canvas_style > 0:
        lines.append(f"  - {config.canvas_style:.0%} of them shown as canvas strokes each epoch")
    pen_lines, pen_images = _pen_summary(config, pen_available)
    lines += pen_lines
    if config.corrections:
        lines.append(f"- **{corrections:,}** saved corrections")
    else:
        lines.append(f"- Saved corrections: {corrections:,} (not used)")
    total = n_train + pen_images + (corrections if config.corrections else 0)
    lines.append(f"- In all about **{total:,}** images per epoch; tested on the 10,000 MNIST test images")
    st.markdown("\n".join(lines))
    try:
        st.caption(f"MNIST from `{find_mnist_dir(download=False)}`")
    except DataError as exc:
        st.warning(f"MNIST is not on this machine yet; the job will try to download it. ({exc})")


def _pen_summary(config: TrainConfig, pen_available: tuple[int, int] | str) -> tuple[list[str], int]:
    """The summary's lines about pen digits, and how many pen-digit images an epoch holds."""
    if isinstance(pen_available, str):
        lines, rendered = [f"- Pen-written digits: {pen_available}"], 0
    elif config.pen_digits:
        digits, writers = pen_available
        rendered = digits * config.pen_copies
        lines = [
            f"- **{rendered:,}** pen-digit images: {digits:,} digits by {writers} training writers "
            f"× {config.pen_copies} renderings"
        ]
    else:
        digits, writers = pen_available
        lines, rendered = [f"- Pen-written digits: {digits:,} available from {writers} training writers (not used)"], 0
    if config.not_digit and config.pen_digits:
        lines.append("- About a third as many again of “not a digit” examples: letters, digit pairs, cut digits")
    return lines, rendered


def page_problems(config: TrainConfig, pen_available: tuple[int, int] | str) -> list[str]:
    """config.problems() plus what only shows at run time: data the job would not find."""
    found = config.problems()
    if config.pen_digits and isinstance(pen_available, str):
        found.append(f"pen digits are on but the pen-digits file is {pen_available}")
    return found
