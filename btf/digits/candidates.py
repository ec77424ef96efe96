"""A row's candidate pieces: which digit groups are offered cuts, how each piece scores, which may be chosen.

``btf.digits.numbers`` reads every digit group whole first. ``offer_cuts`` then cuts the groups
whose whole reading a split could beat (``btf.digits.cuts``: winding paths, and the same runs
reaching a little past their cuts where digits overlap, or between straight lines in a group
that may be one character), worst first, within ``MAX_PIECES`` pieces a request.
``score`` says how much a piece looks like one digit of the row, from the model's reading and
its shape; ``choosable`` keeps a group's split to pieces that are digits, so a letter stays one
"not a digit"; ``pair_score`` says how much a piece looks like two touching digits, to a pair model. numpy only; the pieces' inks come from ``btf.digits.cuts``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from btf.digits import cuts, segment

# The costliest reading's CPU time grows with this (bench_read: 12 touching digits). 56 reads the
# same numbers as 72 but for long runs of touching digits (eval_numbers' "all touching" 0.5 to 3.3
# points fewer), at 0.88 of 72's time.
MAX_PIECES = 56


@dataclass
class Candidate:
    piece: cuts.Piece
    input: np.ndarray | None = None  # None: too faint to read, never chosen
    confidences: np.ndarray | None = None
    is_digit: bool = True
    not_digit: float = 0.0  # the model's not-a-digit score: high for fragments and joined pairs
    pairs: np.ndarray | None = None  # (100,) a pair model's probability of each touching pair, 00 to 99


@dataclass
class Unit:
    """Ink read together: one digit group (or neighbours joined), where its crop sits, its candidate pieces."""

    ink: np.ndarray
    origin: segment.Box
    height: float  # the row's height here: the taller of the unit and the row
    candidates: list[Candidate]  # the whole first
    cut_costs: list[float] = field(default_factory=list)


def offer_cuts(groups: list[Unit], stroke: float) -> list[Candidate]:
    """Cut candidates for the groups whose whole reading a split could beat, worst first, within MAX_PIECES."""
    budget, added = MAX_PIECES, []
    doubtful = [(score(g.candidates[0], g), k) for k, g in enumerate(groups)]
    for whole_score, k in sorted(doubtful):
        group = groups[k]
        h, w = group.ink.shape
        # Any split scores at most -2 * PIECE_COST (every piece costs that, every other term is <= 0),
        # so a whole reading above -2 * PIECE_COST can never lose: no need to look further.
        if whole_score > -2 * PIECE_COST or w < SPLIT_ASPECT * h or h < 8:
            continue
        if budget < 2 * cuts.runs(1):
            break  # not even one cut's pieces fit any more
        found = _within(cuts.candidate_cuts(group.ink, stroke), budget)
        if not found:
            continue
        paths = [path for path, _ in found]
        # Each run of segments twice: between the cuts as they wind, and cut a second way
        # (``_again``); the best one counts.
        winding = cuts.pieces(group.ink, paths, whole=False)
        seen = {(p.start, p.end, p.box): p.ink for p in winding}
        # Where the cuts run through clear gaps, the second way often parts the same ink: read it once.
        again = [p for p in _again(group, paths) if not _same(seen, p)]
        more = [Candidate(p) for p in winding + again]  # at most 2 * runs(len(found)): within the budget
        whole = group.candidates[0]
        whole.piece = dataclasses.replace(whole.piece, end=len(found) + 1)  # right of the last cut now
        group.candidates += more
        group.cut_costs = [cost for _, cost in found]
        budget -= len(more)
        added += more
    return added


def _again(group: Unit, paths: list[np.ndarray]) -> list[cuts.Piece]:
    """The group's runs cut a second way. In a group wider than one character (``ONE_CHARACTER``),
    each run reaches ``WIDEN`` of the row past its cuts: where two digits overlap, a winding cut
    gives the ink they share to one side only, and the other then lacks part of a stroke.
    In a group that may be one character, between straight cuts (strokes that cross defeat a
    winding cut): there a wider piece re-reads a stroke its neighbour holds, and an H less a
    sliver of its left stroke reads as a sure 4."""
    if group.ink.shape[1] > ONE_CHARACTER * group.height:
        return cuts.pieces(group.ink, paths, whole=False, reach=reach(group.height))
    return cuts.pieces(group.ink, cuts.straight(paths), whole=False)


def reach(height: float) -> int:
    """How many columns a wider piece reaches past its cuts in a row ``height`` tall (``WIDEN``)."""
    return max(1, round(WIDEN * height))


def _within(found: list[tuple[np.ndarray, float]], budget: int) -> list[tuple[np.ndarray, float]]:
    """The cuts whose pieces (at most 2 * cuts.runs of them) fit the budget: all, or the cheapest, in column order.
    The cheapest cross the least ink: the likeliest joins. Nothing is cut before this is known."""
    fits = max(c for c in range(len(found) + 1) if 2 * cuts.runs(c) <= budget)
    if fits == len(found):
        return found
    keep = sorted(sorted(range(len(found)), key=lambda i: found[i][1])[:fits])
    return [found[i] for i in keep]


def _same(seen: dict, piece: cuts.Piece) -> bool:
    other = seen.get((piece.start, piece.end, piece.box))
    return other is not None and np.array_equal(other, piece.ink)


# How a candidate piece is scored (tuned with scripts.eval_numbers on seeds 0 and 2): its
# classifier log confidence; NOT_DIGIT_WEIGHT times log(1 - its not-a-digit score) (a fragment
# or two joined digits often reads as a confident digit that is not one); a Gaussian log-prior
# against a piece too wide for the digit it is read as (per class, the mean and spread of
# log(width / height) of the MNIST training digits); penalties for a fragment much shorter than
# its group, for a sliver, and for a cut piece that stops short of its group's baseline (a 9's
# loop cut off its tail reads as a confident 6, a 0 as a 6 and a 7; neighbours stand on the
# same line); and a cost for each piece and for each stroke width of ink a cut crosses, which
# keep two weak pieces from beating one good one.
_LOG_ASPECT = np.array([-0.10, -0.91, -0.07, -0.24, -0.24, -0.06, -0.31, -0.27, -0.29, -0.40])
_LOG_ASPECT_SD = np.array([0.19, 0.46, 0.22, 0.21, 0.20, 0.25, 0.22, 0.21, 0.21, 0.19])
SPLIT_ASPECT = 0.6  # a group narrower than this for its height is never split
# How far past its cuts a wider piece reaches, of the row's height. Chosen with wider pieces in
# every group (scripts.eval_numbers, seeds 0 / 2 / 1; docs/benchmarks.md, stage H): 0.06 read
# fewer touching pairs, 0.15 no more than 0.1.
WIDEN = 0.1
ASPECT_FREE, ASPECT_WEIGHT = 1.0, 1.0
FRAGMENT, FRAGMENT_BELOW, SLIVER = 10.0, 0.65, 3.0
# A gap under a cut piece, of its group's height: free up to BASELINE_FREE, then OFF_BASELINE a unit.
BASELINE_FREE, OFF_BASELINE = 0.1, 15.0
PIECE_COST, CUT_COST = 0.25, 0.45
NOT_DIGIT_WEIGHT = 3.5  # a ten-output model's score is 1 - its top confidence: this weighs that more
ONE_CHARACTER = 1.2  # a group at most this wide for the row's height may be one character
# A cut piece of such a group counts as a digit only below this not-a-digit score (the model's
# own threshold, 0.5, elsewhere): a letter's strokes (n, h, m) cut apart, each with a stub of
# the stroke that joined them, read as 1s and 7s, less surely than real digits (and more often
# with a model taught that a digit keeps its neighbour's edge, scripts.train --joined). For a
# ten-output model (score 1 - top confidence) such a piece needs a confidence over 0.95. v10
# reads an n's strokes as a 1 and a 7 at 0.004 and 0.09: 0.15 (v9's bar) read n, h and m as
# numbers, and 0.05 reads the same numbers (eval_numbers) and a third fewer non-digit drawings
# as numbers (10.2 / 12.0% against 14.5 / 17.8%); 0.03 reads fewer touching pen strokes. A pair
# read whole (``pair_score``) stands for the touching pairs this bar turns away.
SURE_DIGIT = 0.05
# A hand keeps one slant: two pieces cut from one group, both read as 1s, leaning opposite ways
# by more than this (dx/dy of their ink, about 17 degrees) are a letter's strokes (a V, a W, an
# N), and neither is offered. No number of eval_numbers' 3,150 (seeds 0, 1, 2) was read otherwise.
OPPOSITE_LEAN = 0.3


def score(candidate: Candidate, unit: Unit) -> float:
    """Log confidence of the best label, plus how much the piece looks like one such digit (not a sliver, not two)."""
    if candidate.input is None or candidate.confidences is None:
        return -math.inf
    _, _, w, h = candidate.piece.box
    label = int(candidate.confidences.argmax())
    score = math.log(max(float(candidate.confidences[label]), 1e-6))
    score += NOT_DIGIT_WEIGHT * math.log(max(1.0 - candidate.not_digit, 1e-6))
    z = (math.log(w / max(h, 1)) - _LOG_ASPECT[label]) / _LOG_ASPECT_SD[label]
    score -= ASPECT_WEIGHT * max(0.0, z - ASPECT_FREE)
    return score - _misplaced(candidate, unit) - PIECE_COST


def _misplaced(candidate: Candidate, unit: Unit) -> float:
    """Penalties for a piece much shorter than its group, a sliver, and a cut piece off its group's baseline."""
    _, _, w, h = candidate.piece.box
    height = unit.height
    penalty = FRAGMENT * max(0.0, FRAGMENT_BELOW - h / max(height, 1))
    penalty += SLIVER * max(0.0, 0.12 - w / max(height, 1)) / 0.12
    if candidate is not unit.candidates[0]:
        _, top, _, tall = unit.candidates[0].piece.box
        gap = (top + tall - candidate.piece.box[1] - h) / max(tall, 1)
        penalty += OFF_BASELINE * max(0.0, gap - BASELINE_FREE)
    return penalty


