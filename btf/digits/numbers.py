"""Read a whole handwritten number from one image: digits, a decimal point, a leading minus.

    reading = read_image(png_bytes, graph.predict)  # or read(prepare(png_bytes), graph.predict)
    reading.text, reading.confidence, [d.label for d in reading.digits]

Steps: decode onto a working canvas of at most ``READ_SIDE`` a side (bounded before any pixel
is decoded, as for one digit), laid out again at a fraction of the size when the row is far
taller than ``ROW_HEIGHT``; extract the ink as ``btf.images.vision`` does; lay out the row
(``btf.digits.segment``); read each digit group whole, normalised exactly as a single digit is
(``to_input``: crop, stroke width, 20 px box, centre of mass in 28x28), all in one call of
``predict``; only for the groups whose whole reading a split could beat, offer candidate cuts
(``btf.digits.candidates``, ``btf.digits.cuts``) and read all their pieces in a second call;
then one dynamic programme over the row keeps the pieces whose confidences, not-a-digit
scores and shapes score best (``candidates.score``), a group being cut only into pieces that
are digits (``candidates.choosable``). A piece the classifier
calls "not a digit" (``btf.digits.read``, the decision /predict makes too) reads as ``?``.
With a pair model (``btf.digits.PAIRS``), a piece it is sure holds two touching digits may
also be chosen as both (``candidates.pair_score``, ``as_digits``).

Cost is bounded whatever the image: the canvas side, ``segment.MAX_STROKES`` strokes,
``segment.MAX_DIGITS`` digit groups, ``cuts.MAX_CUTS`` cuts a group, ``MAX_PIECES`` cut
pieces a request (a group that would go over keeps its whole reading) and two model calls.
The figures in docs/benchmarks.md are with OpenCV on one thread, as the function sets it
(``cv2.setNumThreads(1)``): its many small calls cost more CPU with OpenCV's default threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from btf import digits
from btf.digits import candidates, cuts, segment
from btf.digits.candidates import CUT_COST, Candidate, Unit, choosable, offer_cuts, pair_score, score
from btf.images.imagefile import DEFAULT_MAX_PIXELS, ImageError, decode, working_gray
from btf.images.vision import ink_layer, to_input

READ_SIDE = 480
ROW_HEIGHT = 48
MAX_DIGITS = segment.MAX_DIGITS
MAX_PIECES = candidates.MAX_PIECES
# How a model reads pieces: btf.digits.read bound to it (closest digits, calibrated confidences, is_digit).
Predict = Callable[[np.ndarray], digits.Reading]


@dataclass
class Digit:
    label: int
    confidences: np.ndarray  # (10,)
    is_digit: bool
    box: tuple[int, int, int, int]  # x, y, w, h in the image's pixels
    input: np.ndarray  # (784,) what the model saw


@dataclass
class Reading:
    text: str
    confidence: float  # the product of the digits' confidences
    digits: list[Digit]
    marks: list[tuple[str, tuple[int, int, int, int]]] = field(default_factory=list)  # ("." or "-", box)


@dataclass
class Prepared:
    """An image laid out and ready to read: every check that needs no model has passed."""

    layout: segment.Layout
    scale: tuple[float, float]  # image pixels per working-canvas pixel, (x, y)


def prepare(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Prepared:
    """Image file bytes -> its laid-out row; raises ImageError (``no_digit``, ``too_many_digits``, format, size)."""
    header, image = decode(data, max_pixels, side=READ_SIDE)
    gray = working_gray(header, image, data, READ_SIDE)
    size = (header.width, header.height)
    if (gray.shape[1] >= gray.shape[0]) != (header.width >= header.height):
        size = size[::-1]  # the EXIF orientation turned it a quarter
    return prepare_gray(gray, size)


def prepare_gray(gray: np.ndarray, size: tuple[int, int] | None = None) -> Prepared:
    """A uint8 grayscale canvas (at most READ_SIDE a side) -> its row; boxes will be scaled to ``size`` (w, h)."""
    if max(gray.shape) > READ_SIDE:
        raise ValueError(f"a canvas is at most {READ_SIDE} a side; prepare() reduces larger images")
    scale = (size[0] / gray.shape[1], size[1] / gray.shape[0]) if size else (1.0, 1.0)
    lay = segment.layout(*ink_layer(gray))
    # Digits are read at 20 px: a row far taller than ROW_HEIGHT is laid out again at a fraction
    # of the size, which makes every piece, cut and normalisation after it cheaper.
    factor = int(lay.height // ROW_HEIGHT)
    if factor >= 2:
        small = cv2.resize(gray, (max(1, gray.shape[1] // factor), max(1, gray.shape[0] // factor)),
                           interpolation=cv2.INTER_AREA)  # fmt: skip
        lay = segment.layout(*ink_layer(small))
        scale = (scale[0] * gray.shape[1] / small.shape[1], scale[1] * gray.shape[0] / small.shape[0])
    return Prepared(lay, scale)


def read(prepared: Prepared, predict: Predict) -> Reading:
    """Read a prepared row with a model's ``predict`` (inputs (n, 784) -> labels, confidences (n, 10))."""
    groups, joins = units(prepared, predict)
    return _assemble(prepared.layout, groups, joins, prepared.scale)


