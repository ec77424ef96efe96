"""Digits set in TrueType fonts, for training: a printed digit is still a digit.

A model that learns "not a digit" from letters in fonts, and from touching pairs
(``btf.digits.joined``), can learn a shortcut: that the marks of print (a serif 1's flag and
foot, a slashed or dotted 0, an even stroke) mean "not a digit". The number reader then
calls a serif 1 a 2 and a narrow 0 not a digit. So the training digits also come printed,
each in a random font of the ``train`` split of ``btf.digits.negatives`` (DejaVu: the
family of the training letters, so the model learns the glyph, not the font), at a random
weight and slant, and normalised one of two ways:

- ``page``: on the page's 280x280 canvas, encoded as PNG and read through
  ``btf.images.vision.image_to_input``, as /predict reads it;
- ``piece``: cropped and scaled to a row height the number reader works at (20 to 64 px),
  then ``btf.images.vision.to_input``, the call the reader makes for every piece.

Held-out scores stay held out: the evaluations print digits in OpenCV's Hershey fonts, and
``scripts.eval_robustness``'s TrueType set includes Liberation, which training never uses
(its DejaVu half is then no longer unseen). Needs OpenCV and Pillow, like btf.images.vision.
"""

from __future__ import annotations

import cv2
import numpy as np

from btf.digits import negatives, shapes
from btf.images.vision import ImageError, image_to_input, to_input

SKIP = ("MathTeX",)  # a maths font: its digits are Latin Modern's, and few of them


def fonts() -> list[str]:
    """The TrueType files digits are printed in (empty when none is installed: Debian's fonts-dejavu-core and -extra)."""
    return [str(p) for p in negatives.font_files("train") if not any(s in p.name for s in SKIP)]


def generate(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` printed digits, labels 0-9 in turn: (inputs (m, 784) float32, labels (m,)); m = 0 with no fonts.

    A rendering the preprocessing refuses (nothing left to read) is dropped, so ``m`` can fall
    a little short of ``n``.
    """
    files = fonts()
    rng = np.random.default_rng([seed, 31])
    rows, labels = [], []
    for i in range(n if files else 0):
        digit = i % 10
        gray = _render(rng, files[rng.integers(len(files))], digit)
        try:
            if rng.random() < 0.5:
                rows.append(image_to_input(cv2.imencode(".png", gray)[1].tobytes()))
            else:
                rows.append(to_input(np.pad(_piece(rng, 255 - gray), 2)))
        except ImageError:
            continue
        labels.append(digit)
    return np.array(rows, np.float32).reshape(-1, 784), np.array(labels, np.int64)


def _render(rng: np.random.Generator, path: str, digit: int) -> np.ndarray:
    """The digit dark on white on the page's canvas, at a random size, weight and slant."""
    side = shapes.SIDE
    gray = negatives.typeset(path, int(rng.integers(120, 220)), str(digit), int(rng.integers(0, 5)))
    m = np.float32([[1, rng.uniform(-0.25, 0.25), 0], [0, 1, 0]])  # a slant, as italics and hands lean
    m[0, 2] = -m[0, 1] * side / 2
    return cv2.warpAffine(gray, m, (side, side), borderValue=255)


def _piece(rng: np.random.Generator, ink: np.ndarray) -> np.ndarray:
    """White-on-black ink cropped and scaled to a row height the number reader meets (20 to 64 px)."""
    ys, xs = np.nonzero(ink > 30)
    if len(ys) == 0:
        return ink[:1, :1]
    ink = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    height = int(rng.integers(20, 65))
    width = max(1, round(ink.shape[1] * height / ink.shape[0]))
    return cv2.resize(ink, (width, height), interpolation=cv2.INTER_AREA)
