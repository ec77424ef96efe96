"""Activation functions for btf's layers, forward and derivative side by side, on float32 batches.

Derivatives are taken from the activations, not the pre-activations, so a layer keeps one array (its
output) for backward. Every function works in place: at batch 10, numpy calls and fresh arrays, not the
arithmetic, are what an epoch spends.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z), in place. z is first raised to at least -87, below which e^-z overflows float32
    (sigmoid(-87) < 2e-38); a large z underflows e^-z to 0, ignored by default. The tanh form, (1 + tanh(z/2)) / 2, needs no
    clamp, but float32 tanh has no SIMD loop on AVX2 CPUs: it takes twice exp's time."""
    np.maximum(z, np.float32(-87), out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    z += 1.0
    return np.reciprocal(z, out=z)


def sigmoid_derivative(delta: np.ndarray, a: np.ndarray) -> np.ndarray:
    """delta * sigmoid'(z), where sigmoid'(z) = a (1 - a) for a = sigmoid(z); in place."""
    delta *= a
    delta *= 1.0 - a
    return delta


def relu(z: np.ndarray) -> np.ndarray:
    """max(z, 0), in place."""
    return np.maximum(z, 0.0, out=z)


def relu_derivative(delta: np.ndarray, a: np.ndarray) -> np.ndarray:
    """delta * relu'(z): delta where a = relu(z) > 0, else 0; in place."""
    delta *= a > 0
    return delta


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise e^z / sum(e^z), in place; shifted by the row's maximum so exp never overflows."""
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


# The one table the layers, the checkpoint reader and the trainer's choices all read:
# name -> (f, f' as a function of (delta, a = f(z))), both in place.
TABLE = {"sigmoid": (sigmoid, sigmoid_derivative), "relu": (relu, relu_derivative)}
ACTIVATIONS = tuple(TABLE)
