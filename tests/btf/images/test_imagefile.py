"""btf.images.imagefile: EXIF orientation for PNG and WebP (as JPEG already had), BMP padding alpha, strip reduction."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from btf.images import exif, imagefile
from btf.images.vision import image_to_input


def seven(size=(120, 90)) -> np.ndarray:
    """An asymmetric dark '7' on white, so any rotation or flip changes the picture."""
    img = np.full((size[1], size[0]), 255, np.uint8)
    cv2.line(img, (15, 12), (100, 12), 0, 9)
    cv2.line(img, (100, 12), (45, 80), 0, 9)
    return img


def encode(gray, fmt, orientation) -> bytes:
    pil = Image.fromarray(gray)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    pil.save(buffer, fmt, exif=exif.tobytes(), **({"lossless": True} if fmt == "WEBP" else {}))
    return buffer.getvalue()


def orientation_in(data: bytes) -> int:
    """The orientation in the EXIF chunk that the header walk found (1 without one)."""
    at = imagefile.read_header(data).exif
    return exif.orientation_of(data[at[0] : at[1]]) if at else 1


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_a_viewer_does(fmt, orientation):
    data = encode(seven(), fmt, orientation)
    assert orientation_in(data) == orientation
    upright = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("L"))
    ours = imagefile.decode_gray(data)
    assert ours.shape == upright.shape and np.abs(ours.astype(int) - upright).mean() < 2
    assert np.allclose(image_to_input(data), image_to_input(encode(upright, "PNG", 1)), atol=0.02)


def test_no_or_broken_exif_means_upright():
    plain = cv2.imencode(".png", seven())[1].tobytes()
    assert orientation_in(plain) == 1
    broken = encode(seven(), "PNG", 6).replace(b"MM\x00*", b"XX\x00*").replace(b"II*\x00", b"XX*\x00")
    assert orientation_in(broken) == 1


def test_a_32_bit_bmp_with_zero_alpha_is_read_as_opaque():
    bgr = cv2.cvtColor(seven(), cv2.COLOR_GRAY2BGR)
    bgra = np.dstack([bgr, np.zeros(bgr.shape[:2], np.uint8)])
    data = cv2.imencode(".bmp", bgra)[1].tobytes()
    assert imagefile.read_header(data).decoded_bytes == 4 * bgra.shape[0] * bgra.shape[1]
    reference = image_to_input(cv2.imencode(".png", seven())[1].tobytes())
    assert np.allclose(image_to_input(data), reference, atol=0.02)


def test_strip_reduction_matches_a_whole_image_area_resize():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (3000, 1700, 3), dtype=np.uint8)
    ours = imagefile.reduce_to_gray(img)
    factor = -(-3000 // imagefile.WORK_SIDE)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[: 3000 // factor * factor, : 1700 // factor * factor]
    whole = cv2.resize(gray, (gray.shape[1] // factor, gray.shape[0] // factor), interpolation=cv2.INTER_AREA)
    assert ours.shape == whole.shape and np.abs(ours.astype(int) - whole).max() <= 1


@pytest.mark.parametrize("fy,fx", [(1, 1), (2, 2), (3, 1), (1, 125), (22, 22), (257, 2), (7, 3), (7, 8), (300, 9)])
def test_a_block_mean_is_the_mean_of_each_block(fy, fx):
    rng = np.random.default_rng(fy * 1000 + fx)
    plane = rng.integers(0, 256, (fy * 5, fx * 4), dtype=np.uint8)
    plane[: fy * 2] = 255  # whole blocks of the largest value: the sums that need the most bits
    expected = plane.reshape(5, fy, 4, fx).astype(np.float64).mean(axis=(1, 3))
    got = imagefile._block_mean(plane, fy, fx)
    assert got.dtype == np.uint8 and got.shape == (5, 4)
    assert np.abs(got - expected).max() <= 0.5  # rounded to the nearest


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("level,dark", [(127, True), (128, False), (0, True), (255, False)])
def test_ink_is_dark_when_the_opaque_pixels_average_under_128(dtype, level, dark):
    scale = 257 if dtype == np.uint16 else 1
    bgra = np.zeros((300, 290, 4), dtype)  # reduced by 2: the decision is made on the working canvas
    bgra[100:200, 50:250] = np.array([level, level, level, 255], dtype) * scale
    bgra[5, 5, 3] = 3 * scale  # nearly transparent: not counted as ink
    gray = imagefile.reduce_to_gray(bgra)
    assert gray[50, 60] == level and gray[10, 10] == (255 if dark else 0)  # the paper goes behind the ink
    assert imagefile._dark_ink(bgra, *_premultiplied_planes(bgra)) is dark
    assert imagefile._dark_ink_sampled(bgra) is dark  # the full-resolution decision agrees
    bgra[..., :3] = np.random.default_rng(level).integers(0, 256, (300, 290, 3)) * scale
    bgra[..., 3] = 255 * scale  # every pixel opaque: nothing composited
    plain = cv2.cvtColor((bgra >> 8 if scale > 1 else bgra).astype(np.uint8), cv2.COLOR_BGRA2GRAY)
    expected = cv2.resize(plain, (145, 150), interpolation=cv2.INTER_AREA)
    assert np.abs(imagefile.reduce_to_gray(bgra).astype(int) - expected).max() <= 1


def _premultiplied_planes(bgra):
    """The working canvas's premultiplied gray and transparency, the plain way (floats, then one rounding)."""
    b8 = (bgra >> 8).astype(np.uint8) if bgra.dtype == np.uint16 else bgra
    alpha = b8[..., 3].astype(np.float64)
    gray = cv2.cvtColor(b8, cv2.COLOR_BGRA2GRAY).astype(np.float64) * alpha / 255
    half = [
        cv2.resize(p, (p.shape[1] // 2, p.shape[0] // 2), interpolation=cv2.INTER_AREA) for p in (gray, 255 - alpha)
    ]
    return tuple(np.rint(p).astype(np.uint8) for p in half)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("step", [1, 2, 3])
def test_a_pixel_subsample_is_the_strided_slice(dtype, step):
    bgra = np.random.default_rng(step).integers(0, 250, (61, 47, 4)).astype(dtype)
    for image in (bgra, bgra[3:, 5:], bgra[::-1], bgra[:, :, ::-1]):  # contiguous, cropped, flipped, reordered
        got = imagefile._every(image, step)
        assert got.flags.c_contiguous and np.array_equal(got, image[::step, ::step])


@pytest.mark.parametrize("side", [280, 700])
def test_a_thin_half_transparent_stroke_on_faint_paper_is_dark_ink(side):
    """Reduced, no block of it is even half opaque and the paper's faint blocks outnumber it: the
    decision falls back to the image's own pixels, where the stroke is the most opaque."""
    bgra = np.zeros((side, side, 4), np.uint8)
    bgra[:] = (200, 200, 200, 40)
    cv2.line(bgra, (side // 4, side // 4), (3 * side // 4, 3 * side // 4), (30, 30, 30, 200), 1)
    gray = imagefile.reduce_to_gray(bgra)
    assert gray[2, -3] > 200  # the paper composited on white: dark ink


def test_a_faint_light_stroke_on_transparent_still_goes_on_black():
    bgra = np.zeros((280, 280, 4), np.uint8)
    bgra[140, 20:260] = 255  # one white row of pixels: half of a reduced pixel
    gray = imagefile.reduce_to_gray(bgra)
    assert gray[70, 100] >= 120 and gray[10, 10] == 0


@pytest.mark.parametrize(
    "shape", [(280, 280, 4), (300, 290, 4), (1000, 700, 4), (1700, 1300, 4), (9, 2000, 4), (1000, 1000, 3), (450, 400)]
)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_the_working_canvas_is_within_two_levels_of_the_exact_composite(shape, dtype):
    """Reducing in uint8 (OpenCV's area means, premultiplied by OpenCV) against float64 throughout: composite
    every pixel on the paper exactly, then take the mean of each block."""
    rng = np.random.default_rng(shape[0] + shape[1])
    full = 65535 if dtype == np.uint16 else 255
    image = rng.integers(0, full + 1, shape).astype(dtype)
    if len(shape) == 3 and shape[2] == 4:  # a dark drawing, soft edges and a few random pixels on transparent
        image[..., 3] = 0
        image[shape[0] // 3 : shape[0] // 2, :, 3] = rng.integers(
            0, full + 1, (shape[0] // 2 - shape[0] // 3, shape[1])
        )
        image[shape[0] // 3 : shape[0] // 2, :, :3] //= 4
    got = imagefile.reduce_to_gray(image)
    b8 = (image >> 8).astype(np.uint8) if dtype == np.uint16 else image
    if b8.ndim == 2:
        gray, alpha = b8.astype(np.float64), None
    else:
        gray = cv2.cvtColor(b8, cv2.COLOR_BGRA2GRAY if shape[2] == 4 else cv2.COLOR_BGR2GRAY).astype(np.float64)
        alpha = b8[..., 3].astype(np.float64) / 255 if shape[2] == 4 else None
    if alpha is not None:
        gray = gray * alpha + 255 * (1 - alpha)  # dark ink: white paper behind it
    factor = -(-max(shape[:2]) // imagefile.WORK_SIDE)
    fy, fx = min(factor, shape[0]), min(factor, shape[1])
    h, w = shape[0] // fy, shape[1] // fx
    exact = gray[: h * fy, : w * fx].reshape(h, fy, w, fx).mean(axis=(1, 3))
    assert got.shape == (h, w) and np.abs(got - exact).max() <= 2


def test_sixteen_bit_and_alpha_strips_composite_like_the_whole_image():
    rgba = np.zeros((2000, 2000, 4), np.uint16)
    cv2.circle(rgba, (1000, 1000), 600, (0, 0, 0, 65535), 120)  # dark ink on transparent
    data = cv2.imencode(".png", rgba)[1].tobytes()
    gray = imagefile.decode_gray(data)
    assert gray.max() == 255 and gray.min() < 80  # ink on white, not all black


@pytest.mark.parametrize("side", [280, 300, 480, 640, 700, 960, 1200, 1400])
def test_a_black_ink_canvas_is_the_exact_composite_rounded(side):
    """A browser's canvas (black ink, soft edges, on transparent (0,0,0,0)): the working canvas is the
    exact mean of each block of the composite on white, rounded half up, as the float reduction gave;
    only a mean exactly halfway (blocks of 4x4 or 6x6) may round to even instead."""
    bgra = np.zeros((side, side, 4), np.uint8)
    cv2.line(bgra, (side // 4, side // 5), (3 * side // 4, side // 5), (0, 0, 0, 255), side // 14, cv2.LINE_AA)
    cv2.circle(bgra, (side // 2, side // 2), side // 4, (0, 0, 0, 255), 1, cv2.LINE_AA)  # a hairline
    f = -(-side // imagefile.WORK_SIDE)
    n = side // f
    composite = 255.0 - bgra[: n * f, : n * f, 3].astype(np.float64)
    exact = composite.reshape(n, f, n, f).mean(axis=(1, 3))
    got = imagefile.reduce_to_gray(bgra).astype(np.float64)
    off = got != np.floor(exact + 0.5)
    assert np.all(exact[off] % 1 == 0.5) and np.all(got[off] == np.rint(exact[off]))
    if f == 2 or f % 2:  # the browser's 280 x 280 canvas (and any up to 320): no mean rounds otherwise
        assert not off.any()
