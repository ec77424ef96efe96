"""How a row's candidate pieces score and which may be chosen: the baseline, and how sure a cut piece must be."""

import numpy as np
import pytest

from btf.digits import candidates, cuts, segment


def unit_with(*boxes: tuple[int, int, int, int]) -> candidates.Unit:
    """A 60-row group read whole (box 1, 1, 78, 58) and cut into pieces with ``boxes``, all read as a confident 6."""
    ink = np.zeros((60, 80), np.uint8)
    confident = np.full(10, 0.001)
    confident[6] = 1 - 0.009

    def read(start: int, end: int, box: tuple[int, int, int, int]) -> candidates.Candidate:
        return candidates.Candidate(cuts.Piece(start, end, ink, box), np.zeros(784), confident, True, 0.01)

    pieces = [read(0, len(boxes) + 1, (1, 1, 78, 58))] + [read(k, k + 1, box) for k, box in enumerate(boxes)]
    return candidates.Unit(ink, segment.Box(0, 0, 80, 60), 58.0, pieces, [0.5] * len(boxes))


def test_a_cut_piece_that_stops_short_of_the_baseline_costs_more():
    # A 9's loop cut off its tail reads as a confident 6, but it stops well above the 9's foot.
    unit = unit_with((1, 1, 40, 58), (1, 1, 40, 44), (1, 1, 40, 56))
    standing, short, near = (candidates.score(c, unit) for c in unit.candidates[1:])
    gap = (58 - 44) / 58
    assert standing - short == pytest.approx(candidates.OFF_BASELINE * (gap - candidates.BASELINE_FREE))
    assert near == pytest.approx(standing)  # within BASELINE_FREE of the foot: free (a drifting baseline)


def test_pieces_cut_a_second_way_that_hold_the_same_ink_as_the_winding_ones_are_offered_once():
    # Three upright strokes with clear gaps, in a group that may be one character (cut again
    # straight) and in a wider one (cut again reaching past the cuts): wherever a cut runs down
    # a gap, the second way parts the very same ink, which is read once, not twice.
    for width, xs in ((72, (10, 36, 62)), (150, (20, 75, 130))):
        ink = np.zeros((60, width), np.uint8)
        for x in xs:
            ink[5:55, x - 3 : x + 3] = 255
        whole = candidates.Candidate(cuts.pieces(ink, [])[0], np.zeros(784), np.full(10, 0.1), True, 0.2)
        unit = candidates.Unit(ink, segment.Box(0, 0, width, 60), 60.0, [whole])
        added = candidates.offer_cuts([unit], stroke=6.0)
        pieces = {(c.piece.start, c.piece.end, c.piece.box, c.piece.ink.tobytes()) for c in added}
        assert added and len(pieces) == len(added)


@pytest.mark.parametrize("width, right_edge", [(72, 36), (150, 77 + candidates.reach(60))])
def test_a_group_wider_than_one_character_is_cut_again_reaching_past_its_cuts(monkeypatch, width, right_edge):
    # Two strokes joined by a bar, cut through the bar by a path that steps right halfway down.
    # A wider group's second pieces reach WIDEN of the row past the cut, for the ink two
    # overlapping digits share; a group that may be one character (a letter, whose stroke a
    # wider piece would read twice) is cut again straight, at the path's mean column.
    ink = np.zeros((60, width), np.uint8)
    ink[5:55, 6:10] = ink[5:55, width - 10 : width - 6] = ink[28:33, 6 : width - 6] = 255
    middle = width // 2
    path = np.where(np.arange(60) < 30, middle - 2, middle + 2)
    monkeypatch.setattr(cuts, "candidate_cuts", lambda ink, stroke: [(path, 1.0)])
    whole = candidates.Candidate(cuts.pieces(ink, [])[0], np.zeros(784), np.full(10, 0.1), True, 0.2)
    unit = candidates.Unit(ink, segment.Box(0, 0, width, 60), 60.0, [whole])
    added = candidates.offer_cuts([unit], stroke=4.0)
    lefts = sorted(c.piece.box[0] + c.piece.box[2] for c in added if (c.piece.start, c.piece.end) == (0, 1))
    assert lefts == sorted([middle + 2, right_edge])  # the winding piece and the second one


