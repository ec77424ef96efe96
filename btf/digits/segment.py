"""Lay out a handwritten number written in one row: which strokes make each digit, a decimal point, a leading minus.

The ink (white on black, from ``btf.images.vision.ink_layer``) is split into connected strokes. Every
size below is relative to the row's height ``H`` (the median height of the tall strokes), so
the rules hold at any scale:

- strokes at least ``0.3 H`` in size are parts of digits; two of them are one digit when one
  sits over the other (a 5's flag, the two strokes of a 4): the shorter is under 0.6 of the
  taller's height and half of it lies in the taller's columns, or 80% of the narrower one does;
- smaller or flat strokes are marks. A flat one lying over a digit's columns is part of it
  (a detached 7's bar, a 5's flag, the foot of a 2), unless it floats at mid-height off the
  digit's side; neighbouring groups that overlap are offered joined later (``btf.digits.numbers``);
- a round mark in the gap between two digits, low in the row, is a decimal point ``.``;
- a flat mark before the first digit, at mid-height, is a minus sign ``-``;
- every other mark is a speck and is ignored.

The row's top and bottom are taken locally (between the two neighbouring digits), so a
drifting baseline and mixed sizes do not move a point or a minus out of its zone. Cost is
bounded whatever the image: at most ``MAX_STROKES`` strokes are looked at (the largest), and a
row of more than ``MAX_DIGITS`` digit groups is refused before any digit is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from btf.images.imagefile import ImageError

MAX_DIGITS = 12
MAX_STROKES = 64
# A stroke under this share of the largest stroke's area is noise, never a mark.
_NOISE_AREA = 0.002
_PART, _SMALL = 0.6, 0.3  # shorter than 0.6 of its neighbour: a part of it; under 0.3 H: a mark
_FLAT = 1.6  # a stroke this much wider than tall is flat: a dash, a flag, a bar


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def x1(self) -> int:
        return self.x + self.w

    @property
    def y1(self) -> int:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def union(self, other: Box) -> Box:
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Box(x, y, max(self.x1, other.x1) - x, max(self.y1, other.y1) - y)

    def overlap(self, other: Box) -> int:
        """Columns the two boxes share."""
        return max(0, min(self.x1, other.x1) - max(self.x, other.x))


@dataclass
class Group:
    """One digit (or touching digits): its strokes' labels and their box, in working-canvas pixels."""

    box: Box
    labels: list[int] = field(default_factory=list)


@dataclass
class Layout:
    ink: np.ndarray  # uint8, white ink on black: the working canvas
    labels: np.ndarray  # int32 stroke labels of ``ink``
    groups: list[Group]  # left to right
    points: dict[int, Box]  # a decimal point after groups[i]
    minus: Box | None
    height: float  # the row's height H, in pixels
    stroke: float  # the typical stroke width, in pixels


def layout(ink: np.ndarray, threshold: float) -> Layout:
    """Strokes of ``ink`` (pixels at or over ``threshold``) -> digit groups, decimal points and a minus."""
    mask = (ink >= max(threshold, 1)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8, ltype=cv2.CV_32S)
    areas = stats[1:, cv2.CC_STAT_AREA]
    if count <= 1 or areas.max() < 3:
        raise ImageError("no_digit", "no digit found: the image is blank or has too little contrast")
    order = np.argsort(-areas, kind="stable")[:MAX_STROKES]
    keep = [int(i) + 1 for i in order if areas[i] >= max(3, areas.max() * _NOISE_AREA)]
    boxes = {i: Box(*(int(v) for v in stats[i, :4])) for i in keep}
    height = _row_height(list(boxes.values()))
    big = [i for i in keep if max(boxes[i].w, boxes[i].h) >= _SMALL * height and not _flat(boxes[i], height)]
    marks = [i for i in keep if i not in set(big)]
    groups = _merge(big, boxes)
    if not groups:
        raise ImageError("no_digit", "no digit found: only specks and marks, nothing digit-sized")
    marks = _attach(marks, boxes, groups)
    groups.sort(key=lambda g: g.box.cx)
    if len(groups) > MAX_DIGITS:
        raise ImageError(
            "too_many_digits", f"{len(groups)} digits found in one row; a number is read up to {MAX_DIGITS} digits"
        )
    stroke = _stroke_width(mask)
    points = _points(marks, boxes, groups, stroke)
    minus = _minus([boxes[i] for i in marks], groups[0].box)
    return Layout(ink, labels, groups, points, minus, height, stroke)


def _flat(box: Box, height: float) -> bool:
    return box.h < _SMALL * height and box.w >= _FLAT * box.h


def _row_height(boxes: list[Box]) -> float:
    """The median height of the strokes at least half as tall as the tallest (flat ones do not count)."""
    tall = [b.h for b in boxes if b.w < 2.5 * b.h] or [b.h for b in boxes]
    top = max(tall)
    return float(np.median([h for h in tall if h >= top / 2]))


def _merge(big: list[int], boxes: dict[int, Box]) -> list[Group]:
    """Union strokes that make one digit: one over the other's columns (a sweep over x, at most MAX_STROKES^2)."""
    parent = {i: i for i in big}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    ordered = sorted(big, key=lambda i: boxes[i].x)
    for n, a in enumerate(ordered):
        for b in ordered[n + 1 :]:
            if boxes[b].x >= boxes[a].x1:
                break
            if _one_digit(boxes[a], boxes[b]):
                parent[root(a)] = root(b)
    groups: dict[int, Group] = {}
    for i in ordered:
        r = root(i)
        group = groups.setdefault(r, Group(boxes[i]))
        group.box = group.box.union(boxes[i])
        group.labels.append(i)
    return list(groups.values())


