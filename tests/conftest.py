"""Shared fixtures: small synthetic digit data, so unit tests need no data set on disk."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture
def blobs():
    """A learnable 3-class problem: 12 features, classes separated by their mean."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    X = rng.random((600, 12), dtype=np.float32) * 0.5
    X[np.arange(600), y * 4] += 0.5
    return (X[:450], y[:450]), (X[450:], y[450:])
