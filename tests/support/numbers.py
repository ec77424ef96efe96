"""Numbers to read in tests: drawn with pen strokes (no data needed) or composed from a few t10k digits.

Strokes are drawn on a white canvas as the page draws them (a round pen, dark on light), at
known places, so tests can say exactly which digit, point or speck sits where.
"""

from functools import cache

import cv2
import numpy as np
import pytest

import btf
from btf import digits
from scripts.eval_numbers import STROKES, compose, mnist_glyph
from tests.conftest import ROOT, SHARED_MNIST

PEN = 9  # at a 100 px digit height, like the page's pen on its canvas


@cache
def served_model() -> btf.Graph:
    """The promoted shipped model, as /read serves it."""
    from btf.store import open_store, registry

    version = registry.latest_version(open_store(str(ROOT / "models")))
    return btf.Graph.load(ROOT / "models" / f"model-v{version}.npz")


def predict(x: np.ndarray):
    """The served model's reading of inputs (n, 784), as the API makes it (btf.digits.read)."""
    return digits.read(served_model(), x)


def draw_digit(canvas: np.ndarray, digit: int, x: int, y: int, height: int = 100, variant: int = 0, pen: int = PEN):
    """Draw ``digit`` with its top-left at (x, y), ``height`` tall and 0.6 as wide (a 1: a third)."""
    width = height * (0.3 if digit == 1 else 0.6)
    for stroke in STROKES[digit][variant % len(STROKES[digit])]:
        pts = np.array([(x + px * width, y + py * height) for px, py in stroke]).round().astype(np.int32)
        cv2.polylines(canvas, [pts], False, 0, pen, cv2.LINE_AA)


def pen_number(text: str, gap: int = 35, height: int = 100, variants: dict | None = None) -> np.ndarray:
    """A number drawn on a white canvas: digits, '.' as a dot on the baseline, '-' as a mid-height stroke."""
    variants = variants or {}
    canvas = np.full((height + 80, 60 + len(text) * (height + gap)), 255, np.uint8)
    x, top = 30, 40
    for k, char in enumerate(text):
        if char == ".":
            cv2.circle(canvas, (x + 8, top + height - 8), 8, 0, -1, cv2.LINE_AA)
            x += 16 + gap
        elif char == "-":
            cv2.line(canvas, (x, top + height // 2), (x + height // 3, top + height // 2), 0, PEN, cv2.LINE_AA)
            x += height // 3 + gap
        else:
            draw_digit(canvas, int(char), x, top, height, variants.get(k, 0))
            x += int(height * (0.3 if char == "1" else 0.6)) + gap
    return canvas[:, : x + 30 - gap]


PAGE_PEN = 18  # the page's pen on its 560x280 canvas


def page_drawing(strokes: list[list[tuple[int, int]]]) -> np.ndarray:
    """Mouse strokes (canvas pixels) drawn as the page draws them: a round pen, dark on white, 560x280."""
    canvas = np.full((280, 560), 255, np.uint8)
    for stroke in strokes:
        cv2.polylines(canvas, [np.array(stroke, np.int32)], False, 0, PAGE_PEN, cv2.LINE_AA)
        for x, y in (stroke[0], stroke[-1]):  # round caps
            cv2.circle(canvas, (x, y), PAGE_PEN // 2, 0, -1, cv2.LINE_AA)
    return canvas


def png(img: np.ndarray) -> bytes:
    return cv2.imencode(".png", img)[1].tobytes()


@cache
def t10k() -> tuple[np.ndarray, np.ndarray]:
    if not SHARED_MNIST.exists():
        pytest.skip("shared MNIST not present")
    from btf.data import load

    return load(SHARED_MNIST)["test"]


def mnist_number(indices: list[int], seed: int = 0, **options) -> tuple[bytes, str]:
    """A number composed from the t10k digits at ``indices`` (PNG bytes, what it reads)."""
    X, y = t10k()
    rng = np.random.default_rng(seed)
    number = compose([mnist_glyph(X[i]) for i in indices], [int(y[i]) for i in indices], rng, **options)
    return number.image, number.text