def _one_digit(a: Box, b: Box) -> bool:
    short, tall = (a, b) if a.h <= b.h else (b, a)
    shared = a.overlap(b)
    if short.h < _PART * tall.h and shared >= (0.25 if short.h < 0.4 * tall.h else 0.5) * short.w:
        return True  # a flag, a bar, or one of a 4's two strokes
    return shared >= 0.8 * min(a.w, b.w)


def _attach(marks: list[int], boxes: dict[int, Box], groups: list[Group]) -> list[int]:
    """Give each mark lying over a digit's columns to that digit; return the marks left free."""
    free = []
    for i in marks:
        mark = boxes[i]
        best = max(groups, key=lambda g: g.box.overlap(mark))
        shared = best.box.overlap(mark)
        # A flat mark floating at mid-height, mostly off the digit's side, is a sign, not a part.
        side_dash = mark.w >= _FLAT * mark.h and 0.35 < (mark.cy - best.box.y) / max(best.box.h, 1) < 0.7
        reach = max(mark.h, 0.35 * best.box.h)  # a 5's flag may float a little above its body
        inside = best.box.y - reach <= mark.cy <= best.box.y1 + reach
        # A flat mark over a digit is a part of it (a flag, a bar); a small round one is a speck.
        flat = mark.w >= _FLAT * mark.h
        if flat and inside and shared >= (0.7 if side_dash else 0.5) * mark.w and not _in_gap(mark, groups):
            best.box = best.box.union(mark)
            best.labels.append(i)
        else:
            free.append(i)
    return free


def _in_gap(mark: Box, groups: list[Group]) -> bool:
    """A small mark whose centre is in no digit's columns (the place of a decimal point)."""
    return max(mark.w, mark.h) < 0.4 * max(g.box.h for g in groups) and not any(
        g.box.x <= mark.cx < g.box.x1 for g in groups
    )


def _local_band(groups: list[Group], x: float) -> tuple[float, float]:
    """(top, bottom) of the row at column ``x``: interpolated between the digits either side."""
    left = [g.box for g in groups if g.box.cx <= x]
    right = [g.box for g in groups if g.box.cx > x]
    if not left or not right:
        box = (left or right)[-1 if left else 0]
        return float(box.y), float(box.y1)
    a, b = left[-1], right[0]
    t = (x - a.cx) / max(b.cx - a.cx, 1e-6)
    return a.y + t * (b.y - a.y), a.y1 + t * (b.y1 - a.y1)


def _points(marks: list[int], boxes: dict[int, Box], groups: list[Group], stroke: float) -> dict[int, Box]:
    """Round marks low in the gap between two digits: the largest in each gap is a decimal point."""
    points: dict[int, Box] = {}
    for i in marks:
        mark = boxes[i]
        after = sum(1 for g in groups if g.box.cx <= mark.cx) - 1
        if not 0 <= after < len(groups) - 1:
            continue
        top, bottom = _local_band(groups, mark.cx)
        size, band = max(mark.w, mark.h), max(bottom - top, 1.0)
        round_ = mark.w <= 3 * mark.h and mark.h <= 3 * mark.w
        low = mark.cy >= top + 0.7 * band and mark.y1 <= bottom + 0.25 * band
        in_gap = groups[after].box.x1 - 0.2 * band <= mark.cx <= groups[after + 1].box.x + 0.2 * band
        sized = max(0.75 * stroke, 0.08 * band) <= size <= 0.3 * band
        larger = after not in points or size > max(points[after].w, points[after].h)
        if round_ and low and in_gap and sized and larger:
            points[after] = mark
    return points


def _minus(marks: list[Box], first: Box) -> Box | None:
    """The flat mark nearest before the first digit, at its mid-height and not too far: a minus sign."""
    found = None
    for mark in marks:
        middle = (mark.cy - first.y) / max(first.h, 1)
        flat = mark.w >= _FLAT * mark.h and mark.h <= 0.35 * first.h and 0.15 * first.h <= mark.w <= 1.5 * first.h
        before = mark.x1 <= first.x + 0.3 * mark.w and first.x - mark.x1 <= 1.2 * first.h
        if flat and before and 0.25 <= middle <= 0.8 and (found is None or mark.x1 > found.x1):
            found = mark
    return found


def _stroke_width(mask: np.ndarray) -> float:
    """Ink area over half its edge length: a stroke of width t and length L has area tL and 2L edge pixels."""
    padded = np.pad(mask, 1)
    edge = int((padded & (1 - cv2.erode(padded, np.ones((3, 3), np.uint8)))).sum())
    return 2.0 * float(mask.sum()) / max(edge, 1)


def group_ink(lay: Layout, group: Group, margin: int = 1) -> tuple[np.ndarray, Box]:
    """The group's own ink (its strokes, with their soft anti-aliased edges), cropped to its box plus ``margin``."""
    box = group.box
    h, w = lay.ink.shape
    x0, y0 = max(box.x - margin, 0), max(box.y - margin, 0)
    x1, y1 = min(box.x1 + margin, w), min(box.y1 + margin, h)
    labels = lay.labels[y0:y1, x0:x1]
    own = (labels == group.labels[0]) if len(group.labels) == 1 else np.isin(labels, group.labels)
    own = own.astype(np.uint8)
    own = cv2.dilate(own, np.ones((3, 3), np.uint8))  # the soft edge just under the threshold
    return lay.ink[y0:y1, x0:x1] * own, Box(x0, y0, x1 - x0, y1 - y0)
