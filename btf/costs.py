"""Costs for btf.Graph: what the network's output means, how wrong it is, and the delta backprop starts from.

Two costs, as in Nielsen's book. ``quadratic`` (the original's): sigmoid outputs, C = 1/2 |a - y|^2 per
sample. ``cross_entropy``: softmax outputs, C = -sum(y log a). Each gives the output layer's dC/dz in one
line: (a - y) a (1 - a) and a - y. The cost's ``output`` follows the last layer, usually a linear one.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from btf.activations import sigmoid, softmax
from btf.errors import DataError

COSTS = ("quadratic", "cross_entropy")


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """int labels (n,) -> float32 (n, classes) with a single 1 per row; DataError for a label out of range."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise DataError(f"labels must lie in [0, {classes - 1}]")
    out = np.zeros((len(labels), classes), dtype=np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


def output(cost: str, z: np.ndarray) -> np.ndarray:
    """The network's output from the last layer's z, in place: softmax (cross-entropy) or sigmoid (quadratic)."""
    return softmax(z) if cost == "cross_entropy" else sigmoid(z)


def output_delta(cost: str, out: np.ndarray, target: np.ndarray) -> np.ndarray:
    """dC/dz of the last layer: (a - y) a (1 - a) for quadratic, a - y for cross-entropy (softmax's Jacobian cancels)."""
    delta = out - target
    if cost == "quadratic":
        delta *= out
        delta *= 1.0 - out
    return delta


def loss(cost: str, out: np.ndarray, target: np.ndarray) -> float:
    """Mean cost per sample of a batch, without weight decay."""
    if out.shape != target.shape:  # vdot flattens: a transposed target would sum without complaint
        raise ValueError(f"outputs {out.shape} and targets {target.shape} differ in shape")
    if cost == "quadratic":
        error = out - target
        # vdot: one BLAS pass, no squared copy; it sums in float32 (about 1e-5 relative on 60,000 rows).
        return 0.5 * float(np.vdot(error, error)) / len(out)
    # Clipped, so a confidently wrong answer costs a large finite number, not inf.
    return -float(np.vdot(target, np.log(np.clip(out, 1e-12, 1.0)))) / len(out)


def penalty(l2: float, params: Iterable[np.ndarray]) -> float:
    """The weight decay's term of the loss, l2/2 * sum(w^2), over the weights among ``params``: arrays of two
    or more dimensions, never biases (as btf.optimizers decays them)."""
    return 0.5 * l2 * sum(float(np.vdot(w, w)) for w in params if w.ndim > 1) if l2 else 0.0
