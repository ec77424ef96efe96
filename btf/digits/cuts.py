"""Split touching digits: candidate cuts through a group's ink, the pieces between them, and the best reading.

Over-segment, then let recognition choose (the classic scheme for touching handwriting):

1. candidate cut columns are the minima of the group's column ink profile, plus even splits
   into as many digits as could fit, at most ``MAX_CUTS`` of them and no two closer than
   0.12 of the height;
2. each cut follows the cheapest path from top to bottom (dynamic programming over at most
   ``PATH_ROWS`` rows, one column of drift a row, within a quarter of the height of its
   column and inside the group's ink columns), so it slips between overlapping strokes
   instead of slicing through them; its cost is the ink it still crosses, in stroke widths;
3. every run of up to ``MAX_SPAN`` consecutive segments (and the whole group) is a candidate
   piece, for the caller to classify in one batch; the caller may also take the same runs
   reaching a few columns past their cuts (``pieces(reach=...)``), for digits that overlap,
   or between ``straight`` cuts (each path's mean column), for digits whose strokes cross;
4. ``best_split`` picks the sequence of pieces that maximises the sum of their scores minus
   the cuts' costs (dynamic programming over the cut positions).

numpy and OpenCV only; every loop is bounded by the constants below and the group's height.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MAX_CUTS = 14
PATH_ROWS = 64
DRIFT_COST = 0.05
MAX_SPAN = 4  # a wide digit spans up to four segments (cuts stand five a row height; runs of five: no better)
_SPACING, _DRIFT = 0.12, 0.25  # of the group's height: between candidate cuts; a path's reach
_PER_HEIGHT = 5  # candidate cuts wanted per row height of the group's width


@dataclass(frozen=True)
class Piece:
    start: int  # boundary indices: 0 is the group's left edge, len(cuts) + 1 its right edge
    end: int
    ink: np.ndarray  # uint8, the group's ink between the two boundaries, cropped to itself in a frame of MARGIN
    box: tuple[int, int, int, int]  # x, y, w, h of that ink within the group's crop


def candidate_cuts(ink: np.ndarray, stroke: float) -> list[tuple[np.ndarray, float]]:
    """(path, ink crossed in stroke widths) for each candidate cut, left to right; a path is a column per row.

    Cuts never cross, no two find the same gap, and every segment between them holds ink.
    Paths are searched on the ink reduced to at most ``PATH_ROWS`` rows, so their cost does
    not grow with the image's scale, then drawn back at full size.
    """
    h, w = ink.shape
    f = max(1.0, h / PATH_ROWS)
    small = ink if f == 1 else cv2.resize(ink, (max(1, round(w / f)), PATH_ROWS), interpolation=cv2.INTER_AREA)
    columns = _columns(small, small.shape[0])
    if not columns:
        return []
    found = _paths(small.astype(np.float32) * (1 / 255), np.array(columns), max(2, round(_DRIFT * small.shape[0])))
    if f > 1:  # back to full size: each row takes its reduced row's column, at the centre of its block
        rows = np.minimum((np.arange(h) * small.shape[0]) // h, small.shape[0] - 1)
        found = np.clip(np.round((found[:, rows] + 0.5) * (w / small.shape[1])), 0, w).astype(np.int64)
    crossed = (ink[np.arange(h)[None, :], np.minimum(found, w - 1)] * (1 / 255)).sum(axis=1)
    # Ink left of column c in each row, for the ink between two paths in O(h).
    before = np.concatenate([np.zeros((h, 1)), np.cumsum(ink, axis=1, dtype=np.float64)], axis=1)
    rows = np.arange(h)
    least = max(float(before[:, -1].sum()) * 0.02, 1.0)
    kept: list[tuple[np.ndarray, float]] = []
    previous = np.zeros(h, np.int64)
    for k in np.argsort(found.mean(axis=1), kind="stable"):
        path = np.maximum(found[k], previous)  # cuts never cross
        if np.abs(path - previous).mean() < max(1.5, 0.05 * h):
            continue  # the same gap as the cut before
        if (before[rows, path] - before[rows, previous]).sum() < least:
            continue  # nothing between this cut and the one before
        kept.append((path, float(crossed[k]) / max(stroke, 1.0)))
        previous = path
    while kept and (before[:, -1] - before[rows, kept[-1][0]]).sum() < least:
        kept.pop()  # nothing right of the last cut
    return kept


def _columns(ink: np.ndarray, h: int) -> list[int]:
    """Candidate cut columns: minima of the smoothed column profile first, then even splits."""
    w = ink.shape[1]
    profile = np.convolve(ink.sum(axis=0, dtype=np.float32), np.ones(3, np.float32) / 3, mode="same")
    lo, hi = max(1, round(0.15 * h)), w - max(1, round(0.15 * h))
    inner = np.arange(lo, hi)
    if inner.size == 0:
        return []
    p = profile[inner]
    left = np.r_[np.inf, p[:-1]]
    right = np.r_[p[1:], np.inf]
    minima = inner[(p <= left) & (p <= right)]
    # Even splits into as many digits as could fit (a digit is rarely narrower than 0.55 H, a 1 aside).
    most = max(2, min(round(w / (0.55 * h)), MAX_CUTS + 1))
    ranked = list(minima[np.argsort(profile[minima], kind="stable")]) + [
        round(w * k / n) for n in range(2, most + 1) for k in range(1, n)
    ]
    chosen: list[int] = []
    wanted = min(MAX_CUTS, max(2, round(_PER_HEIGHT * w / h)))
    for c in ranked:
        if lo <= c < hi and all(abs(c - d) >= _SPACING * h for d in chosen):
            chosen.append(int(c))
        if len(chosen) == wanted:
            break
    return chosen


def _paths(ink: np.ndarray, columns: np.ndarray, reach: int) -> np.ndarray:
    """Cheapest top-to-bottom paths through ``ink`` (float, 0..1), one per start column, all at once: (k, h)."""
    h, w = ink.shape
    offsets = np.arange(-reach, reach + 1)
    cols = np.clip(columns[:, None] + offsets[None, :], 0, w - 1)  # (k, window)
    # Ink costs most; drifting from the start column and stepping sideways cost a little. A path
    # stays strictly inside the group's ink columns, so it can never slide off into the margin.
    drift = np.abs(offsets)[None, :].astype(np.float32) * np.float32(DRIFT_COST / reach)
    step = np.float32(0.05)
    inked = np.flatnonzero(ink.max(axis=0) > 0.1)
    outside = (cols <= inked[0]) | (cols >= inked[-1]) if inked.size else np.zeros(cols.shape, bool)
    cost = ink[:, cols] * np.float32(8) + np.where(outside, np.float32(1e4), np.float32(0))  # (h, k, window)
    moves = np.zeros((h, *cols.shape), np.int8)  # 0: from above, 1: from the left, 2: from the right
    padded = np.full((len(cols), cols.shape[1] + 2), np.inf, np.float32)
    padded[:, 1:-1] = cost[0] + drift
    for row in range(1, h):
        stay, left, right = padded[:, 1:-1], padded[:, :-2] + step, padded[:, 2:] + step
        from_left = left < stay
        best = np.where(from_left, left, stay)
        from_right = right < best
        moves[row] = np.where(from_right, 2, from_left.astype(np.int8))
        padded[:, 1:-1] = np.where(from_right, right, best) + cost[row] + drift
    index = padded[:, 1:-1].argmin(axis=1)
    paths = np.empty((len(cols), h), np.int64)
    which = np.arange(len(cols))
    for row in range(h - 1, -1, -1):
        paths[:, row] = cols[which, index]
        move = moves[row][which, index]
        index = index - (move == 1) + (move == 2)
    return paths


def straight(paths: list[np.ndarray]) -> list[np.ndarray]:
    """Each cut as a vertical line at its mean column: where two digits' strokes cross, no winding path parts them."""
    return [np.full_like(path, round(float(path.mean()))) for path in paths]


