"""Pieces a number reader meets when it cuts touching digits: joined pairs, fragments, digits with a neighbour's edge.

``btf.digits.numbers`` reads every candidate piece of a row with the model and lets the
model's "not a digit" score decide between reading a group whole and splitting it. A model
never shown two joined digits reads a touching 19 as a confident 9, and one never shown half
a digit reads a fragment as a confident 1 or 7. So, from training digits only:

- ``pair`` (label 10, "not a digit"): two digits side by side, moved until their ink meets
  and then overlapping a little, as touching neighbours are drawn;
- ``named_pair`` (label ``PAIR_BASE + 10 * left + right``): the same touching pair, named by
  its two digits, for a model with pair outputs (``btf.digits.PAIRS``): a pair so tangled that
  no cut parts it is still read, whole, as two digits;
- ``fragment`` (label 10): a digit cut down the middle, 35% to 60% of its width kept. Only
  cuts that keep most of the digit's height and are not narrow: a thin tall fragment reads
  like a 1 (the left of a 0 is one), and a top or bottom half is often a whole digit's
  shape (a 9's loop is a 0), which the reader already weighs by its height. Not of 1, 3, 5
  or 7, whose halves look like digits themselves;
- ``neighbour`` (the digit's own label): a digit with the edge of the neighbour it touches
  still attached, as a cut rarely parts two touching digits cleanly; these keep the model
  from learning that any stray ink beside a digit makes it "not a digit";
- ``cut`` (the digit's own label): a piece of a touching pair as the reader itself cuts it
  (``btf.digits.cuts``: its winding and straight cuts) that holds nearly all of one digit's
  ink and little of the other's. A straight cut leaves a neighbour's clean edge; the
  reader's winding cuts leave stubs and notches, and a model never shown those misreads the
  very pieces that would part two touching digits. (The reader now cuts a group wider
  than one character again reaching past its cuts, not straight; these pieces are still
  cut as v9 was trained on them, so its recipe reproduces.)
- ``wide`` (the digit's own label): as ``cut``, from the pieces the reader now takes of a
  pair wider than one character, each reaching a little past its cuts (``candidates.WIDEN``),
  so holding a band of its neighbour: at most ``OTHER_WIDE`` of the neighbour's ink.

Each is composed white on black at a row height the reader works at (28 to 64 px) and
normalised by ``btf.images.vision.to_input``, the call the reader makes for every piece.
Needs OpenCV, like btf.images.vision.
"""

from __future__ import annotations

import cv2
import numpy as np

from btf.digits import NOT_DIGIT, PAIR_BASE, cuts
from btf.digits.candidates import ONE_CHARACTER, reach
from btf.images.vision import ImageError, to_input

KINDS = ("pair", "fragment", "pair", "neighbour")  # the default, taken in turn: three negatives to a positive
ALL_KINDS = ("pair", "fragment", "neighbour", "cut", "wide", "named_pair")
# Digits whose left or right part keeps a digit's shape (a 3's right half is a 3, a 7's a 7) are
# never cut into fragments: calling those "not a digit" would teach the model to flag real 3s.
WHOLE_HALVES = (1, 3, 5, 7)
MIN_FRAGMENT_ASPECT = 0.45  # a fragment narrower than this for its height looks like a 1: not drawn
MIN_FRAGMENT_HEIGHT = 0.7  # of its digit's height
# A cut piece is one digit when it holds at least OWN of that digit's ink and at most OTHER of its
# neighbour's (OTHER_WIDE for a wider piece, which holds a band of its neighbour by design).
OWN, OTHER, OTHER_WIDE = 0.85, 0.25, 0.35


