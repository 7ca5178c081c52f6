"""Drawings, photos and scans to MNIST format: ink, centring, aspect, polarity, blanks, strokes."""

import cv2
import numpy as np
import pytest

from recognizer.core.photo_ink import ink_from_photo
from recognizer.core.preprocess import (
    decode_image,
    ink_from_image,
    normalize_digit,
    stroke_width,
    to_model_input,
)
from recognizer.data.pen import render_digit
from recognizer.reading.segment import digit_boxes


def canvas_with(draw, size=(280, 280), color=(0, 0, 0)):
    """A transparent RGBA canvas with whatever ``draw(alpha)`` paints in its alpha channel."""
    alpha = np.zeros(size, np.uint8)
    draw(alpha)
    rgba = np.zeros((*size, 4), np.uint8)
    rgba[..., :3] = color
    rgba[..., 3] = alpha
    return rgba


def seven(alpha, brush=16, origin=(40, 30), scale=1.0):
    ox, oy = origin
    pts = np.array([[0, 0], [120, 0], [50, 180]]) * scale + [ox, oy]
    cv2.polylines(alpha, [pts.astype(np.int32)], False, 255, brush, cv2.LINE_AA)


def centre_of_mass(img):
    ys, xs = np.indices(img.shape)
    return (img * ys).sum() / img.sum(), (img * xs).sum() / img.sum()


def extent(img, level=0.3):
    ys, xs = np.nonzero(img > level)
    return ys.max() - ys.min() + 1, xs.max() - xs.min() + 1


def test_alpha_is_the_ink_whatever_the_stroke_colour():
    black = canvas_with(seven)
    red = canvas_with(seven, color=(255, 0, 0))
    np.testing.assert_array_equal(ink_from_image(black), ink_from_image(red))
    np.testing.assert_allclose(ink_from_image(black), black[..., 3] / 255)


@pytest.mark.parametrize("position", [(10, 10), (140, 80), (60, 40)])
def test_digit_is_centred_by_mass_and_scaled_to_20px(position):
    def small_seven(alpha):
        seven(alpha, origin=position, scale=0.5)

    img, box = normalize_digit(ink_from_image(canvas_with(small_seven)))
    assert img.shape == (28, 28) and img.dtype == np.float32
    cy, cx = centre_of_mass(img)
    assert abs(cy - 13.5) < 0.6 and abs(cx - 13.5) < 0.6
    assert max(extent(img)) in (19, 20, 21)
    x, y, w, h = box
    assert abs(x - (position[0] - 8)) <= 2 and abs(y - (position[1] - 8)) <= 2  # brush radius 8 around the path


def test_aspect_ratio_is_kept():
    def ring(alpha):
        cv2.ellipse(alpha, (140, 140), (100, 40), 0, 0, 360, 255, 10, cv2.LINE_AA)

    img, (_, _, w, h) = normalize_digit(ink_from_image(canvas_with(ring)))
    out_h, out_w = extent(img)
    assert out_w in (19, 20, 21)
    assert abs(out_h / out_w - h / w) < 0.12
    assert img[14, 14] < 0.1  # the hole stays open


