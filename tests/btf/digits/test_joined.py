"""btf.digits.joined: touching pairs and fragments are "not a digit", a digit with a neighbour's edge keeps its label."""

import cv2
import numpy as np
import pytest

from btf.digits import NOT_DIGIT, joined


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
