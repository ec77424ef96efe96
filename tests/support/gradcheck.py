"""Central finite differences: the numeric side of every gradient check."""

import numpy as np


def central_difference(p: np.ndarray, idx: tuple, cost, eps: float = 1e-6) -> float:
    """d cost() / d p[idx], by nudging that one entry both ways (and putting it back)."""
    old = p[idx]
    p[idx] = old + eps
    up = cost()
    p[idx] = old - eps
    down = cost()
    p[idx] = old
    return (up - down) / (2 * eps)
