"""Image to network input: headers before pixels, alpha and polarity, photos, MNIST round trips, blanks."""

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from btf.images.vision import ImageError, _percentile, decode_gray, image_size, image_to_input, to_input
from tests.conftest import SHARED_MNIST
from tests.support.images import draw_seven, encode


def reference():
    """The clean, white-on-black input of the same 7."""
    img = draw_seven(ink=(255, 255, 255, 255), background=(0, 0, 0, 255))
    return to_input(cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY))


def similar(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def test_canvas_png_black_ink_on_transparent():
    x = image_to_input(encode(draw_seven()))
    assert x.shape == (784,) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1
    assert 0.05 < (x > 0.5).mean() < 0.4  # ink, not an all-black or all-white square
    assert similar(x, reference()) > 0.95


def test_white_ink_on_transparent_and_on_black_and_black_on_white():
    ref = reference()
    for ink, bg in [
        ((255, 255, 255, 255), (0, 0, 0, 0)),
        ((255, 255, 255, 255), (0, 0, 0, 255)),
        ((0, 0, 0, 255), (255, 255, 255, 255)),
        ((40, 10, 200, 255), (230, 240, 250, 255)),
    ]:
        assert similar(image_to_input(encode(draw_seven(ink=ink, background=bg))), ref) > 0.95, (ink, bg)


def test_output_is_20px_box_centred_by_mass():
    x = reference().reshape(28, 28)
    rows, cols = np.nonzero(x > 0.05)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 in (19, 20, 21)
    ys, xs = np.indices((28, 28))
    assert abs((ys * x).sum() / x.sum() - 14) < 1 and abs((xs * x).sum() / x.sum() - 14) < 1


def test_photo_with_uneven_light_noise_and_specks():
    rng = np.random.default_rng(0)
    h = w = 600
    gradient = np.linspace(120, 230, w)[None, :].repeat(h, 0)
    paper = (gradient + rng.normal(0, 6, (h, w))).clip(0, 255).astype(np.uint8)
    photo = cv2.cvtColor(paper, cv2.COLOR_GRAY2BGR)
    seven = draw_seven(size=400, ink=(255, 255, 255, 255), background=(0, 0, 0, 255), width=28)[:, :, 0]
    region = photo[100:500, 100:500]
    region[seven > 128] = (35, 35, 45)
    photo[40:43, 560:563] = 0  # a speck of dirt
    x = image_to_input(encode(photo, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 80]))
    assert similar(x, reference()) > 0.85


def test_large_photo_decodes_reduced():
    big = np.full((3000, 4000), 255, np.uint8)
    cv2.line(big, (2000, 500), (2000, 2500), 0, 150)
    x = image_to_input(encode(big, ".jpg"))
    assert (x.reshape(28, 28)[:, 14] > 0.5).sum() >= 18  # a vertical bar: a '1'


def test_mnist_digit_comes_out_nearly_unchanged():
    x = reference()
    img = (x.reshape(28, 28) * 255).round().astype(np.uint8)
    again = image_to_input(encode(img))
    assert np.abs(again - x).mean() < 0.02


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="shared MNIST not present")
def test_real_mnist_digits_nearly_unchanged():
    from btf.data import read_idx

    images = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")[:200]
    diffs = [np.abs(image_to_input(encode(im)) - im.ravel() / 255).mean() for im in images]
    assert np.median(diffs) < 0.01 and np.mean(diffs) < 0.02


def test_blank_and_flat_images_say_no_digit():
    for img in (np.zeros((280, 280, 4), np.uint8), np.full((50, 50), 255, np.uint8), np.full((28, 28), 128, np.uint8)):
        with pytest.raises(ImageError) as err:
            image_to_input(encode(img))
        assert err.value.code == "no_digit"


def _pil(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_16bit_palette_gray_alpha_cmyk_and_webp_bmp():
    ref = reference()
    gray = 255 - cv2.cvtColor(draw_seven(ink=(255,) * 4, background=(0, 0, 0, 255)), cv2.COLOR_BGRA2GRAY)
    sixteen = encode(gray.astype(np.uint16) * 257)
    assert similar(image_to_input(sixteen), ref) > 0.95
    pil = Image.fromarray(gray)
    assert similar(image_to_input(_pil(pil.convert("P"), "PNG")), ref) > 0.95
    la = Image.fromarray(np.dstack([np.zeros_like(gray), 255 - gray]), "LA")
    assert similar(image_to_input(_pil(la, "PNG")), ref) > 0.95
    cmyk = _pil(pil.convert("CMYK"), "JPEG")
    assert similar(image_to_input(cmyk), ref) > 0.9
    assert similar(image_to_input(encode(gray, ".webp")), ref) > 0.9
    assert similar(image_to_input(encode(gray, ".bmp")), ref) > 0.95


def test_header_sizes():
    img = np.zeros((30, 50), np.uint8)
    for ext in (".png", ".jpg", ".bmp", ".webp"):
        assert image_size(encode(img, ext))[1:] == (50, 30), ext
    assert image_size(encode(img, ".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]))[1:] == (50, 30)  # lossless VP8L


def test_unsupported_and_corrupt():
    gif = _pil(Image.new("L", (10, 10)), "GIF")
    tiff = _pil(Image.new("L", (10, 10)), "TIFF")
    for data in (gif, tiff, b"hello world", b"%PDF-1.4"):
        with pytest.raises(ImageError) as err:
            image_to_input(data)
        assert err.value.code == "unsupported_format"
    png = encode(draw_seven())
    for data in (png[:20], png[:60], b"", b"\x89PNG\r\n\x1a\n" + b"\0" * 30, b"\xff\xd8\xff" + b"\0" * 10):
        with pytest.raises(ImageError) as err:
            image_to_input(data)
        assert err.value.code in ("corrupt_image", "unsupported_format")


def test_pixel_limit_checked_before_decoding(monkeypatch):
    def ihdr(width, height):
        body = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + body + struct.pack(">I", zlib.crc32(body))

    monkeypatch.setattr(cv2, "imdecode", lambda *a: pytest.fail("decoded a bomb"))
    with pytest.raises(ImageError) as err:
        decode_gray(ihdr(100_000, 100_000) + b"\0" * 100)
    assert err.value.code == "image_too_large" and "10,000,000,000 pixels" in str(err.value)
    with pytest.raises(ImageError):
        decode_gray(ihdr(0, 10))


def _stroke_width(x):
    mask = (x.reshape(28, 28) > 0.3).astype(np.uint8)
    edge = (mask & (1 - cv2.erode(mask, np.ones((3, 3), np.uint8)))).sum()
    return 2 * mask.sum() / edge


@pytest.mark.parametrize("width", [2, 4, 60])
def test_hairline_and_marker_strokes_are_normalised_towards_mnist(width):
    x = image_to_input(encode(draw_seven(width=width)))
    assert 1.6 <= _stroke_width(x) <= 4.2
    assert similar(x, reference()) > 0.75


@settings(max_examples=200, deadline=None)
@given(
    values=arrays(np.float32, st.integers(1, 300), elements=st.floats(0, 1e4, width=32)),
    q=st.sampled_from([0.0, 1.0, 50.0, 99.0, 99.9, 100.0]),
)
@example(values=np.array([3.0], np.float32), q=99.0)
@example(values=np.array([1.0, 255.0], np.float32), q=99.0)
def test_the_percentile_is_numpys_to_the_bit(values, q):
    assert _percentile(values, q) == float(np.percentile(values, q))
