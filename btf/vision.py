"""Turn any digit image a user sends (canvas PNG, phone photo, MNIST 28x28) into a 784-vector like MNIST's.

Steps: check the header's pixel count before decoding; decode with OpenCV, aware of alpha
and 16-bit; make the ink white on black; flatten uneven lighting in photos; drop faint
noise and specks; crop to the ink; scale the longest side to 20 px; paste into 28x28
centred by centre of mass (how MNIST itself was made); scale to [0, 1].

Needs OpenCV (opencv-python-headless), which is why ``import btf`` does not import this.
Limits: one digit per image; PNG, JPEG, BMP and WebP only; the digit must contrast with
a roughly uniform background.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from btf.errors import BtfError

DEFAULT_MAX_PIXELS = 25_000_000
# Bigger images are shrunk by an integer factor to at most this: the digit ends up 20 px tall,
# so ~8x oversampling is plenty for cropping and stroke analysis, and later steps see few pixels.
_WORK_SIDE = 160
_CENTRE = 14.0
# MNIST's strokes, measured the same way at 20 px scale: median 2.4 px, 10-90% 2.1-3.2 px.
_STROKE, _STROKE_LOW, _STROKE_HIGH = 2.4, 1.5, 4.0


class ImageError(BtfError, ValueError):
    """An image that cannot become network input; ``code`` names the kind of problem."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def image_size(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) from the header alone, without decoding any pixels."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            if data[12:16] != b"IHDR":
                raise ImageError("corrupt_image", "PNG header is damaged (no IHDR chunk)")
            width, height = struct.unpack(">II", data[16:24])
            return "png", width, height
        if data[:3] == b"\xff\xd8\xff":
            return ("jpeg", *_jpeg_size(data))
        if data[:2] == b"BM":
            (header,) = struct.unpack("<I", data[14:18])
            if header == 12:
                width, height = struct.unpack("<HH", data[18:22])
            else:
                width, height = struct.unpack("<ii", data[18:26])
            return "bmp", abs(width), abs(height)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return ("webp", *_webp_size(data))
    except struct.error:
        raise ImageError("corrupt_image", "image header is truncated") from None
    if not data:
        raise ImageError("corrupt_image", "the image is empty")
    raise ImageError("unsupported_format", "unsupported image format: send PNG, JPEG, BMP or WebP")


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


