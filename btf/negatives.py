"""Drawings that are not digits, made here, for training and scoring the "not a digit" answer.

Each is drawn on a 280x280 canvas like the page's (dark ink on white paper, or black ink on
a transparent canvas), encoded as PNG and read through ``btf.vision.image_to_input``: the
model learns on exactly what the API will feed it. Kinds:

- ``scribble``: smoothed random strokes; ``shape``: outlines and figures;
- ``hershey``: letters and symbols in OpenCV's stroke fonts; ``font``: the same in TrueType
  fonts (Pillow), both slanted, rotated and stroked at random widths;
- ``crossed``: digits struck through or scribbled over (needs digits to draw from);
- ``fashion``: Fashion-MNIST clothing, when that data set is installed.

The ``train`` and ``heldout`` splits differ in seed *and* style (other shape families, fonts,
and characters rendered by other fonts), so held-out scores say how the model does on
drawings it has not seen the like of. Letters that are digits' twins (O, I, l, S, Z, ...)
are left out: no model can tell them apart, and calling a real 0 "not a digit" is worse.
Needs OpenCV and Pillow, like btf.vision.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from btf.data import read_idx
from btf.vision import ImageError, image_to_input

SIDE = 280
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
    draw = {"scribble": _scribble, "shape": _shape, "hershey": _hershey, "font": _font}
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


def _width(rng: np.random.Generator) -> int:
    return int(rng.choice([6, 10, 14, 18, 18, 18, 24, 30]))


def _smooth(points: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Chaikin corner cutting: a polyline -> a smooth curve through its neighbourhood."""
    for _ in range(rounds):
        a, b = points[:-1], points[1:]
        points = np.vstack(
            [points[:1], np.column_stack([0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b]).reshape(-1, 2), points[-1:]]
        )
    return points


def _line(canvas: np.ndarray, points: np.ndarray, width: int, closed: bool = False) -> None:
    cv2.polylines(canvas, [np.round(points).astype(np.int32)], closed, 0, width, cv2.LINE_AA)


def _scribble(rng: np.random.Generator, split: str) -> np.ndarray:
    canvas = np.full((SIDE, SIDE), 255, np.uint8)
    strokes = rng.integers(1, 4) if split == "train" else rng.integers(2, 5)
    paths = []
    while not paths or _thin(np.vstack(paths)):  # a lone straight-ish stroke is a 1, not a scribble
        paths = [_stroke(rng, split) for _ in range(strokes)]
    for path in paths:
        _line(canvas, path, _width(rng))
    return canvas


def _stroke(rng: np.random.Generator, split: str) -> np.ndarray:
    count = rng.integers(5, 12)
    if split == "train":  # wandering strokes
        points = np.cumsum(rng.normal(0, 45, (count, 2)), axis=0) + rng.uniform(80, 200, 2)
    else:  # loops and zigzags about a centre
        angle = np.cumsum(rng.uniform(0.5, 2.5, count))
        radius = rng.uniform(20, 110, count)
        points = np.column_stack([np.cos(angle) * radius, np.sin(angle) * radius]) + rng.uniform(100, 180, 2)
    return _smooth(np.clip(points, 15, SIDE - 15))


def _thin(points: np.ndarray) -> bool:
    extent = points.max(axis=0) - points.min(axis=0)
    return bool(extent.min() < 0.35 * extent.max())


def _polygon(rng: np.random.Generator, sides: int, radius: float, star: bool = False) -> np.ndarray:
    turn = np.linspace(0, 2 * np.pi, sides * (2 if star else 1), endpoint=False) + rng.uniform(0, np.pi)
    r = np.full(len(turn), radius)
    if star:
        r[1::2] *= rng.uniform(0.35, 0.55)
    return np.column_stack([np.cos(turn) * r, np.sin(turn) * r]) + SIDE / 2


