"""Test images: encoded PNG/JPEG/BMP/WebP bytes, the canvas drawings the page sends, and hostile structures."""

import base64
import re
import struct
import zlib

import cv2
import numpy as np


def encode(img: np.ndarray, ext: str = ".png", params=()) -> bytes:
    """An array as image file bytes, through OpenCV."""
    ok, buf = cv2.imencode(ext, img, list(params))
    assert ok
    return buf.tobytes()


def draw_seven(size=280, ink=(0, 0, 0, 255), background=(0, 0, 0, 0), width=None) -> np.ndarray:
    """A '7' drawn like a canvas stroke, as BGRA."""
    img = np.zeros((size, size, 4), np.uint8)
    img[:] = background
    w = width or max(1, size // 14)
    s = size / 280
    pts = [(int(70 * s), int(60 * s)), (int(210 * s), int(60 * s)), (int(120 * s), int(230 * s))]
    cv2.line(img, pts[0], pts[1], ink, w, cv2.LINE_AA)
    cv2.line(img, pts[1], pts[2], ink, w, cv2.LINE_AA)
    return img


def canvas_png(digit: str = "7") -> bytes:
    """A canvas toDataURL()-style PNG: black ink on transparent, 280x280, of a 7 or a 1."""
    img = np.zeros((280, 280, 4), np.uint8)
    if digit == "7":
        cv2.line(img, (70, 60), (210, 60), (0, 0, 0, 255), 20, cv2.LINE_AA)
        cv2.line(img, (210, 60), (120, 230), (0, 0, 0, 255), 20, cv2.LINE_AA)
    else:
        cv2.line(img, (140, 40), (140, 240), (0, 0, 0, 255), 20, cv2.LINE_AA)
    return encode(img)


def data_uri(data: bytes) -> str:
    """Image bytes as a base64 data URI, as the page sends them."""
    return "data:image/png;base64," + base64.b64encode(data).decode()


def more_scans(jpeg: bytes, scans: int) -> bytes:
    """A progressive JPEG with its smallest scan repeated until it has ``scans``: libjpeg warns and decodes them all."""
    # Entropy-coded data never holds 0xFF 0xDA (a 0xFF there is followed by 0 or a restart marker).
    starts = [m.start() for m in re.finditer(b"\xff\xda", jpeg)]
    ends = starts[1:] + [jpeg.rindex(b"\xff\xd9")]
    segment = min((jpeg[a:b] for a, b in zip(starts, ends)), key=len)
    return jpeg[: ends[-1]] + segment * (scans - len(starts)) + b"\xff\xd9"


def with_markers(jpeg: bytes, count: int) -> bytes:
    """A JPEG with ``count`` empty COM markers before its frame header."""
    return jpeg[:2] + b"\xff\xfe\x00\x02" * count + jpeg[2:]


def with_chunks(png: bytes, count: int) -> bytes:
    """A PNG with ``count`` empty private ancillary chunks after IHDR."""
    chunk = struct.pack(">I", 0) + b"prVt" + struct.pack(">I", zlib.crc32(b"prVt"))
    return png[:33] + chunk * count + png[33:]


def wide_bmp(width: int) -> bytes:
    """A 1 KB BMP header claiming ``width`` x 1 pixels (OpenCV refuses sides past 2**20)."""
    info = struct.pack("<IiiHHIIiiII", 40, width, 1, 1, 24, 0, 0, 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 1024, 0, 0, 54) + info + b"\0" * (1024 - 54)
