"""Test images: encoded PNG/JPEG/BMP/WebP bytes, and the canvas drawings the page sends."""

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
