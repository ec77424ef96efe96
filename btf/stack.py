"""A stack of btf.layers, as btf.Graph runs it: reshape the (n, 784) rows, forward, backward, one optimizer step.

The output of the last layer goes through softmax (cross-entropy cost) or sigmoid (quadratic
cost), exactly as the dense Graph's output does, so the cost's output delta is the same.
"""

from __future__ import annotations

import numpy as np

from btf import nn
from btf.errors import ConfigError
from btf.footprint import of_layers
from btf.layers import Dense, Layer
from btf.optimizers import Optimizer


def plan(layers: list[Layer], input_shape: tuple[int, ...]) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """(output shape, every parameter's shape) of ``layers`` on ``input_shape``, allocating nothing.

    Every rule a stack must meet, in one place: the checkpoint loader checks a file's layers
    with it before reading any weight, and ``Stack`` before building. ConfigError if one fails.
    """
    if not layers or not all(isinstance(layer, Layer) for layer in layers):
        raise ConfigError("layers must be a non-empty list of btf.layers objects")
    if not isinstance(layers[-1], Dense):
        raise ConfigError("the last layer must be Dense (its units are the classes)")
    shape = tuple(int(d) for d in input_shape)
    if not shape or min(shape) < 1:
        raise ConfigError(f"input_shape must be positive sizes, not {input_shape}")
    param_shapes: list[tuple[int, ...]] = []
    for layer in layers:
        shape, shapes = layer.shapes(shape)
        param_shapes += shapes
    return shape, param_shapes


class Stack:
    def __init__(self, layers: list[Layer], input_shape: tuple[int, ...], rng: np.random.Generator | None) -> None:
        """Build the layers for ``input_shape``: initialised from ``rng``, or empty (rng None) to be loaded."""
        plan(layers, input_shape)
        self.layers = list(layers)
        self.input_shape = tuple(int(d) for d in input_shape)
        shape = self.input_shape
        for layer in self.layers:
            shape = layer.build(shape, rng)
        self.layers[0].input_grad = False  # the data's gradient: nothing uses it
        self.inputs = int(np.prod(self.input_shape))
        self.outputs = shape[0]
        # What it costs to hold and run, once: every forward pass sizes its chunks from it.
        self.footprint = of_layers(self.layers, self.input_shape)

    @property
    def params(self) -> list[np.ndarray]:
        """Every stored array, as checkpoints hold them (BatchNorm's running statistics included)."""
        return [p for layer in self.layers for p in layer.params]

    @property
    def trainable(self) -> list[np.ndarray]:
        """The arrays gradient descent updates, in the order ``gradients`` returns theirs."""
        return [p for layer in self.layers for p in layer.trainable]

    def set_params(self, arrays: list[np.ndarray]) -> None:
        at = 0
        for layer in self.layers:
            layer.params = list(arrays[at : at + len(layer.params)])
            at += len(layer.params)

    def specs(self) -> list[str]:
        return [layer.spec() for layer in self.layers]

    def forward(self, X: np.ndarray, cost: str, training: bool = False) -> np.ndarray:
        a = X.reshape(len(X), *self.input_shape)
        for layer in self.layers:
            a = layer.forward(a, training)
        return nn.softmax(a) if cost == "cross_entropy" else nn.sigmoid(a)

    def gradients(self, X: np.ndarray, Y: np.ndarray, cost: str) -> tuple[list[np.ndarray], float]:
        """Mean gradients over the batch, in ``trainable`` order, and the batch's loss (without decay)."""
        out = self.forward(X, cost, training=True)
        loss = nn.loss(cost, out, Y)
        self.batch_correct = int((out.argmax(axis=1) == Y.argmax(axis=1)).sum())
        delta = nn.output_delta(cost, out, Y)
        delta *= np.float32(1.0 / len(X))
        grads: list[list[np.ndarray]] = []
        for layer in reversed(self.layers):
            delta, layer_grads = layer.backward(delta)
            grads.append(layer_grads)
        return [g for layer_grads in reversed(grads) for g in layer_grads], loss

    def step(self, X: np.ndarray, Y: np.ndarray, cost: str, optimizer: Optimizer, l2: float) -> float:
        """One optimizer update from one mini-batch; returns the batch's loss before it."""
        grads, loss = self.gradients(X, Y, cost)
        # L2 as decoupled weight decay (AdamW's form; the same as a gradient term for SGD), on
        # weights only, not biases: the usual choice for layered models.
        params = self.trainable
        weights = [p.ndim > 1 for p in params]
        optimizer.update(params, grads, 0.0)
        if l2:
            for p, is_weight in zip(params, weights):
                if is_weight:
                    p -= optimizer.lr * np.float32(l2) * p
        return loss

    def penalty(self, l2: float) -> float:
        return 0.5 * l2 * sum(float(np.square(p).sum()) for p in self.params if p.ndim > 1)
