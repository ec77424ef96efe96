"""The original network.py's dense layers, as whole-batch matrix products: initialisation, forward, backprop.

``btf.Graph((784, 30, 10))`` runs on these. Each mini-batch is one matrix product per layer,
forward and back, in float32; the derivatives are taken from the activations, so the
forward pass keeps one array per layer.
"""

from __future__ import annotations

import numpy as np

from btf import nn
from btf.errors import ConfigError


def init_params(sizes: tuple[int, ...], init: str, rng: np.random.Generator) -> tuple[list, list]:
    """Weights and biases. ``scaled``: N(0, 1/fan_in) weights and zero biases; ``normal``: the original N(0, 1)."""
    if init not in ("scaled", "normal"):
        raise ConfigError(f"init must be 'scaled' or 'normal', not {init!r}")
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        w = rng.standard_normal((n_in, n_out), dtype=np.float32)
        if init == "scaled":
            w *= np.float32(1.0 / np.sqrt(n_in))
            b = np.zeros(n_out, dtype=np.float32)
        else:
            b = rng.standard_normal(n_out, dtype=np.float32)
        weights.append(w)
        biases.append(b)
    return weights, biases


def forward_all(weights: list, biases: list, activation: str, cost: str, X: np.ndarray) -> list[np.ndarray]:
    """Activations of every layer, input first; the output uses softmax or sigmoid by cost."""
    acts = [X]
    last = len(weights) - 1
    for i, (w, b) in enumerate(zip(weights, biases)):
        z = acts[-1] @ w
        z += b
        if i < last:
            acts.append(nn.activate(activation, z))
        else:
            acts.append(nn.softmax(z) if cost == "cross_entropy" else nn.sigmoid(z))
    return acts


def gradients(
    weights: list, activation: str, cost: str, acts: list[np.ndarray], Y: np.ndarray, scale: float
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Gradients of the cost from a forward pass's activations, scaled by ``scale``.

    Walks back from the output: layer i's gradient needs only its own delta, and each earlier
    delta is pushed through layer i's weights and the activation's derivative. ``scale`` folds
    the 1/m of the mean (and, for an SGD step, the learning rate) into one multiply.
    """
    delta = nn.output_delta(cost, acts[-1], Y)
    delta *= scale
    n = len(weights)
    grad_w: list[np.ndarray] = [delta] * n
    grad_b: list[np.ndarray] = [delta] * n
    for i in range(n - 1, -1, -1):
        grad_w[i] = acts[i].T @ delta
        grad_b[i] = delta.sum(axis=0)
        if i > 0:
            delta = nn.scale_by_derivative(activation, delta @ weights[i].T, acts[i])
    return grad_w, grad_b
