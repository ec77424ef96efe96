"""Drawings that are not digits, made here, for training and scoring the "not a digit" answer.

Each is drawn on a 280x280 canvas like the page's (dark ink on white paper, or black ink on
a transparent canvas), encoded as PNG and read through ``btf.images.vision.image_to_input``: the
model learns on exactly what the API will feed it. Kinds:

- ``scribble``: smoothed random strokes; ``shape``: outlines and figures (both btf.digits.shapes);
- ``hershey``: letters and symbols in OpenCV's stroke fonts; ``font``: the same in TrueType
  fonts (Pillow), both slanted, rotated and stroked at random widths;
- ``crossed``: digits struck through or scribbled over (needs digits to draw from);
- ``fashion``: Fashion-MNIST clothing, when that data set is installed.

The ``train`` and ``heldout`` splits differ in seed *and* style (other shape families, fonts,
and characters rendered by other fonts), so held-out scores say how the model does on
drawings it has not seen the like of. Letters that are digits' twins (O, I, l, S, Z, ...)
are left out: no model can tell them apart, and calling a real 0 "not a digit" is worse.
Needs OpenCV and Pillow, like btf.images.vision.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from btf.data import read_idx
from btf.digits import shapes
from btf.images.vision import ImageError, image_to_input

SIDE = shapes.SIDE
SPLITS = ("train", "heldout")
KINDS = ("scribble", "shape", "hershey", "font", "crossed", "fashion")
# Characters with no digit twin. Left out: O o Q D 0; I l i j | ! / \ ( ) [ ] { } 1; S s 5; Z z 2; g q 9; b 6; B 8.
LETTERS = "ACEFGHJKLMNPRTUVWXYacdefhkmnprtuvwxy"
SYMBOLS = "#$%&*+<=>?@^~€§¶π"
FASHION = Path("/usr/share/datasets/fashion-mnist")
_HERSHEY = {
    "train": [
        cv2.FONT_HERSHEY_SIMPLEX,
        cv2.FONT_HERSHEY_DUPLEX,
        cv2.FONT_HERSHEY_COMPLEX,
        cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    ],
    "heldout": [cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_SCRIPT_COMPLEX],
}
_FONT_DIRS = {"train": "dejavu", "heldout": "liberation"}
_FONT_ROOT = Path("/usr/share/fonts/truetype")


def generate(
    n: int, *, seed: int, split: str = "train", digits: np.ndarray | None = None, kinds: tuple[str, ...] = KINDS
) -> np.ndarray:
    """``n`` non-digit network inputs (n, 784), float32, drawn and preprocessed as the API would."""
    rows = [x for _, x in inputs(render(n, seed=seed, split=split, digits=digits, kinds=kinds))]
    return np.array(rows, np.float32).reshape(-1, 784)


def inputs(images: list[tuple[str, bytes]]) -> list[tuple[str, np.ndarray]]:
    """Each (kind, PNG) through the API's preprocessing; a drawing it refuses (blank) is dropped."""
    out = []
    for kind, png in images:
        try:
            out.append((kind, image_to_input(png)))
        except ImageError:
            continue
    return out


