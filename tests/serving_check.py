"""The Draw page in full without TensorFlow: run as a script (``python tests/serving_check.py``).

TensorFlow and Keras cannot be imported here (a serving install lacks them; in a full install this
script blocks them), and the app still reads a drawn digit, a number and a photo, saves a
correction and learns it for the visitor, while Train and Explore say what needs the full install;
an active run that lacks its LiteRT file is named, and the shipped model answers.
``tests/test_serving.py`` runs it in a new process; CI also runs that test in a virtual environment
made from requirements-serve.txt alone.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BLOCKED = ("tensorflow", "keras")


class NoTensorFlow:
    """An import hook that refuses TensorFlow and Keras, as a serving install lacks them."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: a serving install)", name=name)
        return None


def drawings() -> dict[str, np.ndarray]:
    """A pen-written 4 on the digit canvas and the number 471 on the number canvas (RGBA)."""
    from recognizer.data.pen import default_pen_digits_path, load_pen_digits, render_digit, writer_split

    pen = load_pen_digits(default_pen_digits_path())
    held = pen.subset(writer_split(pen)[1])
    first = {d: int(np.flatnonzero(held.labels == d)[0]) for d in (1, 4, 7)}
    one = {d: render_digit(held.strokes(first[d]), brush=18, height=0.65 * 280) for d in (1, 4, 7)}
    number = np.concatenate([one[4], one[7], one[1]], axis=1)[:, :, :]
    return {"digit-canvas": one[4], "number-canvas": number[20:260]}


def stand_in_canvas(drawn: dict[str, np.ndarray]) -> None:
    """The canvas component, which AppTest cannot draw on, replaced by one reporting ``drawn``."""

    def canvas(**options):
        image = drawn.get(options["key"].rsplit("-", 1)[0])
        return SimpleNamespace(image_data=image, json_data={"objects": [] if image is None else [{"type": "path"}]})

    sys.modules["streamlit_drawable_canvas"] = SimpleNamespace(st_canvas=canvas)


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def photo_png(drawn: dict[str, np.ndarray]) -> bytes:
    """The number drawn in dark ink on light paper, as a PNG file."""
    from PIL import Image

    paper = 255 - drawn["number-canvas"][..., 3]
    buffer = io.BytesIO()
    Image.fromarray(paper).save(buffer, format="PNG")
    return buffer.getvalue()


def check_draw_page(drawn) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception, at.exception
    assert metric(at, "Prediction") == "4", metric(at, "Prediction")
    at.segmented_control[0].set_value("A number").run()
    assert metric(at, "Number") == "471", metric(at, "Number")
    at.segmented_control[0].set_value("Upload a photo").run()
    at.file_uploader[0].set_value(("number.png", photo_png(drawn), "image/png")).run()
    assert metric(at, "Number") == "471", metric(at, "Number")
    at.segmented_control[0].set_value("One digit").run()
    next(s for s in at.selectbox if s.label == "Wrong? It is …").set_value(9)
    next(b for b in at.button if b.label == "Save correction").click().run()
    assert not at.exception, at.exception
    assert metric(at, "Prediction") == "9"  # learnt for this visitor at once (numbers too, after this)
    check_other_pages(at)


def check_other_pages(at) -> None:
    """Train and Explore open and say what needs the full install."""
    at.switch_page("app_pages/train.py").run()
    assert not at.exception, at.exception
    assert any("Training needs TensorFlow" in i.value for i in at.info)
    at.switch_page("app_pages/explore.py").run()
    assert not at.exception, at.exception
    at.segmented_control(key="explore_section").set_value("Saliency").run()
    assert not at.exception, at.exception
    assert any("needs TensorFlow" in i.value and "requirements.txt" in i.value for i in at.info)
    at.segmented_control(key="explore_section").set_value("Inside the network").run()
    assert not at.exception, at.exception
    assert any(i.value.startswith("Inside the network") and "needs TensorFlow" in i.value for i in at.info)


def check_a_run_without_its_litert_file(tmp: Path) -> None:
    """An active run that lacks its LiteRT file (it cannot be made here): the page names the run and
    answers with the shipped model."""
    import shutil

    from streamlit.testing.v1 import AppTest

    from recognizer.core.runs import set_active, shipped_active_dir

    run = tmp / "runs" / "no-litert"
    shutil.copytree(shipped_active_dir(), run)
    (run / "model.tflite").unlink()
    set_active(run)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception, at.exception
    assert any("no-litert has no LiteRT file" in w.value for w in at.warning), [w.value for w in at.warning]
    assert metric(at, "Prediction") == "4"  # answered by the shipped model


def main() -> int:
    import tempfile

    sys.meta_path.insert(0, NoTensorFlow())
    drawn = drawings()
    stand_in_canvas(drawn)
    check_draw_page(drawn)
    with tempfile.TemporaryDirectory() as tmp:
        check_a_run_without_its_litert_file(Path(tmp))
    loaded = sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED)
    assert loaded == [], loaded
    print("served without TensorFlow")
    return 0


if __name__ == "__main__":
    sys.exit(main())
