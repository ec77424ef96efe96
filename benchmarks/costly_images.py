"""The dearest requests the predict function accepts, one per image family, and the ones it must refuse.

Each accepted case is the largest image of its family that is still within one request's
budget (found by encoding ever larger ones and asking btf.images.imageheader), so its CPU time is the
worst that family can cost. benchmarks/bench_preprocess.py times them through the handler.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image

from btf.images.imageheader import MAX_SCANS, MAX_WALK_STEPS, ImageError, check_budget, read_header, read_headers
from functions.predict.config import DEFAULT_MAX_BODY_BYTES
from tests.support.images import more_scans, wide_bmp, with_chunks, with_markers

_RNG = np.random.default_rng(0)


def _digit(h: int, w: int, channels: int, dtype=np.uint8) -> np.ndarray:
    """A '7' of dark ink: on transparency when there is alpha, on white otherwise."""
    img = np.zeros((h, w, 4), np.uint8) if channels == 4 else np.full((h, w, channels), 255, np.uint8)
    ink = (0, 0, 0, 255)[: max(channels, 1)]
    s = min(h, w)
    cv2.line(img, (w // 4, h // 4), (3 * w // 4, h // 4), ink, max(1, s // 14))
    cv2.line(img, (3 * w // 4, h // 4), (w // 2, 3 * h // 4), ink, max(1, s // 14))
    img = img[:, :, 0] if channels == 1 else img
    return img.astype(dtype) * 257 if dtype == np.uint16 else img


def _noise(h: int, w: int, channels: int) -> np.ndarray:
    return _RNG.integers(0, 256, (h, w, channels) if channels > 1 else (h, w), dtype=np.uint8)


def _enc(ext: str, img: np.ndarray, *params: int) -> bytes:
    ok, buf = cv2.imencode(ext, img, list(params))
    if not ok:
        raise ValueError(f"OpenCV could not encode {img.shape} as {ext}")
    return buf.tobytes()


def _palette(h: int, w: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(_digit(h, w, 3)).convert("P").save(out, "PNG")
    return out.getvalue()


FAMILIES: dict[str, Callable[[int, int], bytes]] = {
    "PNG 16-bit RGBA": lambda h, w: _enc(".png", _digit(h, w, 4, np.uint16)),
    "PNG 8-bit RGBA (canvas)": lambda h, w: _enc(".png", _digit(h, w, 4)),
    "PNG 8-bit RGB": lambda h, w: _enc(".png", _digit(h, w, 3)),
    "PNG 8-bit gray": lambda h, w: _enc(".png", _digit(h, w, 1)),
    "PNG palette": _palette,
    "PNG RGB noise": lambda h, w: _enc(".png", _noise(h, w, 3)),
    "BMP 32-bit": lambda h, w: _enc(".bmp", _digit(h, w, 4)),
    "JPEG baseline noise q100 4:4:4": lambda h, w: _enc(
        ".jpg", _noise(h, w, 3), cv2.IMWRITE_JPEG_QUALITY, 100, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, 0x111111
    ),
    "JPEG progressive noise q100": lambda h, w: _enc(
        ".jpg", _noise(h, w, 3), cv2.IMWRITE_JPEG_QUALITY, 100, cv2.IMWRITE_JPEG_PROGRESSIVE, 1
    ),
    "JPEG progressive photo q90": lambda h, w: _enc(
        ".jpg",
        cv2.GaussianBlur(_noise(h, w, 3), (0, 0), 3),
        cv2.IMWRITE_JPEG_QUALITY,
        90,
        cv2.IMWRITE_JPEG_PROGRESSIVE,
        1,
    ),
    f"JPEG progressive, {MAX_SCANS} scans": lambda h, w: more_scans(
        _enc(".jpg", _digit(h, w, 3), cv2.IMWRITE_JPEG_PROGRESSIVE, 1), MAX_SCANS
    ),
    "WebP lossy noise q100": lambda h, w: _enc(".webp", _noise(h, w, 3), cv2.IMWRITE_WEBP_QUALITY, 100),
    "WebP lossless noise": lambda h, w: _enc(".webp", _noise(h, w, 4), cv2.IMWRITE_WEBP_QUALITY, 101),
}


def fits(data: bytes, max_pixels: int) -> bool:
    try:
        check_budget(read_header(data), max_pixels)
    except ImageError:
        return False
    return len(data) <= DEFAULT_MAX_BODY_BYTES


def largest(make: Callable[[int, int], bytes], max_pixels: int) -> bytes:
    """The largest 4:3 image ``make`` draws that a request may still send (a binary search on its side)."""
    low, high = 16, 4 * int(max_pixels**0.5)
    best = make(low * 3 // 4, low)
    while high - low > 16:
        side = (low + high) // 2
        data = make(side * 3 // 4, side)
        if fits(data, max_pixels):
            low, best = side, data
        else:
            high = side
    return best


def batch_at_budget(max_pixels: int, count: int = 16) -> list[bytes]:
    """``count`` canvas PNGs sharing one request's budget between them (within the body limit as JSON)."""
    one = largest(FAMILIES["PNG 8-bit RGBA (canvas)"], max_pixels // count)
    images = [one] * count
    check_budget(read_headers(images), max_pixels)
    return images


def refused(max_pixels: int) -> dict[str, bytes]:
    """The issue's cases, each now refused from its header."""
    return {
        "25 MP RGBA PNG": _enc(".png", _digit(5000, 5000, 4)),
        "16-bit PNG 5000x5000": _enc(".png", _digit(5000, 5000, 1, np.uint16)),
        "JPEG, a million COM markers": with_markers(_enc(".jpg", _digit(64, 64, 1)), 1_000_000),
        f"PNG, {MAX_WALK_STEPS + 1} chunks": with_chunks(_enc(".png", _digit(64, 64, 1)), MAX_WALK_STEPS + 1),
        "1 KB BMP 2,000,000 px wide": wide_bmp(2_000_000),
    }
