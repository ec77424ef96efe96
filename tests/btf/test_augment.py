"""Augmentation: distorted digits keep their shape, range and most of their ink, and training uses them."""

import numpy as np

import btf
from btf.augment import distort


def _digit():
    img = np.zeros((28, 28), np.float32)
    img[6:22, 12:16] = 1.0  # a "1"
    return img.ravel()


def test_distort_keeps_shape_range_and_ink():
    X = np.stack([_digit()] * 50)
    out = distort(X, np.random.default_rng(0))
    assert out.shape == X.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    ink = out.sum(axis=1) / X.sum(axis=1)
    assert (ink > 0.7).all() and (ink < 1.4).all()
    assert not np.allclose(out, X)


def test_no_distortion_is_identity():
    X = np.stack([_digit()] * 3)
    out = distort(X, np.random.default_rng(0), degrees=0, scale=0, shear=0, shift=0)
    np.testing.assert_allclose(out, X, atol=1e-5)


def test_run_trains_on_augmented_copies(blobs):
    seen = []

    def augment(X, rng):
        seen.append(X.shape)
        return X

    net = btf.Graph((12, 4, 3), seed=0)
    net.feed(*blobs)
    net.run(2, progress=False, log=None, augment=augment)
    assert seen == [(450, 12)] * 2


def test_hand_distortion_keeps_range_and_ink_and_varies_the_strokes():
    from btf.augment import hand

    rng = np.random.default_rng(0)
    X = np.zeros((30, 784), np.float32)
    X.reshape(30, 28, 28)[:, 6:22, 12:15] = 1.0  # a three-pixel vertical bar, a "1"
    out = hand(X, rng)
    assert out.shape == X.shape and out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    ink = out.sum(axis=1) / X.sum(axis=1)
    assert (ink > 0.4).all() and (ink < 2.5).all()  # thicker, thinner, stretched: never wiped out
    assert ink.max() / ink.min() > 1.3  # stroke widths really differ
    assert not np.array_equal(hand(X, np.random.default_rng(1)), out)
