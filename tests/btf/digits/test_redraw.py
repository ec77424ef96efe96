"""btf.digits.redraw: training digits re-drawn as scans, pens and pencils keep their labels and read as MNIST-like inputs."""

import numpy as np

from btf.digits import redraw


def _digits(n=12):
    X = np.zeros((n, 28, 28), np.float32)
    X[:, 5:23, 12:16] = 1.0  # a bar, as a "1"
    X[::2, 5:9, 8:20] = 1.0  # and a top bar on every other one, as a "7"
    return X.reshape(n, 784), np.array([7, 1] * (n // 2))


def test_redrawn_digits_keep_their_labels_and_come_through_the_pipeline():
    X, y = _digits()
    R, labels = redraw.redraw(X, y, 40, seed=0)
    assert R.shape == (len(labels), 784) and len(labels) >= 36 and R.dtype == np.float32
    assert set(labels) <= {1, 7} and R.min() >= 0 and R.max() <= 1
    # A 7 keeps more ink in its top rows than a 1 does, whatever the style.
    top = R.reshape(-1, 28, 28)[:, 4:11].sum(axis=(1, 2)) / R.sum(axis=1)
    assert top[labels == 7].mean() > top[labels == 1].mean()


def test_the_same_seed_redraws_the_same():
    X, y = _digits()
    a, la = redraw.redraw(X, y, 10, seed=3)
    b, lb = redraw.redraw(X, y, 10, seed=3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(a, redraw.redraw(X, y, 10, seed=4)[0])
