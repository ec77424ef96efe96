"""btf.images.imageheader: a request's decode cost, priced from capped header walks before any decoder runs (issue 17 §3).

Every refusal here happens with ``cv2.imdecode`` replaced by a failure, so it is proven to
come from the header. Time is measured in benchmarks/bench_preprocess.py, never asserted.
"""

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from btf.images import imagefile, imageheader
from btf.images.imageheader import MAX_SCANS, MAX_WALK_STEPS, ImageError, check_budget, read_header, read_headers
from btf.images.vision import image_to_input
from tests.support.images import canvas_png, draw_seven, encode, more_scans, wide_bmp, with_chunks, with_markers

LIMIT = imageheader.DEFAULT_MAX_PIXELS


@pytest.fixture
def no_decoding(monkeypatch):
    monkeypatch.setattr(cv2, "imdecode", lambda *a: pytest.fail("decoded an image the header should have refused"))


def refused(images, code="image_too_large", max_pixels=LIMIT) -> str:
    with pytest.raises(ImageError) as err:
        check_budget(read_headers(images), max_pixels)
    assert err.value.code == code
    return str(err.value)


def png_header(width: int, height: int, depth: int = 8, colour: int = 6) -> bytes:
    body = b"IHDR" + struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + body + struct.pack(">I", zlib.crc32(body))


def webp_header(width: int, height: int, lossy: bool) -> bytes:
    if lossy:
        chunk = b"VP8 " + struct.pack("<I", 10) + b"\0\0\0\x9d\x01\x2a" + struct.pack("<HH", width, height)
    else:
        bits = (width - 1) | (height - 1) << 14
        chunk = b"VP8L" + struct.pack("<I", 5) + b"\x2f" + struct.pack("<I", bits) + b"\0"
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


# ------------------------------------------------------------------ the images, refused up front
@pytest.mark.parametrize(
    "data",
    [
        png_header(5000, 5000),  # 25 MP RGBA: 354 ms and +195 MiB per image before
        png_header(5000, 5000, colour=3),  # palette: 154 ms, +149 MiB
        png_header(4000, 2000, depth=16, colour=6),  # 16-bit: 184 ms, +99 MiB
        webp_header(16383, 1525, lossy=True),  # lossy WebP: 199 ms, +148 MiB
    ],
    ids=["rgba-25mp", "palette-25mp", "16-bit", "webp-16383x1525"],
)
def test_the_reported_images_are_refused_from_the_header(data, no_decoding):
    refused([data + b"\0" * 100])


def test_a_phone_photo_fits_and_decodes_reduced():
    photo = np.full((3024, 4032, 3), 200, np.uint8)
    cv2.putText(photo, "3", (1500, 2500), cv2.FONT_HERSHEY_SIMPLEX, 60, (40, 40, 40), 120)
    data = encode(photo, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 92])
    header = read_header(data)
    check_budget(header)
    assert header.reduce == 8 and header.decoded_bytes < 200_000  # 504x378 gray, not 36 MB of BGR
    progressive = read_header(encode(photo, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 92, cv2.IMWRITE_JPEG_PROGRESSIVE, 1]))
    check_budget(progressive)  # a progressive one too, though it holds every block's coefficients
    assert progressive.decoded_bytes > 100 * header.decoded_bytes


def test_a_batch_shares_one_budget():
    one = png_header(2000, 2000) + b"\0" * 100  # 4 MP of RGBA, 16 MB: fine alone
    check_budget(read_headers([one]))
    message = refused([one] * 3)  # 12 MP, but 48 MB to decode
    assert "the 3 images are" in message and "per request" in message
    message = refused([png_header(3000, 1000, colour=0)] * 5)  # 15 MP of gray: 15 MB, but too many pixels
    assert "15,000,000 pixels" in message


def test_lossy_webp_and_progressive_jpeg_are_priced_by_their_entropy_work():
    noise = np.random.default_rng(0).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    lossy = read_header(encode(noise, ".webp", [cv2.IMWRITE_WEBP_QUALITY, 100]))
    lossless = read_header(encode(noise, ".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]))
    assert lossy.decoded_bytes == lossless.decoded_bytes and lossy.work > 5 * lossless.decoded_bytes
    baseline = read_header(encode(noise, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 100]))
    progressive = read_header(encode(noise, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 100, cv2.IMWRITE_JPEG_PROGRESSIVE, 1]))
    assert progressive.work > 2 * baseline.work