def units(prepared: Prepared, predict: Predict) -> tuple[list[Unit], list[tuple[Unit, int, int]]]:
    """What ``read`` chooses from: each digit group with its candidate pieces, and the joins of
    neighbouring groups (unit, first group, last group), every piece read by ``predict``."""
    lay = prepared.layout
    groups = [_unit(lay, [g]) for g in lay.groups]
    joins = _joins(lay)
    _classify([g.candidates[0] for g in groups + [j for j, _, _ in joins]], predict)
    _classify(offer_cuts(groups, lay.stroke), predict)
    return groups, joins


def read_image(data: bytes, predict: Predict, max_pixels: int = DEFAULT_MAX_PIXELS) -> Reading:
    """Image file bytes -> the number in it: ``prepare`` then ``read``."""
    return read(prepare(data, max_pixels), predict)


def _unit(lay: segment.Layout, parts: list[segment.Group]) -> Unit:
    box = parts[0].box
    for part in parts[1:]:
        box = box.union(part.box)
    ink, origin = segment.group_ink(lay, segment.Group(box, [label for p in parts for label in p.labels]))
    return Unit(ink, origin, max(box.h, lay.height), [Candidate(cuts.pieces(ink, [])[0])])


def _joins(lay: segment.Layout) -> list[tuple[Unit, int, int]]:
    """Neighbouring groups that may be one digit broken in parts (a 9's loop and its tail): (unit, first, last)."""
    found = []
    groups = lay.groups
    for first in range(len(groups) - 1):
        for last in range(first + 1, min(first + MAX_JOIN, len(groups))):
            a, b = groups[last - 1].box, groups[last].box
            box = groups[first].box.union(b)
            if last - 1 in lay.points or b.x - a.x1 > JOIN_GAP * lay.height or box.w > JOIN_WIDTH * box.h:
                break
            found.append((_unit(lay, groups[first : last + 1]), first, last))
    return found


def _classify(candidates: list[Candidate], predict: Predict) -> None:
    """Normalise each piece as a single digit is, and read them all in one call of ``predict``."""
    if not candidates:
        return
    inputs = np.zeros((len(candidates), 784), np.float32)
    for k, candidate in enumerate(candidates):
        try:
            inputs[k] = to_input(candidate.piece.ink)
            candidate.input = inputs[k]
        except ImageError:
            pass
    reading = predict(inputs)
    confidences = np.asarray(reading.confidences, dtype=np.float64).reshape(len(inputs), -1)
    flags, scores = reading.is_digit.tolist(), np.asarray(reading.not_digit, dtype=np.float64).tolist()
    pairs = reading.pairs if reading.pairs is not None else [None] * len(candidates)
    for candidate, row, flag, nd, pair in zip(candidates, confidences, flags, scores, pairs):
        candidate.confidences, candidate.is_digit, candidate.not_digit, candidate.pairs = row, bool(flag), nd, pair


# Neighbours at most this far apart (of the row height), up to MAX_JOIN of them, no wider
# together than JOIN_WIDTH of their height, may be read as one digit.
JOIN_GAP, JOIN_WIDTH, MAX_JOIN, JOIN_COST = 0.05, 1.5, 3, 0.25


