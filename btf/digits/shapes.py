"""Pen drawings on a 280x280 page for btf.digits.negatives: smoothed scribbles, shapes and figures, slanted by hand.

Every function draws dark ink (0) on white (255) with OpenCV's anti-aliased lines, at the
widths a finger, pen or mouse leaves on the page's canvas. Training and held-out drawings
come from different families (``FAMILIES``), so a held-out score measures drawings the model
has not seen the like of. Needs OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np

SIDE = 280
FAMILIES = {
    "train": ("rect", "triangle", "star", "polygon", "heart", "arrow", "spiral", "hash", "wave"),
    "heldout": ("diamond", "house", "smiley", "bolt", "filled", "frames", "cloud"),
}


def blank() -> np.ndarray:
    return np.full((SIDE, SIDE), 255, np.uint8)


def width(rng: np.random.Generator) -> int:
    """A stroke width in canvas pixels; the page's pen is 18."""
    return int(rng.choice([6, 10, 14, 18, 18, 18, 24, 30]))


def smooth(points: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Chaikin corner cutting: a polyline -> a smooth curve through its neighbourhood."""
    for _ in range(rounds):
        a, b = points[:-1], points[1:]
        cut = np.column_stack([0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b]).reshape(-1, 2)
        points = np.vstack([points[:1], cut, points[-1:]])
    return points


def line(canvas: np.ndarray, points: np.ndarray, pen: int, closed: bool = False) -> None:
    cv2.polylines(canvas, [np.round(points).astype(np.int32)], closed, 0, pen, cv2.LINE_AA)


def tilt(rng: np.random.Generator, canvas: np.ndarray, degrees: float = 20) -> np.ndarray:
    """A random rotation, shear and squash: drawn, not printed."""
    m = cv2.getRotationMatrix2D((SIDE / 2, SIDE / 2), rng.uniform(-degrees, degrees), rng.uniform(0.8, 1.1))
    m[0, 1] += rng.uniform(-0.3, 0.3)
    return cv2.warpAffine(canvas, m, (SIDE, SIDE), borderValue=255)


# ------------------------------------------------------------------ scribbles
def scribble(rng: np.random.Generator, split: str) -> np.ndarray:
    canvas = blank()
    strokes = rng.integers(1, 4) if split == "train" else rng.integers(2, 5)
    paths = []
    while not paths or _thin(np.vstack(paths)):  # a lone straight-ish stroke is a 1, not a scribble
        paths = [_stroke(rng, split) for _ in range(strokes)]
    for path in paths:
        line(canvas, path, width(rng))
    return canvas


def _stroke(rng: np.random.Generator, split: str) -> np.ndarray:
    count = rng.integers(5, 12)
    if split == "train":  # wandering strokes
        points = np.cumsum(rng.normal(0, 45, (count, 2)), axis=0) + rng.uniform(80, 200, 2)
    else:  # loops and zigzags about a centre
        angle = np.cumsum(rng.uniform(0.5, 2.5, count))
        radius = rng.uniform(20, 110, count)
        points = np.column_stack([np.cos(angle) * radius, np.sin(angle) * radius]) + rng.uniform(100, 180, 2)
    return smooth(np.clip(points, 15, SIDE - 15))


def _thin(points: np.ndarray) -> bool:
    extent = points.max(axis=0) - points.min(axis=0)
    return bool(extent.min() < 0.35 * extent.max())


# ------------------------------------------------------------------ shapes
def shape(rng: np.random.Generator, split: str) -> np.ndarray:
    """One figure of the split's families, centred, then slanted by hand."""
    canvas = blank()
    pen, r = width(rng), rng.uniform(60, 110)
    family = FAMILIES[split][rng.integers(len(FAMILIES[split]))]
    for names, draw in _DRAWERS:
        if family in names:
            draw(canvas, rng, family, pen, r)
    return tilt(rng, canvas)


def _polygon(rng: np.random.Generator, sides: int, radius: float, star: bool = False) -> np.ndarray:
    turn = np.linspace(0, 2 * np.pi, sides * (2 if star else 1), endpoint=False) + rng.uniform(0, np.pi)
    r = np.full(len(turn), radius)
    if star:
        r[1::2] *= rng.uniform(0.35, 0.55)
    return np.column_stack([np.cos(turn) * r, np.sin(turn) * r]) + SIDE / 2


def _boxes(canvas, rng, family, pen, r) -> None:
    c = SIDE / 2
    for k in range(1 if family == "rect" else 2):
        w, h = rng.uniform(50, 120, 2) * (1 - 0.4 * k)
        cv2.rectangle(canvas, (int(c - w), int(c - h)), (int(c + w), int(c + h)), 0, pen, cv2.LINE_AA)


def _polygons(canvas, rng, family, pen, r) -> None:
    if family == "star":
        line(canvas, _polygon(rng, int(rng.integers(5, 8)), r, star=True), pen, closed=True)
        return
    sides = {"triangle": 3, "diamond": 4}.get(family, int(rng.integers(5, 9)))  # draws either way, as it always did
    points = _polygon(rng, sides, r) * [1, rng.uniform(0.6, 1.0) if family != "diamond" else 1.4]
    if family == "filled":
        cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 0, cv2.LINE_AA)
    else:
        line(canvas, points, pen, closed=True)