def test_dark_ink_on_light_paper_equals_light_ink_on_dark():
    alpha = np.zeros((200, 200), np.uint8)
    seven(alpha, brush=12, origin=(30, 10), scale=0.9)
    paper = 255 - alpha  # dark ink on white, a scan
    screen = alpha  # light ink on black
    a, _ = normalize_digit(ink_from_image(paper))
    b, _ = normalize_digit(ink_from_image(np.dstack([screen] * 3)))
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_grey_paper_background_is_subtracted():
    alpha = np.zeros((200, 200), np.uint8)
    seven(alpha, brush=12, origin=(30, 10), scale=0.9)
    grey_paper = (200 - (alpha.astype(int) * 150 // 255)).astype(np.uint8)  # ink 50 on paper 200
    ink = ink_from_image(grey_paper)
    assert ink[alpha == 0].max() < 0.05
    assert ink[alpha == 255].min() > 0.95


def test_blank_and_stray_marks_give_none():
    assert normalize_digit(ink_from_image(canvas_with(lambda a: None))) is None
    flat_grey_paper = np.random.default_rng(0).normal(180, 3, (200, 200)).clip(0, 255).astype(np.uint8)
    assert normalize_digit(ink_from_image(flat_grey_paper)) is None

    def dot(alpha):
        cv2.circle(alpha, (200, 60), 10, 255, -1, cv2.LINE_AA)

    assert normalize_digit(ink_from_image(canvas_with(dot))) is None

    def speck(alpha):
        alpha[100:104, 100:104] = 255

    assert normalize_digit(ink_from_image(canvas_with(speck))) is None

    def one(alpha):
        cv2.line(alpha, (140, 60), (140, 220), 255, 20, cv2.LINE_AA)

    assert normalize_digit(ink_from_image(canvas_with(one))) is not None


@pytest.mark.parametrize("brush", [4, 10, 30, 45])
def test_stroke_width_is_normalised_for_thin_and_thick_brushes(brush):
    reference, _ = normalize_digit(ink_from_image(canvas_with(lambda a: seven(a, brush=16))))
    img, _ = normalize_digit(ink_from_image(canvas_with(lambda a: seven(a, brush=brush))))
    width = stroke_width((img > 0.5).astype(np.uint8))
    assert 1.5 <= width <= 4.0, width  # MNIST's strokes: ~2-4 px in the 20 px box
    assert np.corrcoef(reference.ravel(), img.ravel())[0, 1] > 0.8


def test_without_normalisation_a_thick_brush_gives_a_blob():
    ink = ink_from_image(canvas_with(lambda a: seven(a, brush=60)))
    blob, _ = normalize_digit(ink, normalize_stroke=False)
    normal, _ = normalize_digit(ink)
    assert stroke_width((blob > 0.5).astype(np.uint8)) > 1.4 * stroke_width((normal > 0.5).astype(np.uint8))


@pytest.mark.parametrize(
    "bad",
    [np.zeros(5), np.zeros((4, 4)), np.zeros((50, 50, 2)), np.array([["a"] * 10] * 10)],
    ids=["1d", "tiny", "two-channels", "strings"],
)
def test_non_images_raise_value_error(bad):
    with pytest.raises(ValueError):
        ink_from_image(bad)


def test_float_and_uint8_images_read_alike():
    rgba = canvas_with(seven)
    np.testing.assert_allclose(ink_from_image(rgba.astype(np.float32) / 255), ink_from_image(rgba), atol=1 / 255)


def test_photo_with_uneven_light_keeps_strokes_and_drops_shading():
    h, w = 240, 320
    light = np.linspace(250, 120, w)[None, :].repeat(h, axis=0)  # a shadow across the page
    alpha = np.zeros((h, w), np.uint8)
    seven(alpha, brush=8, origin=(60, 20), scale=1.0)
    photo = np.clip(light - alpha.astype(float) * 0.35, 0, 255).astype(np.uint8)  # ink only 90 darker
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 4, photo.shape), 0, 255).astype(np.uint8)
    ink = ink_from_photo(np.dstack([noisy] * 3))
    on_stroke = ink[alpha > 200].mean()
    off_stroke = ink[cv2.dilate(alpha, np.ones((15, 15))) == 0].mean()
    assert on_stroke > 0.8 and off_stroke < 0.01


def test_decode_image_reads_png_and_refuses_other_bytes():
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[..., 0] = 255  # red in RGB
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    decoded = decode_image(png.tobytes())
    np.testing.assert_array_equal(decoded, rgb)
    with pytest.raises(ValueError, match="not an image"):
        decode_image(b"%PDF-1.7 this is not a picture")
    with pytest.raises(ValueError, match="not an image"):
        decode_image(b"")


def test_decode_image_shrinks_huge_photos():
    ok, jpg = cv2.imencode(".jpg", np.full((3000, 2000, 3), 255, np.uint8))
    assert decode_image(jpg.tobytes(), max_side=1600).shape == (1600, 1067, 3)


def _png_claiming(width: int, height: int) -> bytes:
    """A small real PNG whose header says it is ``width`` x ``height`` (a decompression bomb's shape)."""
    import struct
    import zlib

    ok, png = cv2.imencode(".png", np.zeros((4, 4), np.uint8))
    data = bytearray(png.tobytes())
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13])))
    return bytes(data)


