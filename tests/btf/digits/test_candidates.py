"""How a row's candidate pieces score: a cut piece standing on its group's baseline, or stopping short of it."""

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