def _curves(canvas, rng, family, pen, r) -> None:
    c, t = SIDE / 2, np.linspace(0, 2 * np.pi, 120)
    if family == "heart":
        pts = np.column_stack([16 * np.sin(t) ** 3, -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t))]) * r / 17
    elif family == "cloud":
        pts = np.column_stack([np.cos(t), 0.6 * np.sin(t)]) * (r + 12 * np.abs(np.sin(4 * t)))[:, None]
    else:  # a smiley: a face with eyes and a mouth
        pts = np.column_stack([np.cos(t), np.sin(t)]) * r
        for eye in (-0.35, 0.35):
            cv2.circle(canvas, (int(c + eye * r), int(c - 0.3 * r)), max(pen // 2, 4), 0, -1, cv2.LINE_AA)
        line(canvas, np.column_stack([np.cos(t[10:50]) * 0.55 * r, np.sin(t[10:50]) * 0.5 * r]) + c, pen)
    line(canvas, pts + c, pen, closed=True)


def _marks(canvas, rng, family, pen, r) -> None:
    c = SIDE / 2
    if family == "arrow":
        a = rng.uniform(0, 2 * np.pi)
        d = np.array([np.cos(a), np.sin(a)]) * r
        line(canvas, np.array([c - d, c + d]), pen)
        for side in (-1, 1):
            b = a + np.pi + side * 0.5
            line(canvas, np.array([c + d, c + d + np.array([np.cos(b), np.sin(b)]) * r * 0.5]), pen)
    elif family == "spiral":
        t = np.linspace(0, rng.uniform(3, 6) * np.pi, 200)
        line(canvas, np.column_stack([np.cos(t), np.sin(t)]) * (t / t[-1] * r)[:, None] + c, pen)
    elif family == "hash":
        for k in (-1, 1):
            line(canvas, np.array([[c + k * 35, c - r], [c + k * 35, c + r]]), pen)
            line(canvas, np.array([[c - r, c + k * 35], [c + r, c + k * 35]]), pen)
    elif family == "wave":
        x = np.linspace(-r, r, 80)
        line(canvas, np.column_stack([x + c, np.sin(x / r * rng.uniform(3, 8)) * r * 0.4 + c]), pen)
    elif family == "house":
        line(canvas, np.array([[c - r, c + r], [c - r, c], [c, c - r], [c + r, c], [c + r, c + r]]), pen, True)
    else:  # a lightning bolt
        line(canvas, np.array([[c + 30, c - r], [c - 40, c + 10], [c + 30, c], [c - 30, c + r]]), pen)


_DRAWERS = (
    (("rect", "frames"), _boxes),
    (("triangle", "polygon", "diamond", "filled", "star"), _polygons),
    (("heart", "cloud", "smiley"), _curves),
    (("arrow", "spiral", "hash", "wave", "house", "bolt"), _marks),
)
