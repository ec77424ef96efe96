"""Optimizers for btf.Graph: plain SGD (the default, the original's), momentum, and Adam, with one weight-decay rule.

Each updates a list of float32 arrays in place from their gradients over a mini-batch:

- ``sgd``:       p <- p - lr * g
- ``momentum``:  v <- 0.9 v - lr * g;  p <- p + v
- ``adam``:      m <- 0.9 m + 0.1 g;  v <- 0.999 v + 0.001 g^2;
                 p <- p - lr * sqrt(1 - 0.999^t) / (1 - 0.9^t) * m / (sqrt(v) + 1e-7)
                 (the paper's efficient form: bias correction folded into the step size)

Weight decay (``l2``), one rule for every optimizer and layer: before each step, every weight (an
array of 2+ dimensions: dense matrices and conv kernels, never biases or BatchNorm's scale and shift)
shrinks by ``lr * l2 * p``. For SGD that is the gradient of the penalty l2/2 |w|^2 (btf.costs.penalty,
in the reported loss); for momentum and Adam it is decoupled decay, AdamW's form.

SGD takes its gradients already times the learning rate (``gradient_scale``; Graph folds it into
backprop's first delta): a step is one subtraction per array. State (velocities, moments) is not
saved in checkpoints: a loaded model that trains on restarts it. Limits: fixed hyperparameters.
"""

from __future__ import annotations

import numpy as np

from btf.errors import ConfigError

OPTIMIZERS = ("sgd", "momentum", "adam")


class Optimizer:
    def __init__(self, name: str, learning_rate: float, l2: float = 0.0) -> None:
        if name not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {OPTIMIZERS}, not {name!r}")
        self.name, self.l2, self.lr, self.steps = name, float(l2), np.float32(learning_rate), 0
        self._state: list[list[np.ndarray]] | None = None

    @property
    def gradient_scale(self) -> np.float32:
        """What ``update`` expects the gradients multiplied by: the learning rate for SGD, 1 otherwise."""
        return self.lr if self.name == "sgd" else np.float32(1)

    def update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """One step for every array in ``params`` from its gradient (times ``gradient_scale``), in place."""
        self.steps += 1
        if self.l2:
            shrink = np.float32(1 - self.lr * self.l2)
            for p in params:
                if p.ndim > 1:
                    p *= shrink
        if self.name == "sgd":  # the common case, kept to one subtraction per array
            for p, g in zip(params, grads):
                p -= g
            return
        if self._state is None:  # momentum's velocities; Adam's first and second moments
            self._state = [[np.zeros_like(p) for p in params] for _ in range(1 if self.name == "momentum" else 2)]
        if self.name == "momentum":
            for p, g, v in zip(params, grads, self._state[0]):
                v *= np.float32(0.9)
                v -= self.lr * g
                p += v
            return
        b1, b2 = np.float32(0.9), np.float32(0.999)
        step = self.lr * np.float32(np.sqrt(1 - 0.999**self.steps) / (1 - 0.9**self.steps))
        for p, g, m, v in zip(params, grads, *self._state):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * np.square(g)
            p -= step * m / (np.sqrt(v) + np.float32(1e-7))
