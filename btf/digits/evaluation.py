"""Scoring a digit model on both sides: how it reads digits, and how it turns away what is not one.

``score`` reads held-out digits and held-out non-digits through ``btf.digits.read`` (the
decision the API serves) and returns: ``accuracy`` (the closest digit is right), ``flagged``
(digits wrongly called "not a digit"), ``read`` (right *and* accepted: what a user gets),
``rejection`` (non-digits flagged), ``ece`` (expected calibration error of the digit
confidences) and the reliability bins behind it. ``calibrate`` fits the temperature that
makes those confidences honest. numpy only.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from btf import digits
from btf.augment import distort
from btf.digits import calibration

# The gate's and the report's non-digits: a seed and styles training never uses
# (btf.digits.negatives), and no struck-out digits, which would tie them to whichever digits a run tests on.
GATE_SEED = 2019
HELD_OUT_KINDS = ("scribble", "shape", "hershey", "font", "fashion")


def score(graph, test: tuple[np.ndarray, np.ndarray], negatives: np.ndarray | None, rule=None) -> dict[str, Any]:
    """Both sides of ``graph`` on the same data: digit figures on ``test``, rejection on ``negatives``."""
    X, y = test
    reading = digits.read(graph, X, rule)
    right = reading.labels == y
    confidence = reading.confidences.max(axis=1)
    figures: dict[str, Any] = {
        "digits": int(len(y)),
        "accuracy": float(right.mean()),
        "flagged": float((~reading.is_digit).mean()),
        "read": float((right & reading.is_digit).mean()),
        "ece": calibration.ece(confidence, right),
        "reliability": calibration.reliability(confidence, right),
        "labels": reading.labels,
    }
    if negatives is not None and len(negatives):
        figures["non_digits"] = int(len(negatives))
        figures["rejection"] = float((~digits.read(graph, negatives, rule).is_digit).mean())
    return figures


def calibrate(graph, val: tuple[np.ndarray, np.ndarray], seed: int = 0) -> dict[str, float]:
    """The ``not_digit`` metadata for ``graph``: a temperature fitted on held-out digits, and the threshold.

    The validation digits alone are too easy to calibrate on (a good model reads them all
    right at 99.9%); what it meets in use are other hands. So the fit sees them twice: as they
    are, and strongly distorted (rotation, scale, shear and shift beyond what training used),
    which costs MNIST about as much accuracy as other writers' digits do.
    """
    X, y = val
    hard = distort(X, np.random.default_rng(seed), degrees=25, scale=0.25, shear=0.45, shift=3.5)
    both = np.vstack([X, hard])
    _, outputs = graph.predict(both)
    labels = np.concatenate([y, y])
    temperature = calibration.fit_temperature(outputs[:, : digits.CLASSES], labels)
    return {"temperature": round(temperature, 4), "threshold": digits.DEFAULT_THRESHOLD}


@functools.cache
def held_out_negatives(n: int) -> np.ndarray:
    """``n`` held-out non-digits, the same on every run (cached: the gate and the report share them)."""
    from btf.digits import negatives  # needs OpenCV and Pillow, like btf.images.vision

    drawn = negatives.generate(n, seed=GATE_SEED, split="heldout", kinds=HELD_OUT_KINDS)
    drawn.setflags(write=False)  # shared by every caller in this process
    return drawn


def with_negatives(train: tuple[np.ndarray, np.ndarray], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The training digits and ``n`` generated non-digits (training styles), labelled 10: 'not a digit'."""
    from btf.digits import negatives

    X, y = train
    extra = negatives.generate(n, seed=seed, split="train", digits=X)
    return np.vstack([X, extra]), np.concatenate([y, np.full(len(extra), digits.NOT_DIGIT, y.dtype)])