def runs(count: int) -> int:
    """At most how many pieces ``pieces(ink, cuts, whole=False)`` makes of ``count`` cuts: every run
    of up to MAX_SPAN of the count + 1 segments but the whole (one each; a run without ink makes none)."""
    segments = count + 1
    return sum(segments - n + 1 for n in range(1, min(MAX_SPAN, segments) + 1)) - (segments <= MAX_SPAN)


def pieces(ink: np.ndarray, cuts: list[np.ndarray], whole: bool = True, reach: int = 0) -> list[Piece]:
    """Every run of up to MAX_SPAN segments between consecutive boundaries (and the whole group, if ``whole``).

    With ``reach``, each side of a run reaches that many columns past its cut: where two
    digits overlap, the ink they share goes to both pieces, as each digit was drawn with it,
    and so does any other ink of the neighbour's within reach (its edge, as a digit with its
    neighbour's edge; only bits a reach slices off a larger stroke are dropped).
    """
    h, w = ink.shape
    bounds = [np.zeros(h, np.int64), *cuts, np.full(h, w, np.int64)]
    found = []
    last = len(bounds) - 1
    for i in range(last):
        for j in range(i + 1, last + 1):
            if (j - i > MAX_SPAN or (i, j) == (0, last)) and not (whole and (i, j) == (0, last)):
                continue
            if (i, j) == (0, last):
                part, x0 = ink, 0
            else:
                start = np.maximum(bounds[i] - reach, 0) if i else bounds[i]
                end = np.minimum(bounds[j] + reach, w) if j < last else bounds[j]
                # Only the columns the run can hold (and one either side, where a cut may stand):
                # a run of a long group costs its own width, not the group's.
                x0, x1 = max(int(start.min()) - 1, 0), min(int(end.max()) + 1, w)
                columns = np.arange(x0, x1)[None, :]
                inside = (columns >= start[:, None]) & (columns < end[:, None])
                left, right = start - x0 if i else None, end - 1 - x0 if j < last else None
                part = _without_cut_offs(ink[:, x0:x1] * inside.astype(np.uint8), left, right)
            piece = _framed(i, j, part, x0)
            if piece is not None:
                found.append(piece)
    return found