def decode_gray(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode to one uint8 channel, compositing any transparency so the ink stays visible."""
    fmt, width, height = image_size(data)
    if width == 0 or height == 0:
        raise ImageError("corrupt_image", f"image header gives an empty size {width}x{height}")
    if width * height > max_pixels:
        raise ImageError(
            "image_too_large", f"image is {width}x{height} = {width * height:,} pixels; the limit is {max_pixels:,}"
        )
    buffer = np.frombuffer(data, dtype=np.uint8)
    if fmt == "jpeg":
        # JPEG has no alpha; the grayscale path also applies EXIF rotation and converts CMYK.
        # Large photos decode at 1/2..1/8 scale straight away, which is much faster.
        reduce = {
            8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
            4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
            2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
        }
        factor = next((f for f in (8, 4, 2) if min(width, height) // f >= _WORK_SIDE), 1)
        image = cv2.imdecode(buffer, reduce.get(factor, cv2.IMREAD_GRAYSCALE))
    else:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ImageError("corrupt_image", f"could not decode the {fmt.upper()} image (truncated or corrupt)")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ImageError("unsupported_format", f"unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return _composite(image)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _composite(bgra: np.ndarray) -> np.ndarray:
    """Flatten BGRA onto a background that contrasts with the ink.

    A canvas ``toDataURL()`` is ink on fully transparent pixels whose colour is (0,0,0):
    plain grayscale would make the whole image black. Put the ink on white if it is dark,
    on black if it is light, so the polarity step sees a real contrast either way.
    """
    alpha = np.ascontiguousarray(bgra[:, :, 3])
    gray = cv2.cvtColor(bgra, cv2.COLOR_BGRA2GRAY)
    opaque = alpha > 127
    if not opaque.any():
        opaque = alpha > 0
    if opaque.all():
        return gray
    ink_level = float(gray[opaque].mean()) if opaque.any() else 0.0
    # gray*a + background*(1-a), a = alpha/255, in OpenCV's saturating uint8 arithmetic.
    # (Array-with-array calls only: OpenCV reads a bare scalar as a 4-vector on tiny images.)
    if ink_level < 128:
        return 255 - cv2.multiply(255 - gray, alpha, scale=1 / 255)
    return cv2.multiply(gray, alpha, scale=1 / 255)


def to_input(gray: np.ndarray) -> np.ndarray:
    """A grayscale digit image of any size -> float32 (784,) in [0, 1], white ink on black."""
    factor = -(-max(gray.shape) // _WORK_SIDE)
    if factor > 1 and min(gray.shape) >= factor:
        # An integer factor on a size divisible by it takes OpenCV's fast area path (~60x faster).
        h, w = gray.shape[0] // factor * factor, gray.shape[1] // factor * factor
        gray = cv2.resize(gray[:h, :w], (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    border = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    level = int(np.median(border))
    if level > 127:
        gray, border, level = 255 - gray, 255 - border, 255 - level
    ink = _flatten_background(gray, border, level)
    peak = int(ink.max())
    if peak < 40:
        raise ImageError("no_digit", "no digit found: the image is blank or has too little contrast")
    # Otsu separates ink from what is left of the background; half of it is the noise floor.
    otsu, _ = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink[ink < otsu * 0.5] = 0
    box = _ink_box(ink, otsu)
    if box is None:
        raise ImageError("no_digit", "no digit found: the image is blank or has too little contrast")
    ink, box = _normalise_stroke(ink, otsu, box)
    x, y, w, h = box
    digit = ink[y : y + h, x : x + w].astype(np.float32)
    digit *= 255.0 / max(float(np.percentile(digit[digit > 0], 99)), 1.0)
    np.minimum(digit, 255.0, out=digit)
    scale = 20.0 / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size != (w, h):
        digit = cv2.resize(digit, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return _centre(digit)


def _flatten_background(gray: np.ndarray, border: np.ndarray, level: int) -> np.ndarray:
    """Ink minus background. Photos get a smooth background model to cancel uneven light."""
    if gray.shape[0] >= 64 and gray.shape[1] >= 64 and float(np.std(border)) > 12:
        small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA)
        # Ink is bright now, so a median over a wide window estimates the paper under it.
        background = cv2.resize(cv2.medianBlur(small, 9), gray.shape[::-1], interpolation=cv2.INTER_LINEAR)
        return cv2.subtract(gray, background)
    return cv2.subtract(gray, np.full_like(gray, level)) if level else gray


def _ink_box(ink: np.ndarray, otsu: float) -> tuple[int, int, int, int] | None:
    """Bounding box of the ink, ignoring specks much smaller than the largest stroke."""
    mask = (ink >= max(otsu, 1)).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return None
    areas = stats[1:, cv2.CC_STAT_AREA]
    if areas.max() < 3:  # a few stray pixels are noise, not a digit
        return None
    keep = stats[1:][areas >= areas.max() * 0.05]
    x0, y0 = keep[:, 0].min(), keep[:, 1].min()
    x1 = (keep[:, 0] + keep[:, 2]).max()
    y1 = (keep[:, 1] + keep[:, 3]).max()
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def _normalise_stroke(ink: np.ndarray, otsu: float, box: tuple[int, int, int, int]):
    """Thicken hairlines and thin marker strokes towards MNIST's stroke width.

    A thin pen on a big canvas, scaled down to 20 px, leaves a faint sub-pixel trace the
    network has never seen (accuracy on such drawings drops by 10 points). Width is
    estimated as 2*area/perimeter of the ink mask, which is exact for long strokes.
    """
    x, y, w, h = box
    mask = (ink[y : y + h, x : x + w] >= max(otsu, 1)).astype(np.uint8)
    edge = int((mask & (1 - cv2.erode(mask, np.ones((3, 3), np.uint8)))).sum())
    scale = 20.0 / max(w, h)
    width = 2.0 * int(mask.sum()) / max(edge, 1) * scale
    if _STROKE_LOW <= width <= _STROKE_HIGH:
        return ink, box
    size = int(round(abs(_STROKE - width) / scale)) + 1
    if size < 2:
        return ink, box
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    adjusted = cv2.dilate(ink, kernel) if width < _STROKE_LOW else cv2.erode(ink, kernel)
    new_box = _ink_box(adjusted, otsu)
    return (adjusted, new_box) if new_box is not None else (ink, box)


def _centre(digit: np.ndarray) -> np.ndarray:
    """Paste into 28x28 so the centre of mass lands on the centre, as MNIST did."""
    h, w = digit.shape
    total = float(digit.sum())
    ys, xs = np.indices(digit.shape)
    cy = float((ys * digit).sum() / total) if total else h / 2
    cx = float((xs * digit).sum() / total) if total else w / 2
    top = int(np.clip(round(_CENTRE - cy), 0, 28 - h))
    left = int(np.clip(round(_CENTRE - cx), 0, 28 - w))
    out = np.zeros((28, 28), dtype=np.float32)
    out[top : top + h, left : left + w] = digit
    out *= 1.0 / 255.0
    np.clip(out, 0.0, 1.0, out=out)  # interpolation can overshoot by an ulp
    return out.ravel()


def image_to_input(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Image file bytes -> float32 (784,) network input; raises ImageError with a code."""
    return to_input(decode_gray(data, max_pixels))
