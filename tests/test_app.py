"""The Streamlit app opens without an exception and shows the active model (AppTest, no browser)."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_app_opens_on_draw_page_with_the_active_model():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("Active model" in c.value for c in at.sidebar.caption)
    assert at.title[0].value == "Draw a digit"
    assert any("Draw a digit on the canvas" in i.value for i in at.info)  # nothing drawn yet: no guess
    assert not [m for m in at.metric if m.label == "Prediction"]


def _png(image) -> bytes:
    import cv2

    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def _upload_mode(at):
    at.segmented_control[0].set_value("Upload a photo").run()
    assert not at.exception
    return at


def _surely_read_ink(pen, rec, digit: int):
    """The ink (alpha, 240x240) of the first pen ``digit`` the model reads surely when drawn alone."""
    from recognizer.data.pen import render_digit

    for i in np.flatnonzero(pen.labels == digit):
        alpha = render_digit(pen.strokes(i), brush=12, canvas=240, height=150)[..., 3]
        alone = rec.predict_drawing(alpha)
        if alone is not None and alone.digit == digit and alone.confidence > 0.95:
            return alpha
    raise AssertionError(f"no pen-written {digit} that the model reads surely on its own")


def test_uploaded_photo_of_a_number_is_read(pen):
    from recognizer import load_recognizer

    # Three pen digits in dark ink on grey paper, side by side: for each of 1, 4 and 7 an example
    # the model reads surely when drawn alone, so the test checks the photo path.
    rec = load_recognizer()
    paper = np.full((240, 720), 235, np.uint8)
    for slot, digit in enumerate((1, 4, 7)):
        alpha = _surely_read_ink(pen, rec, digit)
        paper[:, slot * 240 : (slot + 1) * 240] -= (alpha.astype(np.int32) * 200 // 255).astype(np.uint8)
    at = _upload_mode(AppTest.from_file(APP, default_timeout=60).run())
    at.file_uploader[0].set_value(("digits.png", _png(paper), "image/png")).run()
    assert not at.exception
    assert next(m for m in at.metric if m.label == "Number").value == "147"


def test_a_file_that_is_not_an_image_gets_a_clear_message():
    at = _upload_mode(AppTest.from_file(APP, default_timeout=60).run())
    at.file_uploader[0].set_value(("notes.png", b"these are not pixels", "image/png")).run()
    assert not at.exception
    assert any("not an image" in e.value for e in at.error)


def _tiny_png_claiming(side: int) -> bytes:
    import struct
    import zlib

    data = bytearray(_png(np.zeros((4, 4), np.uint8)))
    data[16:24] = struct.pack(">II", side, side)  # IHDR width and height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_upload_mistakes_get_a_clear_message_not_a_traceback():
    cases = {
        "huge.png": (_tiny_png_claiming(20_000), "megapixels"),
        "dot.png": (_png(np.zeros((1, 1), np.uint8)), "at least 8x8"),
        "cut.png": (_png(np.full((50, 50), 200, np.uint8))[:40], "not an image"),
    }
    for name, (data, message) in cases.items():
        at = _upload_mode(AppTest.from_file(APP, default_timeout=60).run())
        at.file_uploader[0].set_value((name, data, "image/png")).run()
        assert not at.exception, name
        assert any(message in e.value for e in at.error), (name, [e.value for e in at.error])


def _activate_broken_copy(tiny_run, tmp_path, damage):
    import shutil

    from recognizer.core.runs import set_active

    broken = tmp_path / "runs" / "broken"
    shutil.copytree(tiny_run, broken)
    damage(broken)
    set_active(broken)
    return broken


def _corrupt_model(run):
    (run / "model.keras").write_bytes(b"PK\x03\x04 half a zip file")


def _truncated_litert(run):
    litert = run / "model.tflite"
    litert.write_bytes(litert.read_bytes()[:1000])  # its stamp still names the model: read, and refused


def _corrupt_metrics(run):
    (run / "metrics.json").write_text('{"test_accuracy": "oops"')


def _odd_metrics(run):
    (run / "metrics.json").write_text('{"test_accuracy": "oops", "model": 3}')


@pytest.mark.parametrize("damage", [_corrupt_model, _truncated_litert, _corrupt_metrics, _odd_metrics])
def test_every_page_opens_when_the_active_run_is_damaged(tiny_run, tmp_path, damage):
    import time

    from app_pages import shared
    from recognizer.core.runs import shipped_active_dir

    _activate_broken_copy(tiny_run, tmp_path, damage)
    shared.page_on_screen()  # as the canvas reports once a browser has built the page
    for page in ("app_pages/draw.py", "app_pages/train.py", "app_pages/explore.py"):
        at = AppTest.from_file(APP, default_timeout=90).run()
        if page != "app_pages/draw.py":
            at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
    deadline = time.monotonic() + 120  # the broken model's load has failed by then, or it hangs
    while True:
        at = AppTest.from_file(APP, default_timeout=90).run()
        if not shared.model_ready() and time.monotonic() < deadline:
            time.sleep(0.2)
            continue
        break
    at = AppTest.from_file(APP, default_timeout=90).run()  # the load has ended: the page says how
    if damage in (_corrupt_model, _truncated_litert):
        assert any("could not be loaded" in w.value for w in at.warning), [w.value for w in at.warning]
        assert any(shipped_active_dir().name in c.value for c in at.sidebar.caption)
        if damage is _truncated_litert:  # the page names the file at fault
            assert any("model.tflite" in w.value for w in at.warning), [w.value for w in at.warning]
    else:
        assert any("broken" in c.value for c in at.sidebar.caption)  # the run loads, its metrics are skipped