@pytest.mark.parametrize("side", [8_000, 20_000, 40_000])
def test_decode_image_refuses_huge_images_before_decoding_them(side):
    with pytest.raises(ValueError, match="megapixels"):
        decode_image(_png_claiming(side, side))


def test_decode_image_reads_16_bit_pngs_as_8_bit():
    gray16 = np.array([[0, 257 * 128, 65535]] * 3, np.uint16)
    ok, png = cv2.imencode(".png", gray16)
    np.testing.assert_array_equal(decode_image(png.tobytes()), (gray16 >> 8).astype(np.uint8))


def test_photo_ink_on_a_transparent_background_comes_from_alpha():
    rgba = np.zeros((60, 60, 4), np.uint8)  # black ink (RGB 0) on transparent black: luminance sees nothing
    cv2.line(rgba, (30, 10), (30, 50), (0, 0, 0, 255), 5)
    ink = ink_from_photo(rgba)
    assert ink[30, 30] > 0.9 and ink[5, 5] == 0


@pytest.mark.parametrize("bad", [np.zeros(0), np.zeros(50), np.zeros((40, 40, 2)), np.zeros((4, 4)), "photo"])
def test_photo_ink_of_a_non_image_is_a_value_error(bad):
    with pytest.raises(ValueError):
        ink_from_photo(bad)


def test_to_model_input_shapes_and_scaling():
    x = to_model_input(np.full((28, 28), 255, np.uint8))
    assert x.shape == (1, 28, 28, 1) and x.dtype == np.float32 and x.max() == 1.0


def test_to_unit_scales_arrays_and_tensors_alike():
    import tensorflow as tf

    from recognizer.core.preprocess import to_unit

    pixels = np.arange(256, dtype=np.uint8)
    unit = to_unit(pixels)
    assert unit.dtype == np.float32 and unit[0] == 0 and unit[255] == 1 and unit[51] == pytest.approx(0.2)
    image = (np.arange(784) % 256).astype(np.uint8).reshape(28, 28)
    np.testing.assert_array_equal(to_model_input(image)[0, ..., 0], to_unit(image))  # one scale for both
    graph = to_unit(tf.cast(tf.constant(pixels), tf.float32))  # as a tf.data map would scale
    np.testing.assert_array_equal(graph.numpy(), unit)


# --- segmentation of numbers -------------------------------------------------------------------


def test_digits_are_found_left_to_right():
    def number(alpha):
        cv2.line(alpha, (520, 40), (520, 200), 255, 14)  # drawn first, rightmost
        cv2.circle(alpha, (100, 120), 70, 255, 14)
        cv2.line(alpha, (300, 40), (300, 200), 255, 14)

    boxes = digit_boxes(ink_from_image(canvas_with(number, size=(240, 700))))
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)
    assert len(boxes) == 3
    assert abs(boxes[0][0] - 23) <= 3 and abs(boxes[2][0] + boxes[2][2] / 2 - 520) <= 3


def test_pieces_of_one_digit_merge_and_specks_drop():
    def five_and_four(alpha):
        # A 5: body, then its detached top bar.
        cv2.ellipse(alpha, (100, 150), (45, 45), 0, -140, 160, 255, 12)
        cv2.line(alpha, (80, 50), (80, 110), 255, 12)
        cv2.line(alpha, (88, 45), (150, 45), 255, 12)
        # A two-stroke 4: the open angle, then the separate down stroke.
        cv2.polylines(alpha, [np.array([[300, 40], [260, 140], [360, 140]], np.int32)], False, 255, 12)
        cv2.line(alpha, (330, 60), (330, 210), 255, 12)
        alpha[20:23, 500:503] = 255  # a speck

    boxes = digit_boxes(ink_from_image(canvas_with(five_and_four, size=(240, 600))))
    assert len(boxes) == 2, boxes


def test_real_pen_digit_renders_to_a_plausible_mnist_image(pen):
    eight = int(np.flatnonzero(pen.labels == 8)[0])
    img, _ = normalize_digit(ink_from_image(render_digit(pen.strokes(eight), brush=20)))
    assert 0.1 < (img > 0.5).mean() < 0.35  # MNIST's eights cover ~15-30 % of the frame