# A pair model (btf.digits.PAIRS) reads a piece as two touching digits when it gives that pair
# at least PAIR_SURE; the reading then scores its log probability, as two pieces (2 PIECE_COST)
# and PAIR_COST more, so a pair read whole beats a split only when the split's pieces read worse.
# Tuned with v10 (scripts.eval_numbers, seeds 0 / 2 / 1): a cost of 0.5 or 1, or a bar of 0.6 or
# 0.7, read fewer touching pairs.
PAIR_SURE, PAIR_COST = 0.5, 0.0
# A piece wider than this for its height holds more than two digits: squeezed into 28x28, a run of
# six touching digits reads as some pair, surely. With v10, 2.0 read 55 / 51 / 56% of the numbers
# whose digits all touch, 1.6 read 67 / 66 / 67%, 1.5 read 69 / 69 / 70% and 1.4 read 73 / 67 / 75%,
# and touching pairs 94 / 88 / 90%, 91 / 88 / 90%, 89 / 88 / 89% and 89 / 88 / 89%.
PAIR_WIDEST = 1.5
# A piece narrower than this for its height is a sliver, not two digits (two touching 1s are
# wider). A surer bar for pieces one character wide (0.65, 0.8) turned away as many touching
# pen strokes (1 to 5 points) as non-digits (0 to 0.5 points).
PAIR_NARROWEST = 0.25


