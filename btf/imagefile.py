"""Read an image file into a small grayscale working canvas, at a cost bounded before any pixel is decoded.

- The header alone gives the format, the size and the bytes per decoded pixel, so an image
  whose *decoded* size (not just its pixel count) is over the budget is refused first.
- The decoded image is reduced to at most ``WORK_SIDE`` pixels a side in row strips, so
  every later step (compositing transparency, 16-bit to 8-bit, grayscale) touches a bounded
  amount of memory on top of the decode itself.
- EXIF orientation is applied for JPEG (by OpenCV), PNG (``eXIf``) and WebP (``EXIF``; btf.exif).

Needs OpenCV. Limits: PNG, JPEG, BMP and WebP only; one frame (the first) of an animation.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np

from btf.errors import BtfError
from btf.exif import exif_orientation, orient

DEFAULT_MAX_PIXELS = 25_000_000
# The decoded-bytes budget is this many bytes per allowed pixel: 25 megapixels of 8-bit RGBA.
BYTES_PER_PIXEL_BUDGET = 4
# Every image is reduced to at most this many pixels a side before any analysis: the digit ends
# up 20 px tall, so ~8x oversampling is plenty for cropping and stroke analysis.
WORK_SIDE = 160
# Rows are converted and reduced this many pixels at a time, bounding the temporaries.
_STRIP_PIXELS = 1 << 20
# Enough pixels to tell dark ink from light, few enough to gather in well under a millisecond.
_SAMPLE_PIXELS = 1 << 16


class ImageError(BtfError, ValueError):
    """An image that cannot become network input; ``code`` names the kind of problem."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Header:
    format: str
    width: int
    height: int
    bytes_per_pixel: int  # of the decoded image, before any conversion


def read_header(data: bytes) -> Header:
    """Format, size and decoded bytes per pixel from the header alone, without decoding any pixels."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            if data[12:16] != b"IHDR":
                raise ImageError("corrupt_image", "PNG header is damaged (no IHDR chunk)")
            width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
            channels = {0: 1, 2: 3, 3: 4, 4: 4, 6: 4}.get(colour, 4)  # OpenCV expands gray+alpha and palettes
            return Header("png", width, height, channels * (2 if depth == 16 else 1))
        if data[:3] == b"\xff\xd8\xff":
            return Header("jpeg", *_jpeg_size(data), 1)  # decoded straight to (reduced) grayscale
        if data[:2] == b"BM":
            (header,) = struct.unpack("<I", data[14:18])
            if header == 12:
                width, height, _, bits = struct.unpack("<HHHH", data[18:26])
            else:
                width, height, _, bits = struct.unpack("<iiHH", data[18:30])
            return Header("bmp", abs(width), abs(height), 4 if bits == 32 else 3)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return Header("webp", *_webp_size(data), 4)
    except struct.error:
        raise ImageError("corrupt_image", "image header is truncated") from None
    if not data:
        raise ImageError("corrupt_image", "the image is empty")
    raise ImageError("unsupported_format", "unsupported image format: send PNG, JPEG, BMP or WebP")


def image_size(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) from the header alone."""
    header = read_header(data)
    return header.format, header.width, header.height


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ImageError("corrupt_image", "JPEG header is damaged")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD9)):
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        if length < 2:
            raise ImageError("corrupt_image", "JPEG header is damaged")
        i += 2 + length
    raise ImageError("corrupt_image", "JPEG has no frame header (truncated or corrupt)")


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        (bits,) = struct.unpack("<I", data[21:25])
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8X":
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    raise ImageError("corrupt_image", "WebP header is damaged")


