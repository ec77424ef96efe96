"""Read an image file into a small grayscale working canvas, at a cost bounded before any pixel is decoded.

- The header alone gives the format, the size and the price of the decode (btf.images.imageheader),
  so images whose pixels or decode cost are over the budget are refused first.
- JPEG is decoded at 1/2..1/8 scale straight to gray, where the codec allows it.
- The decoded image is reduced to at most ``WORK_SIDE`` pixels a side in row strips, so
  every later step (compositing transparency, 16-bit to 8-bit, grayscale) touches a bounded
  amount of memory on top of the decode itself.
- EXIF orientation is applied for JPEG (by OpenCV), PNG (``eXIf``) and WebP (``EXIF``; btf.images.exif).
- Every exception the decoder raises is an ImageError: the decoder is behind this boundary.

Needs OpenCV. Limits: PNG, JPEG, BMP and WebP only; one frame (the first) of an animation.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from btf.images.exif import orient, orientation_of
from btf.images.imageheader import (
    BYTES_PER_PIXEL_BUDGET,
    DEFAULT_MAX_PIXELS,
    WORK_SIDE,
    Header,
    ImageError,
    check_budget,
    read_header,
    read_headers,
)

__all__ = [
    "BYTES_PER_PIXEL_BUDGET",
    "DEFAULT_MAX_PIXELS",
    "WORK_SIDE",
    "Header",
    "ImageError",
    "check_budget",
    "decode",
    "decode_gray",
    "image_size",
    "read_header",
    "read_headers",
    "reduce_to_gray",
    "working_gray",
]
# Rows are converted and reduced this many pixels at a time, bounding the temporaries.
_STRIP_PIXELS = 1 << 20
# Enough pixels to tell dark ink from light, few enough to gather in well under a millisecond.
_SAMPLE_PIXELS = 1 << 16
# XOR-ing a BGRA pixel, read as one 32-bit word, with this turns its alpha into transparency (255 - alpha).
_ALPHA_WORD = np.array([0, 0, 0, 255], np.uint8).view(np.uint32)[0]
_REDUCED = {8: cv2.IMREAD_REDUCED_GRAYSCALE_8, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2}


def image_size(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) from the header alone."""
    header = read_header(data)
    return header.format, header.width, header.height


