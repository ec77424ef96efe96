"""Candidate cuts through touching digits, the pieces between them, and the best split."""

import cv2
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from btf.digits import cuts


def parts() -> tuple[np.ndarray, np.ndarray]:
    """A '1' and a '0' (white ink on black) whose strokes touch at one point."""
    one, zero = np.zeros((60, 80), np.uint8), np.zeros((60, 80), np.uint8)
    cv2.line(one, (8, 5), (8, 55), 255, 5, cv2.LINE_AA)
    cv2.line(one, (10, 30), (14, 30), 255, 3)  # the 1's serif, reaching the 0
    cv2.ellipse(zero, (38, 30), (22, 25), 0, 0, 360, 255, 5, cv2.LINE_AA)
    return one, zero


def touching_pair() -> np.ndarray:
    one, zero = parts()
    return np.maximum(one, zero)


def test_a_cut_runs_between_touching_digits_through_little_ink():
    ink = touching_pair()
    found = cuts.candidate_cuts(ink, stroke=5)
    assert found and len(found) <= cuts.MAX_CUTS
    path, crossed = min(found, key=lambda cut: cut[1])
    left = np.arange(ink.shape[1])[None, :] < path[:, None]
    one, zero = parts()
    # The cheapest cut leaves the 1 on its left and the 0 on its right, crossing little ink.
    assert one[left].sum() >= 0.9 * one.sum() and zero[left].sum() <= 0.1 * zero.sum()
    assert crossed <= 2.0


def test_cuts_never_cross_and_every_segment_holds_ink():
    ink = touching_pair()
    paths = [path for path, _ in cuts.candidate_cuts(ink, stroke=6)]
    bounds = [np.zeros(ink.shape[0], int), *paths, np.full(ink.shape[0], ink.shape[1])]
    columns = np.arange(ink.shape[1])[None, :]
    for left, right in zip(bounds, bounds[1:]):
        assert (right >= left).all()
        assert ink[(columns >= left[:, None]) & (columns < right[:, None])].sum() > 0


def test_pieces_are_runs_of_segments_and_the_whole():
    ink = touching_pair()
    paths = [path for path, _ in cuts.candidate_cuts(ink, stroke=6)]
    pieces = cuts.pieces(ink, paths)
    runs = {(p.start, p.end) for p in pieces}
    last = len(paths) + 1
    assert (0, last) in runs and all(j - i <= cuts.MAX_SPAN or (i, j) == (0, last) for i, j in runs)
    assert (0, last) not in {(p.start, p.end) for p in cuts.pieces(ink, paths, whole=False)}
    for piece in pieces:
        x, y, w, h = piece.box
        assert piece.ink.shape == (h + 2 * cuts.MARGIN, w + 2 * cuts.MARGIN) and piece.ink.max() > 0
        assert not piece.ink[: cuts.MARGIN].any() and not piece.ink[:, -cuts.MARGIN :].any()


def test_a_bit_sliced_off_a_neighbour_is_dropped_from_the_piece():
    ink = np.zeros((40, 60), np.uint8)
    ink[5:35, 5:25] = 255  # the digit
    ink[20:23, 30:33] = 255  # a small bit beyond the cut, touching it
    cut = np.full(40, 30)
    left, right = cuts.pieces(ink, [cut], whole=False)[:2]
    assert (left.start, left.end) == (0, 1) and left.box[2] == 20
    assert (right.start, right.end) == (1, 2) and right.ink.sum() == 9 * 255  # alone, the bit is kept


def test_best_split_maximises_the_total_score():
    scores = {(0, 1): -0.1, (1, 2): -0.2, (0, 2): -0.5, (2, 3): -0.1, (1, 3): -0.05}
    assert cuts.best_split(4, scores, [0.0, 0.0]) == [(0, 1), (1, 3)]
    assert cuts.best_split(4, scores, [0.0, 1.0]) == [(0, 1), (1, 3)]
    assert cuts.best_split(4, scores, [1.0, 0.0]) == [(0, 2), (2, 3)]


def test_best_split_with_no_way_through_is_empty():
    assert cuts.best_split(3, {(0, 1): -0.1}, [0.0]) == []