MARGIN = 2  # background around each piece's ink, so the normalisation sees a clean border


def _framed(start: int, end: int, part: np.ndarray, left: int = 0) -> Piece | None:
    """The piece's ink cropped to itself inside a frame of background; None when it holds no ink.
    ``part`` holds the group's columns from ``left`` on."""
    rows, cols = np.flatnonzero(part.any(axis=1)), np.flatnonzero(part.any(axis=0))
    if rows.size == 0:
        return None
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    framed = np.zeros((y1 - y0 + 2 * MARGIN, x1 - x0 + 2 * MARGIN), np.uint8)
    framed[MARGIN:-MARGIN, MARGIN:-MARGIN] = part[y0:y1, x0:x1]
    return Piece(start, end, framed, (left + x0, y0, x1 - x0, y1 - y0))


def _without_cut_offs(part: np.ndarray, left: np.ndarray | None, right: np.ndarray | None) -> np.ndarray:
    """Drop the small bits a cut sliced off a neighbour: strokes at a cut, under a quarter of the piece's largest."""
    if left is None and right is None:
        return part
    count, labels, stats, _ = cv2.connectedComponentsWithStats((part > 0).astype(np.uint8), connectivity=8)
    if count <= 2:
        return part
    rows = np.arange(part.shape[0])
    edge = [labels[rows, np.clip(b, 0, part.shape[1] - 1)] for b in (left, right) if b is not None]
    at_cut = np.unique(np.concatenate(edge))
    areas = stats[:, cv2.CC_STAT_AREA]
    largest = areas[1:].max()
    drop = [int(c) for c in at_cut if c and areas[c] < 0.25 * largest]
    if drop:
        part = np.where(np.isin(labels, drop), 0, part).astype(np.uint8)
    return part


def best_split(count: int, scores: dict[tuple[int, int], float], cut_costs: list[float]) -> list[tuple[int, int]]:
    """The runs (start, end) from boundary 0 to ``count - 1`` with the highest total score, cut costs subtracted."""
    best = np.full(count, -np.inf)
    best[0] = 0.0
    back = [-1] * count
    for j in range(1, count):
        penalty = cut_costs[j - 1] if j < count - 1 else 0.0
        for i in range(j):
            score = scores.get((i, j))
            if score is not None and best[i] + score - penalty > best[j]:
                best[j], back[j] = best[i] + score - penalty, i
    if back[count - 1] < 0:
        return []
    runs, j = [], count - 1
    while j > 0:
        runs.append((back[j], j))
        j = back[j]
    return runs[::-1]