@pytest.mark.parametrize("width, choosable", [(60, False), (69, False), (70, True), (120, True)])
def test_a_group_that_may_be_one_character_is_cut_only_into_sure_digits(width, choosable):
    # Two cut pieces the model calls digits, one of them less surely than SURE_DIGIT asks: in a
    # group at most ONE_CHARACTER row heights wide (a letter's strokes, cut apart) it may not
    # be chosen, so the split cannot cover the group; a wider group keeps it.
    ink = np.zeros((58, width), np.uint8)
    confident = np.full(10, 0.01)
    confident[1] = 0.91
    half = width // 2

    def read(start, end, box, not_digit):
        return candidates.Candidate(cuts.Piece(start, end, ink, box), np.zeros(784), confident, True, not_digit)

    pieces = [
        read(0, 2, (0, 0, width, 58), 0.9),
        read(0, 1, (0, 0, half, 58), 0.01),
        read(1, 2, (half, 0, width - half, 58), 0.3),
    ]
    unit = candidates.Unit(ink, segment.Box(0, 0, width, 58), 58.0, pieces, [0.5])
    assert 69 <= candidates.ONE_CHARACTER * 58 < 70  # the parameters straddle it
    offered = candidates.choosable(unit)
    assert pieces[1] in offered and (pieces[2] in offered) is choosable


@pytest.mark.parametrize("lean, offered", [(0.2, True), (0.5, False)])
def test_ones_leaning_opposite_ways_are_not_offered(lean, offered):
    # A V cut in two: a \\ and a / read as 1s. Beyond OPPOSITE_LEAN each way neither is offered; a
    # hand's own slant (both one way, or barely leaning) keeps them.
    def stroke(slope: float) -> np.ndarray:
        ink = np.zeros((60, 60), np.uint8)
        for y in range(60):
            x = int(round(30 + slope * (y - 30)))
            ink[y, x - 2 : x + 3] = 255
        return ink

    one = np.full(10, 0.01)
    one[1] = 0.91

    def read(start, end, ink):
        return candidates.Candidate(cuts.Piece(start, end, ink, (0, 0, 60, 60)), np.zeros(784), one, True, 0.01)

    whole = candidates.Candidate(cuts.Piece(0, 2, stroke(0), (0, 0, 120, 60)), np.zeros(784), one, False, 0.9)
    left, right = read(0, 1, stroke(lean)), read(1, 2, stroke(-lean))
    assert candidates._slant(left.piece.ink) == pytest.approx(lean, abs=0.05)
    kept = candidates._without_opposite_ones([whole, left, right])
    want = [whole, left, right] if offered else [whole]
    assert [id(c) for c in kept] == [id(c) for c in want]
    same_way = candidates._without_opposite_ones([whole, left, read(1, 2, stroke(lean))])
    assert len(same_way) == 3


@pytest.mark.parametrize(
    "box, read",
    [
        ((1, 1, 70, 58), True),  # two digits side by side
        ((1, 1, 16, 58), True),  # two 1s, pressed together
        ((1, 1, 12, 58), False),  # a sliver: under PAIR_NARROWEST of its height
        ((1, 1, 78, 40), False),  # wider than PAIR_WIDEST for its height: more than two digits
    ],
)
def test_a_pair_is_read_only_as_wide_as_two_digits(box, read):
    unit = unit_with(box)
    piece = unit.candidates[1]
    piece.pairs = np.zeros(100)
    piece.pairs[42] = 0.9
    value, pair = candidates.pair_score(piece, unit)
    assert (pair == 42 and value > -np.inf) if read else (pair == -1 and value == -np.inf)
    piece.pairs[42] = candidates.PAIR_SURE - 0.01  # not sure enough
    assert candidates.pair_score(piece, unit) == (-np.inf, -1)
    piece.pairs = None  # a model with no pair outputs
    assert candidates.pair_score(piece, unit) == (-np.inf, -1)