@settings(max_examples=30, deadline=None)
@given(
    height=st.integers(8, 400),
    width=st.integers(8, 900),
    strokes=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
@example(height=400, width=900, strokes=12, seed=0)
@example(height=8, width=8, strokes=1, seed=0)
def test_any_ink_gives_bounded_cuts_and_pieces(height, width, strokes, seed):
    rng = np.random.default_rng(seed)
    ink = np.zeros((height, width), np.uint8)
    for _ in range(strokes):
        a, b = rng.integers(0, [width, height], 2), rng.integers(0, [width, height], 2)
        cv2.line(ink, tuple(int(v) for v in a), tuple(int(v) for v in b), 255, int(rng.integers(1, 8)))
    found = cuts.candidate_cuts(ink, stroke=3.0)
    assert len(found) <= cuts.MAX_CUTS
    for path, crossed in found:
        assert path.shape == (height,) and path.min() >= 0 and path.max() <= width and crossed >= 0
    paths = [path for path, _ in found]
    pieces = cuts.pieces(ink, paths)
    segments = len(found) + 1
    assert len(pieces) <= segments * cuts.MAX_SPAN + 1
    assert len(cuts.pieces(ink, paths, whole=False)) <= cuts.runs(len(paths))
    # Each piece is the group's own ink between its two boundaries, placed where it was.
    bounds = [np.zeros(height, np.int64), *paths, np.full(height, width, np.int64)]
    for piece in pieces:
        x, y, w, h = piece.box
        inner = piece.ink[cuts.MARGIN : -cuts.MARGIN, cuts.MARGIN : -cuts.MARGIN]
        rows, cols = np.nonzero(inner)
        assert np.array_equal(inner[rows, cols], ink[y + rows, x + cols])
        assert (cols + x >= bounds[piece.start][y + rows]).all() and (cols + x < bounds[piece.end][y + rows]).all()


@pytest.mark.parametrize("rows", [cuts.PATH_ROWS, 4 * cuts.PATH_ROWS, 20 * cuts.PATH_ROWS])
def test_paths_are_found_on_a_bounded_grid_whatever_the_height(rows, monkeypatch):
    seen = []
    real = cuts._paths
    monkeypatch.setattr(cuts, "_paths", lambda ink, *a: seen.append(ink.shape) or real(ink, *a))
    ink = cv2.resize(touching_pair(), (rows * 4 // 3, rows))
    found = cuts.candidate_cuts(ink, stroke=rows / 10)
    assert found and all(path.shape == (rows,) for path, _ in found)
    assert all(shape[0] <= cuts.PATH_ROWS for shape in seen)


def test_straight_cuts_stand_at_each_paths_mean_column_in_order():
    ink = touching_pair()
    paths = [path for path, _ in cuts.candidate_cuts(ink, stroke=5)]
    lines = cuts.straight(paths)
    assert len(lines) == len(paths)
    for path, line in zip(paths, lines):
        assert line.shape == path.shape and np.ptp(line) == 0 and abs(line[0] - path.mean()) <= 0.5
    assert [line[0] for line in lines] == sorted(line[0] for line in lines)
    # The pieces between straight cuts are read as the winding ones are: every run, framed, with ink.
    found = cuts.pieces(ink, lines, whole=False)
    assert found and all(piece.ink.any() for piece in found)


def test_a_piece_with_reach_takes_the_ink_past_its_cuts_that_its_neighbour_also_holds():
    # Two upright strokes joined by a bar, cut in the middle of the bar: with reach, each
    # side's piece holds reach columns of the bar past the cut, the ink two overlapping digits share.
    ink = np.zeros((40, 60), np.uint8)
    ink[5:35, 10:14] = ink[5:35, 46:50] = ink[18:22, 10:50] = 255
    cut = [np.full(40, 30)]
    plain = {(p.start, p.end): p for p in cuts.pieces(ink, cut, whole=False)}
    wide = {(p.start, p.end): p for p in cuts.pieces(ink, cut, whole=False, reach=6)}
    assert plain[0, 1].box == (10, 5, 20, 30) and wide[0, 1].box == (10, 5, 26, 30)
    assert plain[1, 2].box == (30, 5, 20, 30) and wide[1, 2].box == (24, 5, 26, 30)
    # Nothing reaches past the group's own edges, and the whole group is the same piece.
    whole = [p for p in cuts.pieces(ink, cut, reach=6) if (p.start, p.end) == (0, 2)]
    assert len(whole) == 1 and whole[0].box == (10, 5, 40, 30)
    assert np.array_equal(whole[0].ink, cuts.pieces(ink, [])[0].ink)


def test_reach_takes_only_ink_near_the_cut_and_drops_bits_it_slices_off():
    # A neighbour's stroke just past the reach stays out; one inside it that the reach slices
    # from a larger stroke is dropped as a cut-off bit (under a quarter of the piece's largest).
    ink = np.zeros((40, 60), np.uint8)
    ink[5:35, 10:24] = 255  # the left digit, wide
    ink[5:35, 38:42] = 255  # a stroke 8 columns past the cut at 30
    piece = next(p for p in cuts.pieces(ink, [np.full(40, 30)], whole=False, reach=6) if p.end == 1)
    assert piece.box == (10, 5, 14, 30)
    ink[5:35, 34:42] = 255  # now 4 columns of it lie within reach: a sliced-off bit of a larger stroke
    piece = next(p for p in cuts.pieces(ink, [np.full(40, 30)], whole=False, reach=6) if p.end == 1)
    assert piece.box == (10, 5, 14, 30)


@pytest.mark.parametrize("count", range(cuts.MAX_CUTS + 1))
def test_runs_counts_the_pieces_of_a_cut_group_before_any_is_cut(count):
    # Every segment holds ink (as candidate_cuts makes them), so every run makes one piece:
    # offer_cuts checks a group against the piece budget with this before cutting any.
    ink = np.zeros((40, 40 + 30 * count), np.uint8)
    ink[5:35] = 255
    paths = [np.full(40, 20 + 30 * k) for k in range(count)]
    assert len(cuts.pieces(ink, paths, whole=False)) == cuts.runs(count)
