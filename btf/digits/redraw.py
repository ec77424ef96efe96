"""Training digits re-drawn the ways other sources draw digits, and read back through the API's preprocessing.

A network that learns "not a digit" from generated drawings can learn a shortcut instead
of a shape: that crisp anti-aliased strokes are digits and anything blurry, blocky or grey
is not (clothing photos are soft and grey). Its training digits therefore also come as:

- ``scan``: shrunk to a coarse grid (8 to 16 cells a side, its aspect sometimes stretched to
  fill the box), sometimes made black or white, and blown up smooth or blocky: old scans;
- ``pen``: on the page's 280x280 canvas with the stroke thinned or thickened (black ink on a
  transparent canvas);
- ``pencil``: faint grey ink, blurred, on white paper.

Each keeps its digit's label. Needs OpenCV, like btf.images.vision.
"""

from __future__ import annotations

import cv2
import numpy as np

from btf.images.vision import ImageError, image_to_input

STYLES = ("scan", "pen", "pencil")


def redraw(X: np.ndarray, y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` randomly chosen digits of ``(X, y)``, each re-drawn in a random style: (inputs (m, 784), labels (m,))."""
    rng = np.random.default_rng([seed, 7])
    rows, labels = [], []
    for i in rng.integers(0, len(X), n):
        gray = (X[i].reshape(28, 28) * 255).astype(np.uint8)
        style = STYLES[rng.integers(len(STYLES))]
        png = {"scan": _scan, "pen": _pen, "pencil": _pencil}[style](rng, gray)
        try:
            rows.append(image_to_input(png))
        except ImageError:  # too faint to read: the API would refuse it too
            continue
        labels.append(y[i])
    return np.array(rows, np.float32).reshape(-1, 784), np.array(labels, np.int64)


def _crop(gray: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(gray > 30)
    if len(ys) == 0:
        return gray
    return gray[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _paper(ink: np.ndarray, margin: int) -> bytes:
    """White ink on black -> dark ink on white paper, with a margin, as PNG."""
    return cv2.imencode(".png", np.pad(255 - ink, margin, constant_values=255))[1].tobytes()


def _scan(rng: np.random.Generator, gray: np.ndarray) -> bytes:
    crop = _crop(gray)
    cells = int(rng.choice([8, 10, 12, 16]))
    if rng.random() < 0.5:  # stretched to fill the box
        size = (cells, cells)
    else:
        scale = cells / max(crop.shape)
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5 and cells > 8:  # black or white (on 8 cells that leaves too little of a digit)
        small = np.where(small > rng.uniform(60, 140), 255, 0).astype(np.uint8)
    factor = int(rng.integers(6, 14))
    big_size = (size[0] * factor, size[1] * factor)
    method = cv2.INTER_NEAREST if rng.random() < 0.5 else cv2.INTER_CUBIC
    return _paper(cv2.resize(small, big_size, interpolation=method), int(rng.integers(8, 30)))


def _pen(rng: np.random.Generator, gray: np.ndarray) -> bytes:
    mask = (cv2.resize(gray, (280, 280), interpolation=cv2.INTER_CUBIC) > 100).astype(np.uint8) * 255
    change = int(rng.integers(-12, 17))
    if change:
        kernel = np.ones((abs(change), abs(change)), np.uint8)
        mask = cv2.dilate(mask, kernel) if change > 0 else cv2.erode(mask, kernel)
    if not mask.any():
        mask = (cv2.resize(gray, (280, 280), interpolation=cv2.INTER_CUBIC) > 100).astype(np.uint8) * 255
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[:, :, 3] = mask
    return cv2.imencode(".png", canvas)[1].tobytes()


def _pencil(rng: np.random.Generator, gray: np.ndarray) -> bytes:
    side = int(rng.integers(60, 200))
    big = cv2.resize(gray, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    big = cv2.GaussianBlur(big, (0, 0), rng.uniform(0.5, 2.5)) * rng.uniform(0.35, 0.8)
    return _paper(np.clip(big, 0, 255).astype(np.uint8), int(rng.integers(5, 40)))
