"""Activation and cost functions for btf.Graph, written for float32 batches of shape (n, features).

Derivatives are taken from the activations, not the pre-activations, so the forward pass
only has to keep one array per layer. Every function works in place where it can: at
batch 10 the cost of a numpy call, not the arithmetic, is what an epoch spends its time on.
"""

from __future__ import annotations

import numpy as np

COSTS = ("quadratic", "cross_entropy")


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """int labels (n,) -> float32 (n, classes) with a single 1 per row (labels assumed in range)."""
    out = np.zeros((len(labels), classes), dtype=np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, in place. tanh form: no overflow warning for large |z|."""
    np.multiply(z, 0.5, out=z)
    np.tanh(z, out=z)
    np.add(z, 1.0, out=z)
    np.multiply(z, 0.5, out=z)
    return z


def sigmoid_derivative(delta: np.ndarray, a: np.ndarray) -> np.ndarray:
    """delta * sigmoid'(z) = delta * a * (1 - a), in place."""
    delta *= a
    delta *= 1.0 - a
    return delta


def relu(z: np.ndarray) -> np.ndarray:
    """max(z, 0), in place."""
    return np.maximum(z, 0.0, out=z)


def relu_derivative(delta: np.ndarray, a: np.ndarray) -> np.ndarray:
    """delta * relu'(z) = delta where a > 0, else 0, in place."""
    delta *= a > 0
    return delta


# Each activation, forward and derivative side by side: the one table the library, the
# checkpoint reader and the trainer's --activation choices all read.
ACTIVATION_TABLE = {"sigmoid": (sigmoid, sigmoid_derivative), "relu": (relu, relu_derivative)}
ACTIVATIONS = tuple(ACTIVATION_TABLE)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, in place; shifted by the row max so exp never overflows."""
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def activate(name: str, z: np.ndarray) -> np.ndarray:
    return ACTIVATION_TABLE[name][0](z)


def scale_by_derivative(name: str, delta: np.ndarray, a: np.ndarray) -> np.ndarray:
    """delta * f'(z), with f'(z) written in terms of a = f(z); modifies delta in place."""
    return ACTIVATION_TABLE[name][1](delta, a)


def output_delta(cost: str, out: np.ndarray, target: np.ndarray) -> np.ndarray:
    """dC/dz of the output layer, for a sigmoid output (quadratic) or softmax (cross-entropy)."""
    delta = out - target
    if cost == "quadratic":
        delta *= out
        delta *= 1.0 - out
    return delta


def loss(cost: str, out: np.ndarray, target: np.ndarray) -> float:
    """Mean cost per sample of a batch (without weight decay)."""
    if cost == "quadratic":
        return float(0.5 * np.square(out - target).sum() / len(out))
    # Clip so a confidently wrong prediction costs a large finite number, not inf.
    return float(-(target * np.log(np.clip(out, 1e-12, 1.0))).sum() / len(out))
