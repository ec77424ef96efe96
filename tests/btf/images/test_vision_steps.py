"""btf.images.vision's steps done by single OpenCV calls or partial sorts, against their plain numpy definitions."""

import cv2
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from btf.images import vision

bytes_ = arrays(np.uint8, st.integers(1, 700), elements=st.integers(0, 255))


@settings(max_examples=200, deadline=None)
@given(values=bytes_)
@example(values=np.array([0, 255], np.uint8))
@example(values=np.array([7], np.uint8))
@example(values=np.array([1, 2, 3, 255], np.uint8))
def test_the_border_median_is_numpys(values):
    assert vision._median(values) == int(np.median(values))


@settings(max_examples=200, deadline=None)
@given(values=bytes_)
@example(values=np.array([0, 24], np.uint8))  # variance exactly 144: not over
@example(values=np.array([0, 25], np.uint8))
@example(values=np.array([9], np.uint8))
def test_the_border_variance_test_is_exact(values):
    n, total = len(values), sum(int(v) for v in values)
    exact_times_n2 = n * sum(int(v) ** 2 for v in values) - total * total  # n^2 * variance, in whole numbers
    assert vision._variance_over(values, 144) == (exact_times_n2 > 144 * n * n)
    if abs(np.std(values.astype(np.float64)) - 12) > 1e-6:
        assert vision._variance_over(values, 144) == (float(np.std(values)) > 12)


@pytest.mark.parametrize("threshold", [0.0, 0.5, 1.0, 1.5, 37.0, 63.5, 64.0, 127.49, 254.5, 255.0])
def test_zeroing_under_a_threshold_is_the_comparison(threshold):
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    got = cv2.threshold(values, vision._below(threshold), 0, cv2.THRESH_TOZERO)[1]
    assert np.array_equal(got, np.where(values >= threshold, values, 0))
    assert np.array_equal(vision._mask(values, threshold), (values >= max(threshold, 1)).astype(np.uint8))


def test_the_ink_layer_keeps_exactly_the_ink_over_half_otsu():
    rng = np.random.default_rng(3)
    gray = rng.integers(200, 231, (120, 100)).astype(np.uint8)  # noisy paper, but even (no lighting to flatten)
    cv2.circle(gray, (50, 60), 30, 20, 9)
    ink, otsu = vision.ink_layer(gray.copy())
    plain = (255 - gray).astype(int)  # paper is light: inverted, then the paper's level taken off
    border = np.concatenate([plain[0], plain[-1], plain[1:-1, 0], plain[1:-1, -1]])
    plain = np.maximum(plain - int(np.median(border)), 0)
    assert np.array_equal(ink, np.where(plain >= otsu * 0.5, plain, 0))


@pytest.mark.parametrize("seed", range(5))
def test_the_stroke_edge_is_the_ink_that_erosion_removes(seed):
    mask = (np.random.default_rng(seed).random((40, 30)) < 0.4 + 0.1 * seed).astype(np.uint8)
    mask = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT)
    eroded = cv2.erode(mask, np.ones((3, 3), np.uint8))
    plain = int((mask & (1 - eroded)).sum())
    assert cv2.countNonZero(mask) - cv2.countNonZero(eroded) == plain


def _centre_plain(digit):
    """The centring as numpy computed it: float64 moments over float32 totals."""
    h, w = digit.shape
    total = float(digit.sum())
    ys, xs = np.indices(digit.shape)
    cy = float((ys * digit).sum() / total) if total else h / 2
    cx = float((xs * digit).sum() / total) if total else w / 2
    top, left = int(np.clip(round(14 - cy), 0, 28 - h)), int(np.clip(round(14 - cx), 0, 28 - w))
    out = np.zeros((28, 28), np.float32)
    out[top : top + h, left : left + w] = digit
    return np.clip(out / 255, 0, 1).ravel()


@pytest.mark.parametrize("shape", [(20, 2), (2, 20), (20, 1), (1, 20), (2, 2), (20, 20), (13, 7), (28, 28)])
def test_centring_is_by_the_centre_of_mass(shape):
    """Narrow digits too: OpenCV's moments would read an N x 2 array as N points, not as an image."""
    rng = np.random.default_rng(shape[0] * 31 + shape[1])
    for digit in (rng.random(shape).astype(np.float32) * 255, np.zeros(shape, np.float32)):
        digit[: shape[0] // 2] *= 0.2  # off-centre mass
        assert np.allclose(vision._centre(digit), _centre_plain(digit), atol=1e-6)