def decode(
    data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, header: Header | None = None, side: int = WORK_SIDE
) -> tuple[Header, np.ndarray]:
    """The header and OpenCV's decoded pixels, after the budget check; the only step that costs the image's full size.

    A caller that checked a whole request's budget already passes each image's ``header``.
    ``side`` is the working canvas the pixels are for: a large JPEG decodes reduced (the header
    priced that), but never below ``side`` a side.
    """
    if header is None:
        header = read_header(data)
        check_budget(header, max_pixels)
    buffer = np.frombuffer(data, dtype=np.uint8)
    reduce = header.reduce
    if side > WORK_SIDE:  # a wider canvas (a whole number): reduce less, never more than priced
        reduce = next((f for f in (8, 4, 2) if f <= reduce and min(header.width, header.height) // f >= side), 1)
    # JPEG has no alpha; the grayscale path also applies EXIF rotation and converts CMYK.
    flag = _REDUCED.get(reduce, cv2.IMREAD_GRAYSCALE) if header.format == "jpeg" else cv2.IMREAD_UNCHANGED
    try:
        image = cv2.imdecode(buffer, flag)
    except cv2.error as exc:  # OpenCV's own limits, or a codec that gave up
        raise _decoder_error(header, exc) from None
    if image is None or image.size == 0:
        raise ImageError("corrupt_image", f"could not decode the {header.format.upper()} image (truncated or corrupt)")
    if image.dtype not in (np.uint8, np.uint16) or image.ndim not in (2, 3) or image.ndim == 3 and image.shape[2] > 4:
        raise ImageError("unsupported_format", f"unsupported pixel layout {image.dtype} {image.shape[2:]}")
    return header, image


def _decoder_error(header: Header, exc: cv2.error) -> ImageError:
    text = str(exc)
    if "CV_IO_MAX_IMAGE" in text or "Insufficient memory" in text:
        return ImageError("image_too_large", f"the {header.format.upper()} image is larger than the decoder accepts")
    return ImageError("corrupt_image", f"could not decode the {header.format.upper()} image (corrupt or unsupported)")


def working_gray(header: Header, image: np.ndarray, data: bytes, side: int = WORK_SIDE) -> np.ndarray:
    """Decoded pixels -> the upright uint8 gray working canvas, at most ``side`` a side."""
    if image.ndim == 3 and image.shape[2] == 4 and header.format == "bmp" and not image[:, :, 3].any():
        image = image[:, :, :3]  # a 32-bit BMP whose fourth byte is unused padding, not transparency
    try:
        gray = reduce_to_gray(image, side)
    except cv2.error:  # never expected on a decoded image; still a clear answer, not a crash
        raise ImageError("corrupt_image", f"could not read the pixels of the {header.format.upper()} image") from None
    if header.exif is not None:
        gray = orient(gray, orientation_of(data[header.exif[0] : header.exif[1]]))
    return gray


def decode_gray(
    data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, header: Header | None = None, side: int = WORK_SIDE
) -> np.ndarray:
    """Decode to one uint8 channel of at most ``side`` a side, transparency composited so the ink stays visible."""
    return working_gray(*decode(data, max_pixels, header, side), data, side)


def reduce_to_gray(image: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    """Any decoded image (gray, BGR or BGRA; 8 or 16 bit) -> uint8 gray of at most ``side`` a side.

    Reduces by an integer factor per axis (the mean of each block), a strip of rows at a
    time; an axis shorter than the factor collapses to one pixel, so a 1 x 20,000 sliver costs
    no more than a square. Transparency is composited after reducing, as the average is linear:
    reduce the premultiplied colour and the transparency, then add the background. Every mean
    is rounded to uint8 once (``_reduced_planes``): the result is within two levels of the exact
    composite, and is it, rounded, for black ink on a transparent canvas.
    """
    h, w = image.shape[:2]
    factor = -(-max(h, w) // side)
    fy, fx = min(factor, h), min(factor, w)
    h, w = h // fy * fy, w // fx * fx
    alpha = image.ndim == 3 and image.shape[2] == 4
    out = np.empty((h // fy, w // fx), np.uint8)
    out_clear = np.empty_like(out) if alpha else None
    targets = (out,) if out_clear is None else (out, out_clear)
    step = max(1, _STRIP_PIXELS // max(w, 1) // fy) * fy
    for top in range(0, h, step):
        strip = _to8(image[top : min(top + step, h), :w])  # a view: OpenCV reads strided rows as they are
        rows = slice(top // fy, (top + strip.shape[0]) // fy)
        for plane, target in zip(_reduced_planes(strip, fy, fx, alpha), targets):
            target[rows] = plane
    if out_clear is not None and _dark_ink(image, out, out_clear):
        # composite = premultiplied ink + background * (1 - alpha): dark ink goes on white (+ the
        # transparency), light ink on black (nothing to add; opaque pixels likewise).
        cv2.add(out, out_clear, dst=out)
    return out


def _reduced_planes(strip: np.ndarray, fy: int, fx: int, alpha: bool) -> tuple[np.ndarray, ...]:
    """A uint8 strip -> its block means, rounded: (gray,), or with alpha (premultiplied gray, transparency).

    The transparency (255 - alpha) is what gets reduced, not the alpha, so that dark ink on a
    transparent canvas (black, premultiplied gray 0) composites to exactly the rounded mean of
    the composite: premultiplied gray + transparency. Anywhere else within two levels of it.

    Blocks narrower than 8 pixels (a canvas a few times the working side): the colour image is
    reduced first, all its channels in one pass of OpenCV's area resize (the mean of each block),
    then split into planes at the reduced size; premultiplying is one more pass over the colour
    image, before the means. Wider blocks: planes first, at full size, then integer sums of each
    plane (``_block_mean``), which beat summing every channel.
    """
    if fx < 8:
        if alpha:
            strip = cv2.cvtColor(strip, cv2.COLOR_RGBA2mRGBA)  # a new array: ours to change
            words = strip.view(np.uint32)
            np.bitwise_xor(words, _ALPHA_WORD, out=words)
        if fy > 1 or fx > 1:
            strip = cv2.resize(strip, (strip.shape[1] // fx, strip.shape[0] // fy), interpolation=cv2.INTER_AREA)
        return _planes(strip, alpha)
    planes = _planes(strip, fourth=False)
    if alpha:
        opacity = cv2.extractChannel(strip, 3)
        # (Array-with-array calls only: OpenCV reads a bare scalar as a 4-vector on tiny images.)
        planes = cv2.multiply(planes[0], opacity, scale=1 / 255), cv2.bitwise_not(opacity, dst=opacity)
    return tuple(_block_mean(plane, fy, fx) for plane in planes)


def _planes(image: np.ndarray, fourth: bool) -> tuple[np.ndarray, ...]:
    """A uint8 image -> (gray,), or (gray, its fourth channel) when ``fourth``."""
    if image.ndim == 2:
        return (image,)
    if image.shape[2] == 1:
        return (image[:, :, 0],)
    if image.shape[2] == 3:
        return (cv2.cvtColor(image, cv2.COLOR_BGR2GRAY),)
    gray = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return (gray, image[:, :, 3]) if fourth else (gray,)  # a view: the caller copies it once, as it must


def _block_mean(plane: np.ndarray, fy: int, fx: int) -> np.ndarray:
    """The mean of each fy x fx block of a uint8 plane, rounded to uint8: integer sums only, no per-pixel floats.

    For blocks at least 8 pixels wide, faster than OpenCV's area resize (``_reduced_planes``).
    """
    h, w = plane.shape
    rows = plane.reshape(h // fy, fy, w).sum(axis=1, dtype=np.uint16 if fy <= 257 else np.uint32)
    blocks = rows.reshape(h // fy, w // fx, fx).sum(axis=2, dtype=np.uint32 if fy * fx <= 1 << 24 else np.uint64)
    area = fy * fx
    return ((blocks + area // 2) // area).astype(np.uint8)  # to the nearest (255.5 * 2**24 < 2**32)


def _dark_ink(bgra: np.ndarray, premultiplied: np.ndarray, clear: np.ndarray) -> bool:
    """Whether the visible pixels of an image with transparency are dark: at least half as opaque as the most
    opaque pixel (any opacity at all when none is half opaque).

    A canvas ``toDataURL()`` is ink on fully transparent pixels whose colour is (0,0,0): plain
    grayscale would make the whole image black. Dark ink goes on white, light ink on black.
    When some block of the working canvas (its premultiplied gray and transparency) is fully
    opaque, as a drawing's strokes are, so is some pixel: the visible blocks are those over half
    opaque, and their gray is their premultiplied gray over their alpha, summed (the visible gray
    weighted by its opacity). Otherwise the blocks understate a faint or thin stroke's opacity, so
    a subsample of the image itself decides.
    """
    if cv2.minMaxLoc(clear)[0] > 0:  # no block fully opaque
        return _dark_ink_sampled(bgra)
    visible = cv2.threshold(clear, 127, 255, cv2.THRESH_BINARY_INV)[1]  # 255 where alpha > 127, else 0
    count = cv2.countNonZero(visible)
    ink = cv2.sumElems(cv2.bitwise_and(premultiplied, visible))[0]
    alpha = 255 * count - cv2.sumElems(cv2.bitwise_and(clear, visible))[0]
    return ink * 255 < 128 * alpha  # whole numbers, exact in a double


def _dark_ink_sampled(bgra: np.ndarray) -> bool:
    """``_dark_ink`` from at most ``_SAMPLE_PIXELS`` pixels of the image, at full resolution."""
    step = max(1, math.ceil((bgra.shape[0] * bgra.shape[1] / _SAMPLE_PIXELS) ** 0.5))
    sample = _every(bgra, step)
    alpha = cv2.extractChannel(sample, 3)  # contiguous: OpenCV's reductions below take a fraction of numpy's
    high = cv2.minMaxLoc(alpha)[1]
    full = 65535 if bgra.dtype == np.uint16 else 255
    opaque = (alpha > (int(high) // 2 if high > full // 2 else 0)).view(np.uint8)
    count = cv2.countNonZero(opaque)
    if not count:
        return True
    gray = cv2.cvtColor(_to8(sample), cv2.COLOR_BGRA2GRAY)
    # Mean under 128, compared as whole numbers (a sum of bytes is exact in a double; cv2.mean is not, at 128).
    return cv2.sumElems(cv2.bitwise_and(gray, gray, mask=opaque))[0] < 128 * count


def _every(bgra: np.ndarray, step: int) -> np.ndarray:
    """``bgra[::step, ::step]``, contiguous: copied a whole pixel at a time where the layout allows it,
    which takes a tenth of the time of numpy's copy of four separate channels."""
    whole = {4: np.uint32, 8: np.uint64}.get(bgra.shape[2] * bgra.itemsize)
    if whole is None or bgra.strides[2] != bgra.itemsize or bgra.strides[1] != bgra.shape[2] * bgra.itemsize:
        return np.ascontiguousarray(bgra[::step, ::step])
    pixels = bgra.view(whole)  # (h, w, 1): one element per pixel
    return np.ascontiguousarray(pixels[::step, ::step]).view(bgra.dtype)


def _to8(strip: np.ndarray) -> np.ndarray:
    return (strip >> 8).astype(np.uint8) if strip.dtype == np.uint16 else strip
