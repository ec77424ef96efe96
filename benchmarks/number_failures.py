"""Where /read's misses come from: the segmentation, or a right piece the model misreads.

    python -m benchmarks.number_failures [-n 150] [--seed 0] [--category "MNIST, a touching pair"] [--show K]

Builds the numbers ``scripts.eval_numbers`` builds (same seed, same numbers), which know where
each digit was drawn, and sorts every number read wrong twice:

- what went wrong: too many pieces, too few pieces, pieces in the wrong places (a piece's
  columns overlap its digit's by less than ``MATCH``), or the right pieces with a digit
  misread (or called "not a digit", a ``?``), or only the sign or point;
- why: a digit the model misreads even alone (its own ink, normalised as a piece is: the
  model's limit), or no candidate piece where that digit is reads it as that digit (the
  cuts, or a neighbour's ink in the piece), or every digit had a right candidate piece but
  the scores chose others.

Prints, per category, the counts of each, and the digits misread in right pieces (true -> read).
"""

from __future__ import annotations

import argparse
import collections
import functools
from collections.abc import Callable

import numpy as np

import btf
from btf import digits
from btf.data import load
from btf.digits import candidates, numbers
from btf.images.vision import ImageError, to_input
from scripts.cli import OneLineParser, checked_number_set, number_set_arguments, promoted_shipped_model
from scripts.eval_numbers import CATEGORIES, Number, categories

MATCH = 0.75  # a piece and a digit are at the same place when their columns overlap by this (intersection / union)
DEFAULT = ("MNIST, separate", "MNIST, a touching pair", "MNIST, all touching", "pen strokes, a touching pair")


def overlap(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Intersection over union of two boxes' columns (x, y, w, h)."""
    shared = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    return shared / max(1, a[2] + b[2] - shared)


def what(number: Number, reading: numbers.Reading) -> tuple[str, list[str]]:
    """(what went wrong, the digits misread as "true->read") for a number read wrong."""
    labels = [int(c) for c in number.text if c.isdigit()]
    found = reading.digits
    if len(found) != len(labels):
        return ("too many pieces" if len(found) > len(labels) else "too few pieces"), []
    if min(overlap(d.box, box) for d, box in zip(found, number.boxes)) < MATCH:
        return "pieces in the wrong places", []
    wrong = [f"{t}->{d.label if d.is_digit else '?'}" for d, t in zip(found, labels) if not d.is_digit or d.label != t]
    return ("right pieces, a digit misread", wrong) if wrong else ("only the sign or point", [])


def why(number: Number, predict: Callable) -> tuple[str, list[int]]:
    """The first cause that holds (the model misreads a digit alone; no candidate piece reads a digit; the
    choice), and the digits that no candidate piece reads."""
    labels = [int(c) for c in number.text if c.isdigit()]
    alone = predict(np.stack([_input(g) for g in number.glyphs]))
    if any(int(k) != t or not ok for k, t, ok in zip(alone.labels, labels, alone.is_digit)):
        return "a digit the model misreads alone", []
    prepared = numbers.prepare(number.image)
    groups, joins = numbers.units(prepared, predict)
    sx = prepared.scale[0]
    pieces = []  # (columns in the image's pixels, label, is a digit) of every candidate piece
    for unit in groups + [j for j, _, _ in joins]:
        for c in unit.candidates:
            if c.input is not None and c.confidences is not None:
                x, _, w, _ = c.piece.box
                box = (round((unit.origin.x + x) * sx), 0, round(w * sx), 0)
                pieces.append((box, int(c.confidences.argmax()), c.is_digit))
                pair = candidates.pair_score(c, unit)[1]
                if pair >= 0:  # read as a touching pair: its two digits, boxed as /read boxes them
                    halves = numbers.as_digits(c, unit, pair, (sx, sx))
                    pieces += [((d.box[0], 0, d.box[2], 0), d.label, True) for d in halves]
    missing = [t for box, t in zip(number.boxes, labels)
               if not any(overlap(b, box) >= MATCH and k == t and ok for b, k, ok in pieces)]  # fmt: skip
    return ("no candidate piece reads a digit" if missing else "right candidates, chosen otherwise"), missing


def _input(glyph: np.ndarray) -> np.ndarray:
    try:
        return to_input(np.pad(glyph, 2))  # a frame of background, as every piece has
    except ImageError:
        return np.zeros(784, np.float32)


def main(argv: list[str] | None = None) -> None:
    p = OneLineParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    number_set_arguments(p, n=150)
    p.add_argument("--category", action="append", help="a category of scripts.eval_numbers (repeatable)")
    p.add_argument("--show", type=int, default=0, metavar="K", help="print K misses per category")
    args = p.parse_args(argv)
    checked_number_set(p, args)
    unknown = [name for name in args.category or [] if name not in CATEGORIES]
    if unknown:  # before a single number is built
        p.error(f"unknown category {unknown[0]!r}; the categories are: {', '.join(CATEGORIES)}")
    X, y = load(args.data)["test"]
    predict = functools.partial(digits.read, btf.Graph.load(args.model or promoted_shipped_model()))
    sets = categories(X, y, args.n, args.seed)
    for name in args.category or DEFAULT:
        report(name, sets[name], predict, args.show)


def report(name: str, numbers_: list[Number], predict: Callable, show: int) -> None:
    kinds, causes, misread, missing = (collections.Counter() for _ in range(4))
    shown = 0
    for number in numbers_:
        try:
            reading = numbers.read_image(number.image, predict)
        except ImageError as exc:
            kinds[f"refused ({exc.code})"] += 1
            continue
        if reading.text == number.text:
            continue
        kind, wrong = what(number, reading)
        cause, lost = why(number, predict)
        missing.update(lost)
        kinds[kind] += 1
        causes[f"{kind}: {cause}"] += 1
        misread.update(wrong)
        if shown < show:
            print(f"    {number.text!r:10} read as {reading.text!r:10} {kind}; {cause}")
            shown += 1
    print(f"{name}: {sum(kinds.values())} of {len(numbers_)} missed")
    for kind, count in kinds.most_common():
        print(f"  {count:4}  {kind}")
        for cause, n in causes.most_common():
            if cause.startswith(kind + ":"):
                print(f"  {n:8}  {cause[len(kind) + 2 :]}")
    if misread:
        print("  misread in right pieces:", ", ".join(f"{k} {n}" for k, n in misread.most_common(12)))
    if missing:
        print("  digits no candidate piece reads:", ", ".join(f"{k}: {n}" for k, n in sorted(missing.items())))


if __name__ == "__main__":
    main()
