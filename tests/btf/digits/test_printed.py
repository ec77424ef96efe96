"""btf.digits.printed: digits printed in TrueType fonts, normalised as /predict and the number reader do."""

import numpy as np
import pytest

import btf
from btf import digits
from btf.digits import printed
from tests.conftest import ROOT

needs_fonts = pytest.mark.skipif(not printed.fonts(), reason="no DejaVu TrueType fonts installed")


@needs_fonts
def test_labels_take_turns_and_inputs_are_normalised_digits():
    X, y = printed.generate(60, seed=0)
    assert X.dtype == np.float32 and X.shape == (len(y), 784) and 55 <= len(y) <= 60
    assert X.min() >= 0 and X.max() <= 1 and set(y) == set(range(10))
    for image in X.reshape(-1, 28, 28):  # as to_input makes them: 20 px on the ink's longer side
        ys, xs = np.nonzero(image > 0.1)
        assert 17 <= max(np.ptp(ys), np.ptp(xs)) + 1 <= 22


@needs_fonts
def test_each_label_is_the_digit_printed():
    # v7, which never trained on these, reads them (the labels are not shifted or mixed up):
    # not the promoted model, which may have learnt from this very generator.
    X, y = printed.generate(200, seed=1)
    reading = digits.read(btf.Graph.load(ROOT / "models" / "model-v7.npz"), X)
    assert np.mean(reading.labels == y) >= 0.95


@needs_fonts
def test_same_seed_same_digits_and_another_seed_others():
    a, la = printed.generate(20, seed=3)
    b, lb = printed.generate(20, seed=3)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert not np.array_equal(a, printed.generate(20, seed=4)[0])


def test_no_fonts_no_digits(monkeypatch):
    monkeypatch.setattr(printed, "fonts", lambda: [])
    X, y = printed.generate(10, seed=0)
    assert X.shape == (0, 784) and y.shape == (0,)


def test_only_the_training_fonts():
    # Liberation (the held-out letters' fonts) and the maths font stay out of training.
    assert all("/dejavu/" in f and "MathTeX" not in f for f in printed.fonts())
