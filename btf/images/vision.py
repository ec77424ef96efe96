"""Turn any digit image a user sends (canvas PNG, phone photo, MNIST 28x28) into a 784-vector like MNIST's.

Steps: check the header's pixel count and decode cost before decoding; decode with OpenCV,
aware of alpha, 16-bit and EXIF orientation, straight onto a working canvas of at most 160 px
a side (``btf.images.imagefile``), so every later step costs bounded time and memory; make the ink
white on black; flatten uneven lighting in photos; drop faint
noise and specks; crop to the ink; scale the longest side to 20 px; paste into 28x28
centred by centre of mass (how MNIST itself was made); scale to [0, 1].

Needs OpenCV (opencv-python-headless), which is why ``import btf`` does not import this.
Limits: one digit per image; PNG, JPEG, BMP and WebP only; the digit must contrast with
a roughly uniform background.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from btf.images.imagefile import (
    DEFAULT_MAX_PIXELS,
    WORK_SIDE,
    Header,
    ImageError,
    check_budget,
    decode_gray,
    image_size,
    read_headers,
    reduce_to_gray,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageError",
    "check_budget",
    "decode_gray",
    "image_size",
    "image_to_input",
    "ink_layer",
    "read_headers",
    "to_input",
]
_CENTRE = 14.0
# MNIST's strokes, measured the same way at 20 px scale: median 2.4 px, 10-90% 2.1-3.2 px.
_STROKE, _STROKE_LOW, _STROKE_HIGH = 2.4, 1.5, 4.0
# No structuring element is ever larger than this: on the bounded working canvas it is a
# quarter of the side, enough to thin any real marker stroke to MNIST's width.
_MAX_KERNEL = WORK_SIDE // 4 + 1
_SQUARE = np.ones((3, 3), np.uint8)


def to_input(gray: np.ndarray) -> np.ndarray:
    """A grayscale digit image of any size -> float32 (784,) in [0, 1], white ink on black."""
    if max(gray.shape) > WORK_SIDE:
        gray = reduce_to_gray(gray)
    ink, otsu = ink_layer(gray)
    box = _ink_box(ink, otsu)
    if box is None:
        raise ImageError("no_digit", "no digit found: the image is blank or has too little contrast")
    ink, box = _normalise_stroke(ink, otsu, box)
    x, y, w, h = box
    digit = ink[y : y + h, x : x + w].astype(np.float32)
    digit *= 255.0 / max(_percentile(digit[digit > 0], 99), 1.0)
    np.minimum(digit, 255.0, out=digit)
    scale = 20.0 / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size != (w, h):
        digit = cv2.resize(digit, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return _centre(digit)


def ink_layer(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """A grayscale image -> (uint8 ink, white on black with faint noise zeroed; Otsu's ink threshold).

    Dark ink on light paper is inverted (the border's median says which is which) and uneven
    lighting flattened; raises ImageError ``no_digit`` when nothing contrasts with the paper.
    """
    border = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    level = _median(border)
    if level > 127:
        gray, border, level = 255 - gray, 255 - border, 255 - level
    ink = _flatten_background(gray, border, level)
    if cv2.minMaxLoc(ink)[1] < 40:
        raise ImageError("no_digit", "no digit found: the image is blank or has too little contrast")
    # Otsu separates ink from what is left of the background; half of it is the noise floor.
    otsu, _ = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    cv2.threshold(ink, _below(otsu * 0.5), 0, cv2.THRESH_TOZERO, dst=ink)  # zero every value under it
    return ink, float(otsu)


def _below(threshold: float) -> int:
    """The integer t such that, for whole numbers v, v > t exactly when v >= threshold (OpenCV's test is v > t)."""
    return math.ceil(threshold) - 1


def _median(values: np.ndarray) -> int:
    """``int(np.median(values))`` of a non-empty uint8 array, from one partial sort."""
    half = len(values) // 2
    if len(values) % 2:
        return int(np.partition(values, half)[half])
    part = np.partition(values, [half - 1, half])
    return (int(part[half - 1]) + int(part[half])) // 2


def _flatten_background(gray: np.ndarray, border: np.ndarray, level: int) -> np.ndarray:
    """Ink minus background. Photos get a smooth background model to cancel uneven light."""
    if gray.shape[0] >= 64 and gray.shape[1] >= 64 and _variance_over(border, 12 * 12):
        small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA)
        # Ink is bright now, so a median over a wide window estimates the paper under it.
        background = cv2.resize(cv2.medianBlur(small, 9), gray.shape[::-1], interpolation=cv2.INTER_LINEAR)
        return cv2.subtract(gray, background)
    return cv2.subtract(gray, np.full_like(gray, level)) if level else gray


def _variance_over(values: np.ndarray, limit: int) -> bool:
    """Whether the variance of whole numbers is over a whole ``limit``, in exact integer arithmetic:
    n * sum(v^2) - sum(v)^2 > limit * n^2 (``np.std`` rounds)."""
    n, v = len(values), values.astype(np.int64)
    total = int(v.sum())
    return n * int(v @ v) - total * total > limit * n * n


def _ink_box(ink: np.ndarray, otsu: float) -> tuple[int, int, int, int] | None:
    """Bounding box of the ink, ignoring specks much smaller than the largest stroke."""
    mask = _mask(ink, otsu)
    # 16-bit labels: the canvas is at most WORK_SIDE a side, so it has at most (WORK_SIDE / 2)^2 = 6,400
    # components, and OpenCV labels in 16 bits in a third of the time it takes in 32.
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8, ltype=cv2.CV_16U)
    if count <= 1:
        return None
    areas = stats[1:, cv2.CC_STAT_AREA]
    largest = int(areas.max())
    if largest < 3:  # a few stray pixels are noise, not a digit
        return None
    keep = stats[1:][areas >= largest * 0.05]
    x0, y0 = keep[:, :2].min(axis=0).tolist()
    x1, y1 = (keep[:, :2] + keep[:, 2:4]).max(axis=0).tolist()
    return x0, y0, x1 - x0, y1 - y0


def _mask(ink: np.ndarray, otsu: float) -> np.ndarray:
    """1 where ``ink >= max(otsu, 1)``, else 0 (uint8), in one OpenCV pass."""
    return cv2.threshold(ink, _below(max(otsu, 1)), 1, cv2.THRESH_BINARY)[1]


def _normalise_stroke(ink: np.ndarray, otsu: float, box: tuple[int, int, int, int]):
    """Thicken hairlines and thin marker strokes towards MNIST's stroke width.

    A thin pen on a big canvas, scaled down to 20 px, leaves a faint sub-pixel trace the
    network has never seen (accuracy on such drawings drops by 10 points). Width is
    estimated from the area and perimeter of the ink mask, exact for a rectangular stroke.
    """
    x, y, w, h = box
    # Padded with background, so ink flush with the box edge still counts as edge.
    mask = cv2.copyMakeBorder(_mask(ink[y : y + h, x : x + w], otsu), 1, 1, 1, 1, cv2.BORDER_CONSTANT)
    # The edge is the ink that erosion removes (erosion by a 3x3 square keeps nothing outside the mask).
    area = cv2.countNonZero(mask)
    edge = area - cv2.countNonZero(cv2.erode(mask, _SQUARE))
    scale = 20.0 / max(w, h)
    # A stroke of width t and length L has area tL and perimeter 2(L + t): solve for t.
    half = max(edge, 1) / 4
    width = (half - max(half * half - area, 0.0) ** 0.5) * scale
    if _STROKE_LOW <= width <= _STROKE_HIGH:
        return ink, box
    size = min(int(round(abs(_STROKE - width) / scale)) + 1, _MAX_KERNEL, max(w, h) // 2 + 1)
    if size < 2:
        return ink, box
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    adjusted = cv2.dilate(ink, kernel) if width < _STROKE_LOW else cv2.erode(ink, kernel)
    new_box = _ink_box(adjusted, otsu)
    return (adjusted, new_box) if new_box is not None else (ink, box)


def _percentile(values: np.ndarray, q: float) -> float:
    """``np.percentile(values, q)`` of a non-empty 1-D array, the same number (its default, linear method,
    with its rounding), from one partial sort: a tenth of the time its general machinery takes."""
    share = q / 100
    pos = len(values) * share + (1 - share) - 1  # numpy's own arithmetic for the index: the same rounding
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    part = np.partition(values, [lo, hi] if hi != lo else lo)
    a, b, t = part[lo], part[hi], pos - lo
    return float(b - (b - a) * (1 - t)) if t >= 0.5 else float(a + (b - a) * t)


def _centre(digit: np.ndarray) -> np.ndarray:
    """Paste into 28x28 so the centre of mass lands on the centre, as MNIST did."""
    h, w = digit.shape
    out = np.zeros((28, 28), dtype=np.float32)
    out[:h, :w] = digit
    # OpenCV's moments, in double precision, of the digit pasted at the corner: a 28x28 image, never
    # read as a list of points (as an N x 2 digit would be). The total stays numpy's float32 sum, as
    # it always was: a centre of mass on a half pixel rounds the same way, so every reading stays.
    moments = cv2.moments(out)
    total = float(digit.sum())
    cy = moments["m01"] / total if total else h / 2
    cx = moments["m10"] / total if total else w / 2
    top = min(max(round(_CENTRE - cy), 0), 28 - h)  # (np.clip takes microseconds on a scalar)
    left = min(max(round(_CENTRE - cx), 0), 28 - w)
    if top or left:
        out[:h, :w] = 0
        out[top : top + h, left : left + w] = digit
    out *= 1.0 / 255.0
    np.clip(out, 0.0, 1.0, out=out)  # interpolation can overshoot by an ulp
    return out.ravel()


def image_to_input(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, header: Header | None = None) -> np.ndarray:
    """Image file bytes -> float32 (784,) network input; raises ImageError with a code.

    For a batch, check the budget of all the images first (``read_headers``, ``check_budget``)
    and pass each one's ``header``.
    """
    gray = decode_gray(data, max_pixels, header)
    try:
        return to_input(gray)
    except cv2.error:  # on a bounded uint8 canvas this is not expected; still a clear answer, not a crash
        raise ImageError("corrupt_image", "could not analyse the image") from None
