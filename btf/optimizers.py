"""Optimizers for btf.Graph: plain SGD (the default, the original's), momentum, and Adam.

Each updates a flat list of float32 parameter arrays in place from their mean gradients over a
mini-batch, with L2 weight decay folded into the gradient (``g + l2 * p``). State (velocities,
moments) lives in the optimizer and is not saved in checkpoints: a loaded model that trains on
restarts it. Limits: fixed hyperparameters (momentum 0.9; Adam's 0.9, 0.999, 1e-7).
"""

from __future__ import annotations

import numpy as np

from btf.errors import ConfigError

OPTIMIZERS = ("sgd", "momentum", "adam")


class Optimizer:
    def __init__(self, name: str, learning_rate: float) -> None:
        if name not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {OPTIMIZERS}, not {name!r}")
        self.name, self.lr = name, np.float32(learning_rate)
        self.steps = 0
        self._state: list[list[np.ndarray]] | None = None

    def update(self, params: list[np.ndarray], grads: list[np.ndarray], l2: float = 0.0) -> None:
        if self._state is None:
            slots = {"sgd": 0, "momentum": 1, "adam": 2}[self.name]
            self._state = [[np.zeros_like(p) for p in params] for _ in range(slots)]
        self.steps += 1
        decay = np.float32(l2)
        for i, (p, g) in enumerate(zip(params, grads)):
            if decay:
                g = g + decay * p
            if self.name == "sgd":
                p -= self.lr * g
            elif self.name == "momentum":
                v = self._state[0][i]
                v *= np.float32(0.9)
                v -= self.lr * g
                p += v
            else:
                self._adam(p, g, self._state[0][i], self._state[1][i])

    def _adam(self, p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray) -> None:
        b1, b2 = np.float32(0.9), np.float32(0.999)
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * np.square(g)
        # Bias correction folded into the step size, as in the Adam paper's efficient form.
        step = self.lr * np.float32(np.sqrt(1 - 0.999**self.steps) / (1 - 0.9**self.steps))
        p -= step * m / (np.sqrt(v) + np.float32(1e-7))