def pair_score(candidate: Candidate, unit: Unit) -> tuple[float, int]:
    """(score, pair) of reading the piece as the touching pair its model likes best: 10 * left + right,
    or (-inf, -1) when the model has no pair outputs or is not sure of one."""
    _, _, w, h = candidate.piece.box
    if candidate.input is None or candidate.pairs is None or not PAIR_NARROWEST * h <= w <= PAIR_WIDEST * h:
        return -math.inf, -1
    pair = int(candidate.pairs.argmax())
    probability = float(candidate.pairs[pair])
    if probability < PAIR_SURE:
        return -math.inf, -1
    return math.log(probability) - _misplaced(candidate, unit) - 2 * PIECE_COST - PAIR_COST, pair


def choosable(unit: Unit) -> list[Candidate]:
    """The candidates the row may choose from in a group: the whole, and the pieces that are digits.

    A split must explain the group's ink as digits: a letter (an M, an X) cut into strokes always
    has some that read as confident 1s and 7s, and reading those would make a number of a
    drawing that is none. A group that may be one character is cut only into pieces the model
    is sure of (``SURE_DIGIT``). Only a group too wide for one character, which no single "?"
    can explain, may keep pieces that are not digits, when its digits alone cannot cover it.
    """
    last = len(unit.cut_costs) + 1
    one_character = unit.ink.shape[1] <= ONE_CHARACTER * unit.height
    below = SURE_DIGIT if one_character else math.inf
    # Digits as tall as the row: a letter's foot, a fragment, reads as a confident 1.
    tall = FRAGMENT_BELOW * unit.height
    digits_ = [
        c
        for c in unit.candidates[1:]
        if c.is_digit and c.not_digit < below and c.input is not None and c.piece.box[3] >= tall
    ]
    reach = {0}
    for candidate in sorted(digits_, key=lambda c: c.piece.start):
        if candidate.piece.start in reach:
            reach.add(candidate.piece.end)
    offered = unit.candidates[:1] + digits_ if last in reach or one_character else unit.candidates
    return _without_opposite_ones(offered)


def _without_opposite_ones(offered: list[Candidate]) -> list[Candidate]:
    """The candidates, less the cut pieces read as 1s if some of them lean one way and some the other."""
    ones = [c for c in offered[1:] if c.confidences is not None and int(c.confidences.argmax()) == 1]
    slants = [_slant(c.piece.ink) for c in ones]
    if max(slants, default=0.0) <= OPPOSITE_LEAN or min(slants, default=0.0) >= -OPPOSITE_LEAN:
        return offered
    drop = {id(c) for c in ones}
    return [c for c in offered if id(c) not in drop]


def _slant(ink: np.ndarray) -> float:
    """How far the ink's main axis moves right for each row down (negative: leaning right, as a / does)."""
    ys, xs = np.nonzero(ink)
    if len(ys) < 2:
        return 0.0
    dy, dx = ys - ys.mean(), xs - xs.mean()
    spread = float(dy @ dy)
    return float(dx @ dy) / spread if spread else 0.0