# ------------------------------------------------------------------ capped walks
def small_jpeg(progressive: bool = False) -> bytes:
    return encode(draw_seven(size=200)[:, :, 3], ".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)])


@pytest.mark.parametrize(
    "hostile",
    [
        lambda: with_markers(small_jpeg(), MAX_WALK_STEPS + 1),
        lambda: small_jpeg()[:2] + b"\xff" * (MAX_WALK_STEPS + 2) + small_jpeg()[2:],  # fill bytes
        lambda: with_chunks(canvas_png(), MAX_WALK_STEPS + 1),
        lambda: webp_with_chunks(MAX_WALK_STEPS + 1),
        lambda: more_scans(small_jpeg(progressive=True), MAX_SCANS + 1),
    ],
    ids=["jpeg-com-markers", "jpeg-fill-bytes", "png-chunks", "webp-chunks", "jpeg-scans"],
)
def test_every_header_walk_is_capped(hostile, no_decoding):
    data = hostile()
    assert "no real" in refused([data])


def webp_with_chunks(count: int) -> bytes:
    data = encode(draw_seven(size=64), ".webp", [cv2.IMWRITE_WEBP_QUALITY, 101])
    extra = b"XTRA" + struct.pack("<I", 0)
    body = data[12:] + extra * count
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def test_the_walk_cap_is_per_request_and_real_files_are_far_below_it():
    half = with_markers(small_jpeg(), MAX_WALK_STEPS // 2 + 10)
    assert image_to_input(half).shape == (784,)  # a few thousand markers alone are decoded
    refused([half, half])  # two of them in one request are not
    assert image_to_input(more_scans(small_jpeg(progressive=True), MAX_SCANS)).shape == (784,)


@pytest.mark.parametrize(
    "frame, code",
    [
        (b"\xff\xc9", "unsupported_format"),  # arithmetic coding
        (b"\xff\xc3", "unsupported_format"),  # lossless
        (b"\xff\xc5", "unsupported_format"),  # hierarchical
    ],
)
def test_jpeg_codings_browsers_do_not_decode_are_refused(frame, code, no_decoding):
    data = small_jpeg().replace(b"\xff\xc0", frame, 1)
    refused([data], code)


def test_twelve_bit_jpeg_and_two_frame_headers_are_refused(no_decoding):
    data = small_jpeg()
    at = data.index(b"\xff\xc0")
    refused([data[: at + 4] + b"\x0c" + data[at + 5 :]], "unsupported_format")
    frame = data[at : at + 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]]
    refused([data[:at] + frame + data[at:]], "corrupt_image")


def test_a_side_past_the_decoders_limit_is_refused_from_the_header(no_decoding):
    assert "65,535" in refused([wide_bmp(2_000_000)])  # the 1 KB BMP that was a 500
    refused([png_header(1, 70_000, colour=0)])


def test_exif_is_found_by_the_same_walk():
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(draw_seven(size=60)[:, :, 3]).save(out, "PNG", exif=exif.tobytes())
    header = read_header(out.getvalue())
    assert header.exif is not None and out.getvalue()[header.exif[0] : header.exif[1]].startswith((b"MM", b"II"))


# ------------------------------------------------------------------ every decoder exception is an ImageError
@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp"])
def test_a_decoder_exception_is_an_image_error_for_every_format(ext, monkeypatch):
    def broken(*args):
        raise cv2.error("OpenCV(5.0.0) grfmt: error: (-2:Unspecified error) codec gave up")

    monkeypatch.setattr(cv2, "imdecode", broken)
    with pytest.raises(ImageError) as err:
        image_to_input(encode(draw_seven(size=64)[:, :, :3], ext))
    assert err.value.code == "corrupt_image"


def test_opencvs_own_size_limit_is_image_too_large(monkeypatch):
    monkeypatch.setattr(imageheader, "MAX_SIDE", 10_000_000)  # let the header pass, so OpenCV itself refuses
    with pytest.raises(ImageError) as err:
        imagefile.decode_gray(wide_bmp(2_000_000))
    assert err.value.code == "image_too_large"


def test_an_exception_after_decoding_is_an_image_error(monkeypatch):
    def broken(*args, **kwargs):
        raise cv2.error("unexpected")

    monkeypatch.setattr(imagefile.cv2, "cvtColor", broken)
    with pytest.raises(ImageError) as err:
        image_to_input(canvas_png())
    assert err.value.code == "corrupt_image"