def generate(
    X: np.ndarray, y: np.ndarray, n: int, seed: int, kinds: tuple[str, ...] = KINDS
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pieces composed from the digits ``(X, y)``: (inputs (m, 784) float32, labels (m,)), m <= n.

    A draw that leaves nothing to read (or, for a fragment, too thin a piece) is dropped, so
    ``m`` can fall a little short of ``n``. ``kinds`` are taken in turn (a kind twice, twice as often).
    """
    if len(X) < 2:
        raise ValueError("joined pieces need at least two digits to compose")
    if not kinds or not set(kinds) <= set(ALL_KINDS):
        raise ValueError(f"kinds must be some of {sorted(ALL_KINDS)}, not {kinds!r}")
    rng = np.random.default_rng([seed, 20])
    rows, labels = [], []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        a, b = (int(k) for k in rng.integers(0, len(X), 2))
        h = int(rng.integers(28, 65))
        left, right = _glyph(X[a], h * rng.uniform(0.85, 1.1)), _glyph(X[b], h * rng.uniform(0.85, 1.1))
        if kind == "fragment":
            ink, label = (None if y[a] in WHOLE_HALVES else _fragment(rng, left)), NOT_DIGIT
        elif kind in ("cut", "wide"):
            canvas, _, layers = _laid_out(rng, left, right, h)
            ink, label = _cut(rng, canvas, layers, (y[a], y[b]), wide=kind == "wide")
        else:
            ink, split = _touching(rng, left, right, h)
            if kind == "pair":
                label = NOT_DIGIT
            elif kind == "named_pair":
                label = PAIR_BASE + 10 * int(y[a]) + int(y[b])
            else:
                ink, label = _with_neighbour_edge(rng, ink, split, left.shape[1], right.shape[1], y[a], y[b])
        if ink is None:
            continue
        try:
            rows.append(to_input(np.pad(ink, 2)))
        except ImageError:
            continue
        labels.append(int(label))
    return np.array(rows, np.float32).reshape(-1, 784), np.array(labels, np.int64)


def _glyph(image: np.ndarray, height: float) -> np.ndarray:
    """A 28x28 digit in [0, 1] -> its ink (uint8, white on black) cropped and scaled to ``height`` rows."""
    ink = (np.asarray(image).reshape(28, 28) * 255).astype(np.uint8)
    ys, xs = np.nonzero(ink > 30)
    if len(ys) == 0:
        return np.zeros((max(1, round(height)), 1), np.uint8)
    ink = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    scale = height / ink.shape[0]
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(height)))
    return cv2.resize(ink, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _touching(rng: np.random.Generator, left: np.ndarray, right: np.ndarray, h: int) -> tuple[np.ndarray, int]:
    """The two glyphs on one baseline (give or take), ``right`` moved left until the inks meet and overlap a little.

    Returns the canvas and the column where ``right`` starts.
    """
    canvas, start, _ = _laid_out(rng, left, right, h)
    return canvas, start


def _laid_out(
    rng: np.random.Generator, left: np.ndarray, right: np.ndarray, h: int
) -> tuple[np.ndarray, int, tuple[np.ndarray, np.ndarray]]:
    """``_touching``'s canvas and column, and each glyph's ink alone on a canvas of the same size."""
    drop = int(rng.integers(-1, 2) * h * 0.04)  # baselines drift by a few percent of the row
    tall = max(left.shape[0], right.shape[0] + abs(drop)) + abs(drop)
    ya = tall - left.shape[0] - max(0, drop)
    yb = tall - right.shape[0] - max(0, -drop)
    a = np.zeros((tall, left.shape[1]), bool)
    a[ya : ya + left.shape[0]] = left > 60
    b = np.zeros((tall, right.shape[1]), bool)
    b[yb : yb + right.shape[0]] = right > 60
    # Per row, the rightmost ink of the left glyph and the leftmost of the right one; rows
    # either side count too, so diagonal strokes meet rather than pass.
    right_edge = np.where(a.any(axis=1), a.shape[1] - 1 - np.argmax(a[:, ::-1], axis=1), -(10**6))
    left_edge = np.where(b.any(axis=1), np.argmax(b, axis=1), 10**6)
    near = np.maximum(right_edge, np.maximum(np.roll(right_edge, 1), np.roll(right_edge, -1)))
    gap = int(np.min(left_edge - near))
    overlap = int(rng.uniform(0, 0.12) * h)
    start = max(0, 1 - gap - overlap) if gap < 10**5 else left.shape[1]
    layers = np.zeros((2, tall, max(left.shape[1], start + right.shape[1])), np.uint8)
    layers[0, ya : ya + left.shape[0], : left.shape[1]] = left
    layers[1, yb : yb + right.shape[0], start : start + right.shape[1]] = right
    return layers.max(axis=0), start, (layers[0], layers[1])


def _cut(
    rng: np.random.Generator,
    canvas: np.ndarray,
    layers: tuple[np.ndarray, np.ndarray],
    labels: tuple[int, int],
    wide: bool = False,
) -> tuple[np.ndarray | None, int]:
    """A piece the reader's own cuts make of a touching pair that is one of its digits (``OWN``, ``OTHER``), and
    that digit's label; None when no cut parts them so.

    ``layers`` are the two digits' inks alone on the canvas, so each piece's share of each is
    known. (A straight piece that parts the same ink as a winding one, which the reader reads
    once, is drawn from twice as often here: 19 of 3,726 pieces; kept so v9's recipe reproduces.)
    ``wide``: the pieces reaching past their cuts instead, at most ``OTHER_WIDE`` of the
    neighbour's ink, of a pair wider than one character. The pair's own height stands in for
    the row's, which the reader measures both by (the taller of the group and its row).
    """
    paths = [path for path, _ in cuts.candidate_cuts(canvas, 1.0)]
    if not paths or (wide and canvas.shape[1] <= ONE_CHARACTER * canvas.shape[0]):
        return None, labels[0]  # the reader cuts a pair no wider than one character again straight
    totals = [max(float(layer.sum()), 1.0) for layer in layers]
    found = []
    if wide:
        made, other = cuts.pieces(canvas, paths, whole=False, reach=reach(canvas.shape[0])), OTHER_WIDE
    else:
        made, other = (
            cuts.pieces(canvas, paths, whole=False) + cuts.pieces(canvas, cuts.straight(paths), whole=False),
            OTHER,
        )
    for piece in made:
        x, y, w, h = piece.box
        mask = np.zeros(canvas.shape, bool)
        mask[y : y + h, x : x + w] = piece.ink[cuts.MARGIN : -cuts.MARGIN, cuts.MARGIN : -cuts.MARGIN] > 0
        own = [float(layer[mask].sum()) / total for layer, total in zip(layers, totals)]
        found += [(piece.ink, labels[k]) for k in (0, 1) if own[k] >= OWN and own[1 - k] <= other]
    if not found:
        return None, labels[0]
    return found[int(rng.integers(len(found)))]


def _fragment(rng: np.random.Generator, glyph: np.ndarray) -> np.ndarray | None:
    """The left or right 35-60% of a digit; None when what is left is thin like a 1 or much shorter than the digit."""
    w = glyph.shape[1]
    keep = max(1, round(w * rng.uniform(0.35, 0.6)))
    part = glyph[:, :keep] if rng.random() < 0.5 else glyph[:, w - keep :]
    ys, xs = np.nonzero(part > 60)
    if len(ys) == 0:
        return None
    height, width = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    if height < MIN_FRAGMENT_HEIGHT * glyph.shape[0] or width < MIN_FRAGMENT_ASPECT * height:
        return None
    return part


def _with_neighbour_edge(
    rng: np.random.Generator, canvas: np.ndarray, start: int, wa: int, wb: int, la: int, lb: int
) -> tuple[np.ndarray | None, int]:
    """One digit of a touching pair, cut straight a little (up to a fifth of its width) into its neighbour.

    None when the two overlap so deeply that no straight cut leaves one digit with only an edge of the other.
    """
    nested = wa - start
    if rng.random() < 0.5:
        if nested > 0.2 * wb:
            return None, la
        return canvas[:, : max(wa, start + int(rng.uniform(0, 0.2) * wb))], la
    if nested > 0.2 * wa:
        return None, lb
    return canvas[:, max(0, min(start, wa - int(rng.uniform(0, 0.2) * wa))) :], lb
