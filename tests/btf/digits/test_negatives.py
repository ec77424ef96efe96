"""btf.digits.negatives: non-digit drawings, made as the page makes drawings and read through the API's preprocessing."""

import numpy as np
import pytest

from btf.digits import negatives

pytest.importorskip("PIL")


def test_every_kind_is_drawn_and_preprocessed_like_a_served_image():
    digits = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    images = negatives.render(12, seed=0, digits=digits, kinds=("scribble", "shape", "hershey", "font", "crossed"))
    assert {kind for kind, _ in images} == {"scribble", "shape", "hershey", "font", "crossed"}
    assert all(png.startswith(b"\x89PNG") for _, png in images)
    rows = negatives.inputs(images)
    assert len(rows) == 12
    for _, x in rows:  # MNIST-like: 784 values in [0, 1], ink present, centred by the pipeline
        assert x.shape == (784,) and x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1 and x.max() > 0.5


def test_the_same_seed_draws_the_same_and_the_splits_differ():
    a = negatives.generate(6, seed=3, kinds=("scribble", "shape"))
    np.testing.assert_array_equal(a, negatives.generate(6, seed=3, kinds=("scribble", "shape")))
    assert not np.array_equal(a, negatives.generate(6, seed=4, kinds=("scribble", "shape")))
    held = negatives.generate(6, seed=3, split="heldout", kinds=("scribble", "shape"))
    assert held.shape == (6, 784) and not np.array_equal(a, held)


def test_kinds_that_cannot_be_drawn_are_skipped_and_bad_splits_refused(monkeypatch):
    monkeypatch.setattr(negatives, "FASHION", negatives.FASHION / "not-here")
    images = negatives.render(4, seed=0, kinds=("crossed", "fashion", "hershey"))  # no digits, no Fashion-MNIST
    assert {kind for kind, _ in images} == {"hershey"}
    with pytest.raises(ValueError, match="split"):
        negatives.render(1, seed=0, split="test")


def test_no_letter_drawn_is_a_digits_twin():
    twins = set("0123456789OoQIl|iSsZzgqbB")
    assert not twins & set(negatives.LETTERS + negatives.SYMBOLS)