def _shape(rng: np.random.Generator, split: str) -> np.ndarray:
    canvas = np.full((SIDE, SIDE), 255, np.uint8)
    width, c, r = _width(rng), SIDE / 2, rng.uniform(60, 110)
    families = ("rect", "triangle", "star", "polygon", "heart", "arrow", "spiral", "hash", "wave")
    if split == "heldout":
        families = ("diamond", "house", "smiley", "bolt", "filled", "frames", "cloud")
    family = families[rng.integers(len(families))]
    if family in ("rect", "frames"):
        for k in range(1 if family == "rect" else 2):
            w, h = rng.uniform(50, 120, 2) * (1 - 0.4 * k)
            cv2.rectangle(canvas, (int(c - w), int(c - h)), (int(c + w), int(c + h)), 0, width, cv2.LINE_AA)
    elif family in ("triangle", "polygon", "diamond", "filled"):
        sides = {"triangle": 3, "diamond": 4}.get(family, int(rng.integers(5, 9)))
        points = _polygon(rng, sides, r) * [1, rng.uniform(0.6, 1.0) if family != "diamond" else 1.4] + [0, 0]
        if family == "filled":
            cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 0, cv2.LINE_AA)
        else:
            _line(canvas, points, width, closed=True)
    elif family == "star":
        _line(canvas, _polygon(rng, int(rng.integers(5, 8)), r, star=True), width, closed=True)
    elif family in ("heart", "cloud", "smiley"):
        t = np.linspace(0, 2 * np.pi, 120)
        if family == "heart":
            pts = (
                np.column_stack([16 * np.sin(t) ** 3, -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t))])
                * r
                / 17
            )
        elif family == "cloud":
            pts = np.column_stack([np.cos(t), 0.6 * np.sin(t)]) * (r + 12 * np.abs(np.sin(4 * t)))[:, None]
        else:
            pts = np.column_stack([np.cos(t), np.sin(t)]) * r
            for eye in (-0.35, 0.35):
                cv2.circle(canvas, (int(c + eye * r), int(c - 0.3 * r)), max(width // 2, 4), 0, -1, cv2.LINE_AA)
            mouth = np.column_stack([np.cos(t[10:50]) * 0.55 * r, np.sin(t[10:50]) * 0.5 * r]) + c
            _line(canvas, mouth, width)
        _line(canvas, pts + c, width, closed=True)
    elif family == "arrow":
        a = rng.uniform(0, 2 * np.pi)
        d = np.array([np.cos(a), np.sin(a)]) * r
        tip = c + d
        _line(canvas, np.array([c - d, tip]), width)
        for side in (-1, 1):
            b = a + np.pi + side * 0.5
            _line(canvas, np.array([tip, tip + np.array([np.cos(b), np.sin(b)]) * r * 0.5]), width)
    elif family == "spiral":
        t = np.linspace(0, rng.uniform(3, 6) * np.pi, 200)
        _line(canvas, np.column_stack([np.cos(t), np.sin(t)]) * (t / t[-1] * r)[:, None] + c, width)
    elif family == "hash":
        for k in (-1, 1):
            _line(canvas, np.array([[c + k * 35, c - r], [c + k * 35, c + r]]), width)
            _line(canvas, np.array([[c - r, c + k * 35], [c + r, c + k * 35]]), width)
    elif family == "wave":
        x = np.linspace(-r, r, 80)
        _line(canvas, np.column_stack([x + c, np.sin(x / r * rng.uniform(3, 8)) * r * 0.4 + c]), width)
    elif family == "house":
        _line(canvas, np.array([[c - r, c + r], [c - r, c], [c, c - r], [c + r, c], [c + r, c + r]]), width, True)
    else:  # bolt
        _line(canvas, np.array([[c + 30, c - r], [c - 40, c + 10], [c + 30, c], [c - 30, c + r]]), width)
    return _tilt(rng, canvas)


def _tilt(rng: np.random.Generator, canvas: np.ndarray, degrees: float = 20) -> np.ndarray:
    """A random rotation, shear and squash: drawn, not printed."""
    m = cv2.getRotationMatrix2D((SIDE / 2, SIDE / 2), rng.uniform(-degrees, degrees), rng.uniform(0.8, 1.1))
    m[0, 1] += rng.uniform(-0.3, 0.3)
    return cv2.warpAffine(canvas, m, (SIDE, SIDE), borderValue=255)


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
    return _tilt(rng, canvas)


def _font(rng: np.random.Generator, split: str) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    files = sorted((_FONT_ROOT / _FONT_DIRS[split]).glob("*.ttf"))
    if not files:
        return _hershey(rng, split)
    chars = _characters(split)
    font = ImageFont.truetype(str(files[rng.integers(len(files))]), int(rng.integers(150, 220)))
    image = Image.new("L", (SIDE, SIDE), 255)
    draw = ImageDraw.Draw(image)
    text = chars[rng.integers(len(chars))]
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    at = ((SIDE - (right - left)) / 2 - left, (SIDE - (bottom - top)) / 2 - top)
    draw.text(at, text, fill=0, font=font, stroke_width=int(rng.integers(0, 6)), stroke_fill=0)
    return _tilt(rng, np.asarray(image, np.uint8).copy())


def _crossed(rng: np.random.Generator, digit: np.ndarray) -> np.ndarray:
    """A digit as the page would draw it, then struck out with lines or a scribble over it."""
    gray = (digit.reshape(28, 28) * 255).astype(np.uint8)
    canvas = 255 - (cv2.resize(gray, (SIDE, SIDE), interpolation=cv2.INTER_CUBIC) > 100).astype(np.uint8) * 255
    width = _width(rng)
    if rng.random() < 0.5:
        for _ in range(int(rng.integers(2, 4))):
            a = rng.uniform(0, np.pi)
            d = np.array([np.cos(a), np.sin(a)]) * 120
            _line(canvas, np.array([SIDE / 2 - d, SIDE / 2 + d]) + rng.normal(0, 15, 2), width)
    else:
        t = np.linspace(0, 2 * np.pi * rng.uniform(3, 6), 120)
        pts = np.column_stack([t / t[-1] * 180 - 90, np.sin(t) * 70]) + SIDE / 2
        _line(canvas, pts, width)
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
