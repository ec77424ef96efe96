"""How many whole numbers /read gets right: separate and touching digits, other writers, points and minus signs.

    python -m scripts.eval_numbers [--model models/model-v5.npz] [--data ../shared/data/mnist] [-n 60] [--seed 0]

Builds its own evaluation set: numbers of 2 to 6 digits, drawn dark on white at several
scales, with mixed sizes and a drifting baseline (``compose``), in categories:

- MNIST t10k digits, separate; and touching (neighbours moved until their ink meets);
- Hershey-font digits (varied font, weight, slant) and procedural pen strokes (each digit a
  few jittered strokes, as a person draws it: a 4 and a 5 in two strokes, crossed 7s), as
  writers that are not MNIST's;
- a decimal point or a leading minus sign; specks scattered around the number;
- held-out drawings that are not digits (``btf.digits.negatives``): the share /read answers
  with a number, no ``?`` in it, which is a wrong answer.

Each image goes through ``btf.digits.numbers.read_image`` with the model, as the /read handler
does. Prints, per category, the share of numbers read whole (sign and point included).
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

import btf
from btf import digits
from btf.data import load
from btf.digits.numbers import read_image
from btf.images.vision import ImageError
from scripts.cli import OneLineParser, checked_number_set, number_set_arguments, promoted_shipped_model

ROOT = Path(__file__).resolve().parents[1]
MAX_NON_DIGITS = 100_000
CATEGORIES = (
    "MNIST, separate",
    "MNIST, a touching pair",
    "MNIST, all touching",
    "fonts, separate",
    "pen strokes, separate",
    "pen strokes, a touching pair",
    "MNIST, decimal point",
    "MNIST, leading minus",
    "MNIST, specks",
)


# ------------------------------------------------------------------ writers and composition
FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
)


def crop(ink: np.ndarray) -> np.ndarray:
    """A glyph (white ink on black) cropped to its ink."""
    ys, xs = np.nonzero(ink > 30)
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def mnist_glyph(image: np.ndarray) -> np.ndarray:
    return crop((np.asarray(image).reshape(28, 28) * 255).astype(np.uint8))


def font_glyph(digit: int, rng: np.random.Generator) -> np.ndarray:
    """A digit in a Hershey font at a random weight and slant."""
    canvas = np.zeros((200, 200), np.uint8)
    font = FONTS[rng.integers(len(FONTS))] | (cv2.FONT_ITALIC if rng.random() < 0.3 else 0)
    cv2.putText(canvas, str(digit), (40, 160), font, 4, 255, int(rng.integers(4, 14)), cv2.LINE_AA)
    slant = rng.uniform(-0.25, 0.25)
    canvas = cv2.warpAffine(canvas, np.float32([[1, -slant, slant * 100], [0, 1, 0]]), (200, 200))
    return crop(canvas)


def _arc(cx, cy, rx, ry, start, end, n=14):
    t = np.radians(np.linspace(start, end, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


# Each digit: strokes as lists of (x, y) in a unit box (y down), with alternatives.
STROKES = {
    0: [[_arc(0.5, 0.5, 0.5, 0.5, -90, 275)]],
    1: [[[(0.5, 0.0), (0.5, 1.0)]], [[(0.2, 0.2), (0.55, 0.0), (0.55, 1.0)]]],
    2: [[_arc(0.5, 0.28, 0.45, 0.28, 190, 360) + [(0.85, 0.45), (0.0, 1.0), (1.0, 1.0)]]],
    3: [[_arc(0.45, 0.25, 0.45, 0.25, 200, 450) + _arc(0.45, 0.73, 0.5, 0.27, 270, 520)]],
    4: [
        [[(0.65, 0.0), (0.0, 0.65), (1.0, 0.65)], [(0.72, 0.3), (0.72, 1.0)]],
        [[(0.1, 0.0), (0.05, 0.6), (0.95, 0.6)], [(0.75, 0.0), (0.75, 1.0)]],
    ],
    5: [[[(0.95, 0.0), (0.2, 0.0)], [(0.2, 0.0), (0.12, 0.45)] + _arc(0.45, 0.68, 0.5, 0.32, 220, 490)]],
    6: [[[(0.8, 0.0), (0.35, 0.25)] + _arc(0.5, 0.7, 0.45, 0.3, 180, 540)]],
    7: [[[(0.0, 0.0), (1.0, 0.0), (0.3, 1.0)]], [[(0.0, 0.0), (1.0, 0.0), (0.3, 1.0)], [(0.3, 0.5), (0.9, 0.5)]]],
    8: [[_arc(0.5, 0.25, 0.38, 0.25, 90, 450) + _arc(0.5, 0.74, 0.48, 0.26, -90, 270)]],
    9: [[_arc(0.5, 0.3, 0.48, 0.3, 0, 360) + [(0.98, 0.3), (0.85, 1.0)]]],
}


def stroke_glyph(digit: int, rng: np.random.Generator) -> np.ndarray:
    """A digit drawn as jittered pen strokes: random width, slant, aspect and pen weight."""
    strokes = STROKES[digit][rng.integers(len(STROKES[digit]))]
    height, width = 160, 160 * rng.uniform(0.5, 0.8) * (0.35 if digit == 1 else 1.0)
    slant, pen = rng.uniform(-0.3, 0.3), int(rng.integers(10, 24))
    canvas = np.zeros((240, 280), np.uint8)
    for stroke in strokes:
        pts = np.array(stroke, np.float64) + rng.normal(0, 0.03, (len(stroke), 2))
        x = 60 + pts[:, 0] * width - slant * (pts[:, 1] - 0.5) * height
        y = 40 + pts[:, 1] * height
        cv2.polylines(canvas, [np.stack([x, y], 1).round().astype(np.int32)], False, 255, pen, cv2.LINE_AA)
    return crop(canvas)


@dataclass
class Number:
    image: bytes  # PNG, dark ink on white
    text: str  # what it reads
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # each digit's x, y, w, h in the image
    glyphs: list[np.ndarray] = field(default_factory=list)  # each digit's own ink (white on black), as drawn


def compose(
    glyphs: list[np.ndarray],
    labels: list[int],
    rng: np.random.Generator,
    *,
    touching: bool | int = False,
    point: int | None = None,
    minus: bool = False,
    specks: int = 0,
    height: int | None = None,
) -> Number:
    """Lay glyphs out in a row; ``point`` puts a decimal point after glyph ``point``.

    ``touching``: True moves every glyph against the one before; an int k only glyph k.
    """
    h = height or int(rng.choice([28, 40, 64, 120]))
    stroke = max(1.0, 0.12 * h)
    sized = [_resize(g, h * rng.uniform(0.85, 1.1)) for g in glyphs]
    width = int(sum(g.shape[1] for g in sized) + h * (1.0 + 0.7 * len(sized)) + (h if minus else 0))
    canvas = np.zeros((int(h * 2.2), width), np.uint8)
    slope = rng.uniform(-0.08, 0.08)
    base = lambda x: int(h * 1.6 + slope * (x - width / 2))  # noqa: E731 - the drifting baseline
    x, boxes = int(h * 0.3), []
    if minus:
        length, mid = int(h * rng.uniform(0.3, 0.55)), base(x) - int(h * rng.uniform(0.4, 0.6))
        cv2.line(canvas, (x, mid), (x + length, mid), 255, max(1, round(stroke)), cv2.LINE_AA)
        x += length + int(h * rng.uniform(0.15, 0.35))
    for k, glyph in enumerate(sized):
        y = base(x) - glyph.shape[0] + int(rng.integers(-1, 2) * h * 0.03)
        y = min(max(y, 0), canvas.shape[0] - glyph.shape[0])
        if (touching is True or (touching is not False and k == touching)) and k > 0 and k - 1 != point:
            x = _touch(canvas, glyph, x, y, int(rng.uniform(0, 0.12) * h))
        region = canvas[y : y + glyph.shape[0], x : x + glyph.shape[1]]
        np.maximum(region, glyph[: region.shape[0], : region.shape[1]], out=region)
        boxes.append((x, y, region.shape[1], region.shape[0]))
        x += glyph.shape[1]
        if k == point:
            r = max(1, round(h * rng.uniform(0.05, 0.08)))
            gap = int(h * rng.uniform(0.2, 0.4))
            cv2.circle(canvas, (x + gap // 2 + r, base(x) - r), r, 255, -1, cv2.LINE_AA)
            x += gap + 2 * r
        x += int(h * rng.uniform(0.15, 0.5))
    for _ in range(specks):
        r = max(1, round(h * rng.uniform(0.01, 0.03)))
        sx, sy = int(rng.integers(0, x + h // 2)), int(rng.integers(0, canvas.shape[0]))
        if canvas[max(sy - h // 4, 0) : sy + h // 4, max(sx - h // 4, 0) : sx + h // 4].max() == 0:
            cv2.circle(canvas, (sx, sy), r, 255, -1, cv2.LINE_AA)
    canvas = canvas[:, : min(width, x + int(h * 0.3))]
    text = ("-" if minus else "") + "".join(str(d) + ("." if k == point else "") for k, d in enumerate(labels))
    return Number(cv2.imencode(".png", 255 - canvas)[1].tobytes(), text, boxes, sized)


def _resize(glyph: np.ndarray, height: float) -> np.ndarray:
    scale = height / glyph.shape[0]
    size = (max(1, round(glyph.shape[1] * scale)), max(1, round(height)))
    return cv2.resize(glyph, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _touch(canvas: np.ndarray, glyph: np.ndarray, x: int, y: int, overlap: int) -> int:
    """The column at which ``glyph`` (placed at row ``y``) first touches the ink already left of ``x``, minus ``overlap``."""
    gh = glyph.shape[0]
    rows = canvas[y : y + gh, :x] > 60
    right = np.where(rows.any(axis=1), x - 1 - np.argmax(rows[:, ::-1], axis=1), -(10**6))
    mine = glyph[: rows.shape[0]] > 60
    left = np.where(mine.any(axis=1), np.argmax(mine, axis=1), 10**6)
    # Rows of both, and the rows either side, so diagonal strokes meet too.
    gaps = [left[r] - right[s] for r in range(len(left)) for s in (r - 1, r, r + 1) if 0 <= s < len(right)]
    if not gaps or min(gaps) > 10**5:
        return x  # no row in common: nothing to touch
    return max(0, 1 - min(gaps) - overlap)


# ------------------------------------------------------------------ the evaluation


def categories(X: np.ndarray, y: np.ndarray, n: int, seed: int) -> dict[str, list[Number]]:
    """``n`` numbers per category, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)

    def mnist(count: int) -> tuple[list[np.ndarray], list[int]]:
        picks = rng.integers(0, len(y), count)
        return [mnist_glyph(X[i]) for i in picks], [int(y[i]) for i in picks]

    def drawn(make: Callable) -> Callable[[int], tuple[list[np.ndarray], list[int]]]:
        def writer(count: int) -> tuple[list[np.ndarray], list[int]]:
            labels = [int(d) for d in rng.integers(0, 10, count)]
            return [make(d, rng) for d in labels], labels

        return writer

    def build(writer, **options) -> list[Number]:
        numbers = []
        for _ in range(n):
            glyphs, labels = writer(int(rng.integers(2, 7)))
            numbers.append(compose(glyphs, labels, rng, **{k: v(len(labels)) for k, v in options.items()}))
        return numbers

    fonts, strokes = drawn(font_glyph), drawn(stroke_glyph)
    built = [  # in CATEGORIES' order, each drawn from the one generator in turn
        build(mnist),
        build(mnist, touching=lambda k: int(rng.integers(1, k))),
        build(mnist, touching=lambda _: True),
        build(fonts),
        build(strokes),
        build(strokes, touching=lambda k: int(rng.integers(1, k))),
        build(mnist, point=lambda k: int(rng.integers(0, k - 1))),
        build(mnist, minus=lambda _: True),
        build(mnist, specks=lambda _: int(rng.integers(3, 9))),
    ]
    return dict(zip(CATEGORIES, built, strict=True))