def render(
    n: int, *, seed: int, split: str = "train", digits: np.ndarray | None = None, kinds: tuple[str, ...] = KINDS
) -> list[tuple[str, bytes]]:
    """``n`` (kind, PNG bytes) drawings, the kinds taking turns (kinds that cannot be drawn here are skipped)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    usable = [
        k for k in kinds if (k != "crossed" or digits is not None) and (k != "fashion" or _fashion(split) is not None)
    ]
    draw = {"scribble": shapes.scribble, "shape": shapes.shape, "hershey": _hershey, "font": _font}
    out = []
    for i in range(n):
        kind = usable[i % len(usable)]
        if kind == "crossed":
            gray = _crossed(rng, digits[rng.integers(len(digits))])
        elif kind == "fashion":
            out.append((kind, _fashion_png(rng, split)))
            continue
        else:
            gray = draw[kind](rng, split)
        out.append((kind, _encode(rng, gray)))
    return out


# ------------------------------------------------------------------ drawing
def _encode(rng: np.random.Generator, gray: np.ndarray) -> bytes:
    """Dark ink on white paper, or (as the page sends it) black ink on a transparent canvas."""
    if rng.random() < 0.5:
        return cv2.imencode(".png", gray)[1].tobytes()
    rgba = np.zeros((*gray.shape, 4), np.uint8)
    rgba[:, :, 3] = 255 - gray
    return cv2.imencode(".png", rgba)[1].tobytes()


def _characters(split: str) -> str:
    # Held-out drawings keep the same alphabet: what differs is the fonts and hands drawing it.
    return LETTERS + SYMBOLS


def _hershey(rng: np.random.Generator, split: str) -> np.ndarray:
    canvas = np.full((SIDE, SIDE), 255, np.uint8)
    chars = _characters(split).encode("ascii", "ignore").decode()
    text = chars[rng.integers(len(chars))]
    font = _HERSHEY[split][rng.integers(len(_HERSHEY[split]))] | (cv2.FONT_ITALIC if rng.random() < 0.3 else 0)
    scale, thick = rng.uniform(4.5, 7.5), int(rng.integers(4, 22))
    (w, h), _ = cv2.getTextSize(text, font, scale, thick)
    cv2.putText(canvas, text, (int((SIDE - w) / 2), int((SIDE + h) / 2)), font, scale, 0, thick, cv2.LINE_AA)
    return shapes.tilt(rng, canvas)


def font_files(split: str) -> list[Path]:
    """The TrueType files of a split (``train``: DejaVu, ``heldout``: Liberation); empty when none is installed."""
    return sorted((_FONT_ROOT / _FONT_DIRS[split]).glob("*.ttf"))


def _font(rng: np.random.Generator, split: str) -> np.ndarray:
    files = font_files(split)
    if not files:
        return _hershey(rng, split)
    chars = _characters(split)
    path, size = str(files[rng.integers(len(files))]), int(rng.integers(150, 220))
    text = chars[rng.integers(len(chars))]
    return shapes.tilt(rng, typeset(path, size, text, int(rng.integers(0, 6))))


def typeset(path: str, size: int, text: str, stroke: int) -> np.ndarray:
    """``text`` in the TrueType font at ``path``, black on a white canvas of the page's size, centred."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(path, size)
    image = Image.new("L", (SIDE, SIDE), 255)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    at = ((SIDE - (right - left)) / 2 - left, (SIDE - (bottom - top)) / 2 - top)
    draw.text(at, text, fill=0, font=font, stroke_width=stroke, stroke_fill=0)
    return np.asarray(image, np.uint8).copy()


def _crossed(rng: np.random.Generator, digit: np.ndarray) -> np.ndarray:
    """A digit as the page would draw it, then struck out with lines or a scribble over it."""
    gray = (digit.reshape(28, 28) * 255).astype(np.uint8)
    canvas = 255 - (cv2.resize(gray, (SIDE, SIDE), interpolation=cv2.INTER_CUBIC) > 100).astype(np.uint8) * 255
    width = shapes.width(rng)
    if rng.random() < 0.5:
        for _ in range(int(rng.integers(2, 4))):
            a = rng.uniform(0, np.pi)
            d = np.array([np.cos(a), np.sin(a)]) * 120
            shapes.line(canvas, np.array([SIDE / 2 - d, SIDE / 2 + d]) + rng.normal(0, 15, 2), width)
    else:
        t = np.linspace(0, 2 * np.pi * rng.uniform(3, 6), 120)
        pts = np.column_stack([t / t[-1] * 180 - 90, np.sin(t) * 70]) + SIDE / 2
        shapes.line(canvas, pts, width)
    return canvas


def _fashion(split: str) -> np.ndarray | None:
    """Fashion-MNIST's train (for training) or t10k (held out) images, if the data set is installed."""
    stem = "train-images-idx3-ubyte" if split == "train" else "t10k-images-idx3-ubyte"
    for name in (stem + ".gz", stem):
        if (FASHION / name).exists():
            return _cached_fashion(str(FASHION / name))
    return None


_FASHION_CACHE: dict[str, np.ndarray] = {}


def _cached_fashion(path: str) -> np.ndarray:
    if path not in _FASHION_CACHE:
        _FASHION_CACHE[path] = read_idx(path)
    return _FASHION_CACHE[path]


def _fashion_png(rng: np.random.Generator, split: str) -> bytes:
    """A clothing image as a photo would come: light item on dark, or (inverted, larger) dark on light."""
    image = _fashion(split)[rng.integers(len(_fashion(split)))]
    if rng.random() < 0.5:
        image = cv2.resize(255 - image, (112, 112), interpolation=cv2.INTER_CUBIC)
    return cv2.imencode(".png", image)[1].tobytes()
