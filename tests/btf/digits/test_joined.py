"""btf.digits.joined: touching pairs and fragments are "not a digit", a digit with a neighbour's edge keeps its label."""

import cv2
import numpy as np
import pytest

from btf.digits import NOT_DIGIT, PAIR_BASE, candidates, cuts, joined


def _digits(n=40):
    """Bars as 1s and boxes (rings) as 0s, so each piece's origin can be seen in its shape."""
    X = np.zeros((n, 28, 28), np.float32)
    y = np.array([0, 1] * (n // 2))
    for k in range(n):
        if y[k] == 1:
            X[k, 4:24, 13:16] = 1.0
        else:
            X[k, 4:24, 6:22] = 1.0
            X[k, 8:20, 10:18] = 0.0
    return X.reshape(n, 784), y


def test_pieces_come_through_the_readers_normalisation_with_their_labels():
    X, y = _digits()
    R, labels = joined.generate(X, y, 200, seed=0)
    assert R.dtype == np.float32 and R.shape == (len(labels), 784) and 120 <= len(labels) <= 200
    assert R.min() >= 0 and R.max() <= 1 and set(labels) <= {0, 1, NOT_DIGIT}
    # Three in four are pairs or fragments ("not a digit"); a share of digits with a neighbour's edge keeps its label.
    assert 0.6 < np.mean(labels == NOT_DIGIT) < 0.9 and np.any(labels != NOT_DIGIT)
    # As to_input makes them: the ink's box is 20 px on its longer side, its mass near the centre.
    image = R[0].reshape(28, 28)
    ys, xs = np.nonzero(image > 0.1)
    assert 18 <= max(np.ptp(ys), np.ptp(xs)) + 1 <= 22
    cy, cx = (np.array(np.nonzero(image)) * image[image > 0]).sum(axis=1) / image.sum()
    assert abs(cy - 13.5) < 3 and abs(cx - 13.5) < 3


def test_a_pair_touches_and_is_wider_than_either_digit():
    X, y = _digits()
    rng = np.random.default_rng(0)
    for _ in range(20):
        left, right = joined._glyph(X[0], 40), joined._glyph(X[2], 40)
        canvas, start = joined._touching(rng, left, right, 40)
        count, _ = cv2.connectedComponents((canvas > 60).astype(np.uint8), connectivity=8)
        assert count - 1 == 1  # the two rings' inks meet: one component
        assert start <= left.shape[1] and canvas.shape[1] > max(left.shape[1], right.shape[1])


def test_fragments_are_never_thin_like_a_one_nor_cut_from_digits_whose_halves_are_digits():
    X, y = _digits()
    rng = np.random.default_rng(1)
    bar = joined._glyph(X[1], 40)  # a 1: any part of it is thin
    assert all(joined._fragment(rng, bar) is None for _ in range(20))
    ring = joined._glyph(X[0], 40)
    parts = [joined._fragment(rng, ring) for _ in range(20)]
    kept = [p for p in parts if p is not None]
    assert kept and all(p.shape[1] < ring.shape[1] for p in kept)
    ones = np.tile(X[1], (10, 1))
    R, labels = joined.generate(ones, np.ones(10, np.int64), 40, seed=0)
    assert len(labels) < 40  # no fragments of 1s: those draws are dropped
    assert {1, NOT_DIGIT} >= set(labels)


def test_the_same_seed_composes_the_same():
    X, y = _digits()
    a, la = joined.generate(X, y, 30, seed=3)
    b, lb = joined.generate(X, y, 30, seed=3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(a, joined.generate(X, y, 30, seed=4)[0])


def test_one_digit_is_not_enough_to_compose_a_pair():
    X, y = _digits(2)
    with pytest.raises(ValueError, match="at least two digits"):
        joined.generate(X[:1], y[:1], 5, seed=0)


def test_kinds_choose_what_is_drawn():
    X, y = _digits()
    _, labels = joined.generate(X, y, 30, seed=0, kinds=("pair",))
    assert len(labels) and set(labels) == {NOT_DIGIT}
    _, labels = joined.generate(X, y, 30, seed=0, kinds=("neighbour",))
    assert len(labels) and set(labels) <= {0, 1}
    with pytest.raises(ValueError, match="kinds must be some of"):
        joined.generate(X, y, 5, seed=0, kinds=("pair", "letter"))


def test_a_named_pair_is_the_same_pair_labelled_with_its_two_digits():
    X, y = _digits()
    pairs, labels = joined.generate(X, y, 30, seed=3, kinds=("pair",))
    named, names = joined.generate(X, y, 30, seed=3, kinds=("named_pair",))
    np.testing.assert_array_equal(named, pairs)
    assert set(labels) == {NOT_DIGIT} and set(names) <= {PAIR_BASE + p for p in (0, 1, 10, 11)}
    # The names follow the ink: two 1s (bars) make the narrowest pairs, two 0s (rings) the widest.
    width = (named.reshape(-1, 28, 28).max(axis=1) > 0.1).sum(axis=1) / (
        named.reshape(-1, 28, 28).max(axis=2) > 0.1
    ).sum(axis=1)
    assert width[names == PAIR_BASE + 11].max() < width[names == PAIR_BASE].min()


def _drawn(n=40):
    """Pen-drawn 0s (ovals) and 1s (strokes): touching, they meet at a point or two, as handwriting does."""
    X = np.zeros((n, 28, 28), np.uint8)
    y = np.array([0, 1] * (n // 2))
    for k in range(n):
        if y[k] == 1:
            cv2.line(X[k], (14, 4), (12, 23), 255, 2)
        else:
            cv2.ellipse(X[k], (14, 14), (6 + k % 3, 10), 0, 0, 360, 255, 2)
    return X.reshape(n, 784).astype(np.float32) / 255, y


def _ovals(n=40):
    """Ovals of two labels, told apart by their ink: label 0 drawn at full intensity, label 2 at half."""
    X = np.zeros((n, 28, 28), np.uint8)
    y = np.array([0, 2] * (n // 2))
    for k in range(n):
        cv2.ellipse(X[k], (14, 14), (6 + k % 3, 10), 0, 0, 360, 255 if y[k] == 0 else 128, 2)
    return X.reshape(n, 784).astype(np.float32) / 255, y


@pytest.mark.parametrize("wide", [False, True])
def test_a_cut_piece_is_one_digit_as_the_readers_own_cuts_part_it(wide):
    # "cut": the winding and straight pieces; "wide": the pieces reaching past their cuts, of a
    # pair wider than one character (the reader cuts a narrower one again straight).
    other = joined.OTHER_WIDE if wide else joined.OTHER
    X, y = _ovals()
    rng = np.random.default_rng(2)
    kept = 0
    for k in range(30):
        a, b = k % 40, (k * 7 + 1) % 40  # a bright 0 and a dim 2, either way round, or two alike
        left, right = joined._glyph(X[a], 48), joined._glyph(X[b], 48)
        canvas, _, layers = joined._laid_out(rng, left, right, 48)
        np.testing.assert_array_equal(canvas, np.maximum(*layers))  # the pair is its two digits' ink
        ink, label = joined._cut(rng, canvas, layers, (int(y[a]), int(y[b])), wide=wide)
        if ink is None:
            continue
        kept += 1
        assert not wide or canvas.shape[1] > candidates.ONE_CHARACTER * canvas.shape[0]
        # It is one of the pieces the reader takes: reaching past the cuts, or winding and straight.
        paths = [path for path, _ in cuts.candidate_cuts(canvas, 1.0)]
        made = (
            cuts.pieces(canvas, paths, whole=False, reach=candidates.reach(canvas.shape[0]))
            if wide
            else (cuts.pieces(canvas, paths, whole=False) + cuts.pieces(canvas, cuts.straight(paths), whole=False))
        )
        assert any(np.array_equal(ink, piece.ink) for piece in made)
        # It holds at least OWN of its digit's ink and at most OTHER of the neighbour's.
        totals = [float(layer.sum()) for layer in layers]
        assert min(totals) * joined.OWN * 0.99 <= float(ink.sum()) <= max(totals) * (1 + other) * 1.01
        # And its label is the digit whose ink it mostly is: bright ink is a 0's, dim ink a 2's.
        bright, dim = int((ink > 200).sum()), int(((ink > 60) & (ink <= 200)).sum())
        if y[a] != y[b]:
            assert label == (0 if bright > dim else 2)
        else:
            assert label == y[a]
    assert kept >= 10


@pytest.mark.parametrize("kind", ["cut", "wide"])
def test_cut_pieces_keep_their_labels(kind):
    X, y = _drawn()
    R, labels = joined.generate(X, y, 40, seed=0, kinds=(kind,))
    assert 8 <= len(labels) <= 40  # a draw no cut parts is dropped
    # A 1 and a 0 touching are no wider than one character: "wide" takes pieces of two 0s only.
    assert set(labels) == ({0} if kind == "wide" else {0, 1})
    with pytest.raises(ValueError, match="kinds must be some of"):
        joined.generate(X, y, 10, seed=0, kinds=("cut", "letter"))


@pytest.mark.parametrize("seed", range(6))
def test_the_kinds_before_cut_lay_pairs_out_as_they_did(seed):
    # The older kinds' data is unchanged by the "cut" kind, so a model's recipe reproduces: the
    # pair is laid out exactly as the code before it did, from the same draws.
    X, y = _digits()
    drawn, _ = _drawn()
    for k in range(10):
        height = 28 + 4 * k
        left, right = joined._glyph(X[k], height), joined._glyph(drawn[(k * 3 + seed) % 40], height)
        canvas, start = joined._touching(np.random.default_rng([seed, k]), left, right, height)
        want, want_start = _touching_before(np.random.default_rng([seed, k]), left, right, height)
        np.testing.assert_array_equal(canvas, want)
        assert start == want_start


def _touching_before(rng: np.random.Generator, left: np.ndarray, right: np.ndarray, h: int) -> tuple[np.ndarray, int]:
    """``joined._touching`` as it was before the "cut" kind (the oracle that the older kinds' data is unchanged)."""
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
    canvas = np.zeros((tall, max(left.shape[1], start + right.shape[1])), np.uint8)
    canvas[ya : ya + left.shape[0], : left.shape[1]] = left
    region = canvas[yb : yb + right.shape[0], start : start + right.shape[1]]
    np.maximum(region, right, out=region)
    return canvas, start