def read(number: Number, predict) -> str:
    try:
        return read_image(number.image, predict).text
    except ImageError as exc:
        return f"<{exc.code}>"


def main(argv: list[str] | None = None) -> None:
    p = OneLineParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    number_set_arguments(p, n=60)
    p.add_argument(
        "--non-digits", type=int, default=200, metavar="N", help="held-out non-digit drawings to read (default 200)"
    )
    p.add_argument(
        "--non-digits-seed", type=int, default=None, metavar="S", help="draw them from seed S (default: the gate's)"
    )
    p.add_argument("--show-errors", type=int, default=0, metavar="K", help="print K misreads per category")
    args = p.parse_args(argv)
    checked_number_set(p, args)
    if not 0 <= args.non_digits <= MAX_NON_DIGITS:  # each is drawn and kept as a PNG before any is read
        p.error(f"--non-digits must be 0 to {MAX_NON_DIGITS:,}, not {args.non_digits}")
    X, y = load(args.data)["test"]
    net = btf.Graph.load(args.model or promoted_shipped_model())
    sets = categories(X, y, args.n, args.seed)
    total = right = 0
    start = time.process_time()
    print(f"{'category':26} {'n':>5} {'read whole':>11}")
    for name, numbers in sets.items():
        answers = [read(number, functools.partial(digits.read, net)) for number in numbers]
        ok = [a == number.text for a, number in zip(answers, numbers)]
        total, right = total + len(ok), right + sum(ok)
        print(f"{name:26} {len(ok):5} {np.mean(ok):11.1%}")
        misses = [(number.text, a) for a, number, good in zip(answers, numbers, ok) if not good]
        for want, got in misses[: args.show_errors]:
            print(f"    {want!r:12} read as {got!r}")
    seconds = time.process_time() - start
    print(f"{'all':26} {total:5} {right / total:11.1%}   ({seconds / total * 1000:.1f} ms CPU a number)")
    if args.non_digits > 0:
        drawn = non_digits(args.non_digits, args.non_digits_seed)
        taken = [read_non_digit(png, functools.partial(digits.read, net)) for png in drawn]
        print(f"{'non-digit drawings':26} {len(taken):5} {np.mean(taken):11.1%}   read as a number with no '?'")


def non_digits(n: int, seed: int | None = None) -> list[bytes]:
    """Held-out drawings that are not digits (btf.digits.negatives: the gate's, unless ``seed`` says), as the page sends them."""
    from btf.digits import evaluation, negatives

    seed = evaluation.GATE_SEED if seed is None else seed
    return [png for _, png in negatives.render(n, seed=seed, split="heldout", kinds=evaluation.HELD_OUT_KINDS)]


def read_non_digit(image: bytes, predict: Callable) -> bool:
    """Whether /read answers ``image`` with a number (digits, a point or a minus, no '?'): a wrong answer."""
    try:
        text = read_image(image, predict).text
    except ImageError:
        return False
    return "?" not in text and any(c.isdigit() for c in text)


if __name__ == "__main__":
    main()