def check_budget(header: Header, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Refuse an empty image, or one whose pixel count or decoded bytes are over the budget."""
    w, h = header.width, header.height
    if w == 0 or h == 0:
        raise ImageError("corrupt_image", f"image header gives an empty size {w}x{h}")
    if w * h > max_pixels:
        raise ImageError("image_too_large", f"image is {w}x{h} = {w * h:,} pixels; the limit is {max_pixels:,}")
    decoded, budget = w * h * header.bytes_per_pixel, max_pixels * BYTES_PER_PIXEL_BUDGET
    if decoded > budget:
        raise ImageError(
            "image_too_large",
            f"image is {w}x{h} at {header.bytes_per_pixel} bytes a pixel = {decoded / 1e6:.0f} MB decoded; "
            f"the limit is {budget / 1e6:.0f} MB (send 8-bit or smaller images)",
        )


def decode(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, side: int = WORK_SIDE) -> tuple[Header, np.ndarray]:
    """The header and OpenCV's decoded pixels, after the budget check; the only step that costs the image's full size.

    ``side`` is the working canvas the pixels are for: a large JPEG decodes reduced, but never below it.
    """
    header = read_header(data)
    check_budget(header, max_pixels)
    buffer = np.frombuffer(data, dtype=np.uint8)
    if header.format == "jpeg":
        # JPEG has no alpha; the grayscale path also applies EXIF rotation and converts CMYK.
        # Large photos decode at 1/2..1/8 scale straight away, which is much faster.
        reduce = {
            8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
            4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
            2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
        }
        factor = next((f for f in (8, 4, 2) if min(header.width, header.height) // f >= side), 1)
        image = cv2.imdecode(buffer, reduce.get(factor, cv2.IMREAD_GRAYSCALE))
    else:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ImageError("corrupt_image", f"could not decode the {header.format.upper()} image (truncated or corrupt)")
    if image.dtype not in (np.uint8, np.uint16) or image.ndim not in (2, 3) or image.ndim == 3 and image.shape[2] > 4:
        raise ImageError("unsupported_format", f"unsupported pixel layout {image.dtype} {image.shape[2:]}")
    return header, image


def working_gray(header: Header, image: np.ndarray, data: bytes, side: int = WORK_SIDE) -> np.ndarray:
    """Decoded pixels -> the upright uint8 gray working canvas, at most ``side`` a side."""
    if image.ndim == 3 and image.shape[2] == 4 and header.format == "bmp" and not image[:, :, 3].any():
        image = image[:, :, :3]  # a 32-bit BMP whose fourth byte is unused padding, not transparency
    gray = reduce_to_gray(image, side)
    if header.format in ("png", "webp"):
        gray = orient(gray, exif_orientation(data, header.format))
    return gray


def decode_gray(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, side: int = WORK_SIDE) -> np.ndarray:
    """Decode to one uint8 channel of at most ``side`` a side, transparency composited so the ink stays visible."""
    return working_gray(*decode(data, max_pixels, side), data, side)


def reduce_to_gray(image: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    """Any decoded image (gray, BGR or BGRA; 8 or 16 bit) -> uint8 gray of at most ``side`` a side.

    Reduces by an integer factor per axis (the mean of each block), a strip of rows at a
    time; an axis shorter than the factor collapses to one pixel, so a 1 x 20,000 sliver costs
    no more than a square. Transparency is composited after reducing, which is exact because
    the average is linear: reduce the premultiplied gray and the alpha, then add the background.
    """
    h, w = image.shape[:2]
    factor = -(-max(h, w) // side)
    fy, fx = min(factor, h), min(factor, w)
    h, w = h // fy * fy, w // fx * fx
    alpha = image.ndim == 3 and image.shape[2] == 4
    dark_ink = _dark_ink(image) if alpha else None
    out = np.empty((h // fy, w // fx), np.float32)
    out_alpha = np.empty_like(out) if dark_ink is not None else None
    step = max(1, _STRIP_PIXELS // max(w, 1) // fy) * fy
    for top in range(0, h, step):
        strip = _to8(image[top : min(top + step, h), :w])  # a view: OpenCV reads strided rows as they are
        rows = slice(top // fy, (top + strip.shape[0]) // fy)
        planes = _planes(strip, premultiply=dark_ink is not None)
        targets = (out,) if out_alpha is None else (out, out_alpha)
        for plane, target in zip(planes, targets):
            target[rows] = _block_mean(plane, fy, fx)
    if out_alpha is not None:
        # composite = premultiplied ink + background * (1 - alpha); dark ink goes on white, light on black.
        out += (255.0 if dark_ink else 0.0) * (1.0 - out_alpha / 255.0)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _planes(strip: np.ndarray, premultiply: bool) -> tuple[np.ndarray, ...]:
    """A uint8 strip -> (gray,) or, for transparency to composite, (gray * alpha / 255, alpha)."""
    if strip.ndim == 2:
        return (strip,)
    if strip.shape[2] == 1:
        return (strip[:, :, 0],)
    if strip.shape[2] == 3:
        return (cv2.cvtColor(strip, cv2.COLOR_BGR2GRAY),)
    gray = cv2.cvtColor(strip, cv2.COLOR_BGRA2GRAY)
    if not premultiply:
        return (gray,)
    alpha = cv2.extractChannel(strip, 3)
    # (Array-with-array calls only: OpenCV reads a bare scalar as a 4-vector on tiny images.)
    return cv2.multiply(gray, alpha, scale=1 / 255), alpha


def _block_mean(plane: np.ndarray, fy: int, fx: int) -> np.ndarray:
    """The mean of each fy x fx block of a uint8 plane, as float32: two integer sums, no per-pixel floats."""
    if fy == fx == 1:
        return plane.astype(np.float32)
    h, w = plane.shape
    rows = plane.reshape(h // fy, fy, w).sum(axis=1, dtype=np.uint16 if fy <= 257 else np.uint32)
    blocks = rows.reshape(h // fy, w // fx, fx).sum(axis=2, dtype=np.uint32 if fy * fx <= 16_843_009 else np.uint64)
    return blocks.astype(np.float32) * np.float32(1.0 / (fy * fx))


def _dark_ink(bgra: np.ndarray) -> bool | None:
    """Whether the visible (opaque) pixels are dark, from a subsample; None if every pixel is opaque.

    A canvas ``toDataURL()`` is ink on fully transparent pixels whose colour is (0,0,0): plain
    grayscale would make the whole image black. Dark ink goes on white, light ink on black.
    """
    step = max(1, int((bgra.shape[0] * bgra.shape[1] / _SAMPLE_PIXELS) ** 0.5))
    sample = np.ascontiguousarray(bgra[::step, ::step])
    alpha = sample[:, :, 3]
    full = 65535 if bgra.dtype == np.uint16 else 255
    if alpha.min() == full and bgra[:, :, 3].min() == full:
        return None
    opaque = alpha > (alpha.max() // 2 if alpha.max() > full // 2 else 0)
    gray = cv2.cvtColor(_to8(sample), cv2.COLOR_BGRA2GRAY)
    return float(gray[opaque].mean()) < 128 if opaque.any() else True


def _to8(strip: np.ndarray) -> np.ndarray:
    return (strip >> 8).astype(np.uint8) if strip.dtype == np.uint16 else strip