def _assemble(lay: segment.Layout, groups: list[Unit], joins: list, scale: tuple[float, float]) -> Reading:
    """One dynamic programme over the row: each group's cuts are nodes, and a group's end is the next one's start."""
    firsts = np.cumsum([0] + [len(g.cut_costs) + 1 for g in groups]).tolist()  # node of each group's left edge
    scores: dict[tuple[int, int], float] = {}
    chosen: dict[tuple[int, int], tuple[Candidate, Unit, int]] = {}  # the pair read, or -1 for one digit

    def offer(run: tuple[int, int], value: float, candidate: Candidate, unit: Unit, pair: int = -1) -> None:
        if value > scores.get(run, -math.inf):
            scores[run], chosen[run] = value, (candidate, unit, pair)

    costs = [0.0] * firsts[-1]
    for g, unit in enumerate(groups):
        for k, cost in enumerate(unit.cut_costs):
            costs[firsts[g] + k] = cost * CUT_COST  # node firsts[g] + k + 1, listed from node 1
        for candidate in choosable(unit):
            offer(_run(firsts[g], candidate), score(candidate, unit), candidate, unit)
        for candidate in unit.candidates:  # with a pair model, any piece may be two touching digits
            value, pair = pair_score(candidate, unit)
            if pair >= 0:
                offer(_run(firsts[g], candidate), value, candidate, unit, pair)
    for unit, first, last in joins:
        if not unit.candidates[0].is_digit:
            continue  # neighbours are joined only into a digit
        offer((firsts[first], firsts[last + 1]), score(unit.candidates[0], unit) - JOIN_COST, unit.candidates[0], unit)
    ends = {firsts[g + 1]: g for g in range(len(groups))}
    sx, sy = scale
    text = ["-"] if lay.minus is not None else []
    marks = [("-", lay.minus)] if lay.minus is not None else []
    found: list[Digit] = []
    for run in cuts.best_split(firsts[-1] + 1, scores, costs):
        candidate, unit, pair = chosen[run]
        for digit in as_digits(candidate, unit, pair, scale):
            found.append(digit)
            text.append(str(digit.label) if digit.is_digit else "?")
        if ends.get(run[1]) in lay.points:
            text.append(".")
            marks.append((".", lay.points[ends[run[1]]]))
    if len(found) > MAX_DIGITS:
        raise ImageError("too_many_digits", f"{len(found)} digits found; a number is read up to {MAX_DIGITS} digits")
    if not found:
        raise ImageError("no_digit", "no digit found: the image is blank or has too little contrast")
    confidence = float(np.prod([d.confidences[d.label] for d in found]))
    shown = [(kind, _scaled((b.x, b.y, b.w, b.h), sx, sy)) for kind, b in marks]
    return Reading("".join(text), confidence, found, shown)


def _run(first: int, candidate: Candidate) -> tuple[int, int]:
    """The row's nodes a group's candidate spans, the group starting at node ``first``."""
    return first + candidate.piece.start, first + candidate.piece.end


def as_digits(candidate: Candidate, unit: Unit, pair: int, scale: tuple[float, float]) -> list[Digit]:
    """The digit a chosen piece reads as, or, read as a touching ``pair``, its two digits: each with its
    confidences given the other (the pair's row and column), its side of the piece, and the pair's input."""
    x, y, w, h = candidate.piece.box
    x, y = unit.origin.x + x, unit.origin.y + y
    if pair < 0:
        conf = candidate.confidences
        return [Digit(int(conf.argmax()), conf, candidate.is_digit, _scaled((x, y, w, h), *scale), candidate.input)]
    table = candidate.pairs.reshape(10, 10)
    left, right = divmod(pair, 10)
    split = _split_column(candidate.piece.ink)
    sides = [((x, y, split, h), table[:, right]), ((x + split, y, w - split, h), table[left, :])]
    return [Digit(int(c.argmax()), c / max(c.sum(), 1e-300), True, _scaled(box, *scale), candidate.input)
            for box, c in sides]  # fmt: skip


def _split_column(framed: np.ndarray) -> int:
    """Where a pair's two digits meet, in its ink's columns: the least-inked column of its middle half."""
    ink = framed[cuts.MARGIN : -cuts.MARGIN, cuts.MARGIN : -cuts.MARGIN]
    w = ink.shape[1]
    lo, hi = w // 4, max(w // 4 + 1, (3 * w) // 4)
    return int(np.clip(lo + int(np.argmin(ink[:, lo:hi].sum(axis=0))), 1, max(w - 1, 1)))


def _scaled(box: tuple[int, int, int, int], sx: float, sy: float) -> tuple[int, int, int, int]:
    x, y, w, h = box
    return round(x * sx), round(y * sy), max(1, round(w * sx)), max(1, round(h * sy))
