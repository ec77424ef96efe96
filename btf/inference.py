"""Prediction's fast path: a Graph's layers run as fused steps that answer as their ``forward(x, training=False)`` does.

The layers' own forward passes stay the reference (tests/btf/test_inference.py compares the
two on every layer kind); this module does the same arithmetic with fewer passes over memory,
which is what a prediction of one to a few images spends its time on:

- A conv or dense layer's product is finished by one per-channel scale and shift. Its bias,
  and a BatchNorm that follows a linear conv or dense layer, fold into them:
  ``bn(x @ W + b) = (x @ W) * s + ((b - mean) * s + beta)`` with ``s = gamma / sqrt(var + eps)``.
  ``s`` and the shift are remade whenever the parameters they come from change (``_Block._fold``),
  so training or editing a model never leaves a stale folded copy.
- A max-pool after a convolution runs on the raw product, before the scale, shift and
  activation: the maximum commutes with adding a per-channel constant, with multiplying by a
  positive one, and with a non-decreasing activation (relu, sigmoid), so those then touch a
  quarter of the elements. If any channel's scale is zero or less (or NaN), the block keeps
  the layers' order: scale, shift and activation first, then the maximum.
- The im2col matrix is one strided copy of a view made by ``np.ndarray`` (``sliding_window_view``
  and ``as_strided`` cost as much as the copy itself for one image), laid out so that the copy's
  innermost loop is the longer one; Dropout is skipped; Flatten is a reshape.

Any other layer, or a sequence these rules do not cover, runs its own ``forward``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from btf import activations
from btf.batchnorm import EPSILON, BatchNorm
from btf.layers import Conv2D, Dense, Dropout, Flatten, Layer, MaxPool2D

# Activations f with f(max(a, b)) = max(f(a), f(b)): a max-pool may run before them.
_NON_DECREASING = (None, "relu", "sigmoid")


class _Block:
    """A conv or dense layer, the BatchNorm folded into it (if any) and, for a conv, the max-pool after it (if any)."""

    def __init__(self, main: Conv2D | Dense, bn: BatchNorm | None, pool: MaxPool2D | None) -> None:
        self.main, self.bn, self.pool = main, bn, pool
        self.activation = bn.activation if bn is not None else main.activation
        self._folded: tuple[bytes, tuple] = (b"", ())  # (the vectors' bytes, what _fold made of them)

    def _fold(self) -> tuple[np.ndarray | None, np.ndarray, bool]:
        """(per-channel scale or None for 1, per-channel shift, whether the pool may run first).

        BatchNorm's fold is remade whenever the vectors it comes from differ, byte for byte, from
        those it was made from: comparing them costs a third of remaking it, and no edit of the
        parameters (training, a test's, a user's) can leave it stale.
        """
        if self.bn is None:
            return None, self.main.params[1], self.activation in _NON_DECREASING
        vectors = np.concatenate([self.main.params[1], *self.bn.params]).tobytes()
        made_from, folded = self._folded
        if vectors != made_from:
            gamma, beta, mean, var = self.bn.params
            scale = gamma / np.sqrt(var + np.float32(EPSILON))
            monotone = self.activation in _NON_DECREASING and bool(np.minimum.reduce(scale) > 0)
            folded = scale, (self.main.params[1] - mean) * scale + beta, monotone
            self._folded = vectors, folded  # one assignment: a concurrent reader sees the old pair or the new
        return folded

    def __call__(self, x: np.ndarray) -> np.ndarray:
        scale, shift, pool_first = self._fold()
        if isinstance(self.main, Dense):
            return self._finish(x @ self.main.params[0], scale, shift)
        p = self.pool.pool_size if self.pool is not None else 1
        z = _conv_product(self.main, x, p)
        if p == 1:
            return self._finish(z[0], scale, shift)
        # z's first axis is the offset within the pool window, so the maximum over it is the pooling.
        if pool_first:
            return self._finish(np.maximum.reduce(z), scale, shift)
        return np.maximum.reduce(self._finish(z, scale, shift))

    def _finish(self, z: np.ndarray, scale: np.ndarray | None, shift: np.ndarray) -> np.ndarray:
        """The product's scale, shift and activation, in place."""
        if scale is not None:
            z *= scale
        z += shift
        if self.activation is not None:
            activations.TABLE[self.activation][0](z)
        return z


def _conv_product(conv: Conv2D, x: np.ndarray, p: int) -> np.ndarray:
    """The convolution's product without bias, at the outputs a ``p`` x ``p`` max-pool reads, by pool offset.

    Returns (p*p, n, oh // p, ow // p, filters): entry [dy*p + dx, i, y, x] is the output at
    (p*y + dy, p*x + dx). The rows and columns the pool would drop are never computed.
    """
    xp = np.ascontiguousarray(conv._pad(x))
    n, h, w, c = xp.shape
    k = conv.kernel_size
    ph, pw = (h - k + 1) // p, (w - k + 1) // p
    sn, sh, sw, sc = xp.strides
    # The im2col matrix as a view of xp, (dy, dx, n, y, x) rows of (ky, kx, c) columns (the weights'
    # row order). np.ndarray checks the view lies within xp, and costs a fifth of as_strided.
    shape, strides = (p, p, n, ph, pw, k, k, c), (sh, sw, sn, p * sh, p * sw, sh, sw, sc)
    windows = np.ndarray(shape, xp.dtype, xp, 0, strides)
    rows, cols = p * p * n * ph * pw, k * k * c
    # One copy makes the matrix (the windows overlap); its innermost loop runs along a row's k*c
    # neighbouring values, or, when fewer than a row of outputs (a first layer's one channel), along
    # the outputs: then the matrix is built transposed, which BLAS takes as it is.
    if k * c >= pw:
        matrix = windows.reshape(rows, cols)
    else:
        matrix = windows.transpose(5, 6, 7, 0, 1, 2, 3, 4).reshape(cols, rows).T
    return (matrix @ conv.params[0]).reshape(p * p, n, ph, pw, conv.filters)


def _steps(layers: Sequence[Layer]) -> list:
    """The fused steps for ``layers``: blocks where the rules apply, the layers' own forward elsewhere."""
    steps: list = []
    i = 0
    while i < len(layers):
        layer = layers[i]
        if isinstance(layer, Conv2D | Dense):
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            bn = nxt if isinstance(nxt, BatchNorm) and layer.activation is None else None
            at = i + 1 + (bn is not None)
            after = layers[at] if at < len(layers) else None
            pool = after if isinstance(layer, Conv2D) and isinstance(after, MaxPool2D) else None
            steps.append(_Block(layer, bn, pool))
            i = at + (pool is not None)
        elif isinstance(layer, Flatten):
            steps.append(lambda x: x.reshape(len(x), math.prod(x.shape[1:])))  # -1 cannot size an empty batch
            i += 1
        elif isinstance(layer, Dropout):
            i += 1  # the identity outside training
        else:
            steps.append(lambda x, layer=layer: layer.forward(x, False))
            i += 1
    return steps


class Inference:
    """``Inference(layers, rows)(x)``: the last layer's output for a batch ``x`` shaped as the first layer
    takes it, computed ``rows`` images at a time (btf.footprint.rows_per_chunk: a chunk's working memory
    stays within its budget however large the batch)."""

    def __init__(self, layers: Sequence[Layer], rows: int = 1 << 30) -> None:
        self.steps, self.rows = _steps(layers), max(1, int(rows))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if len(x) > self.rows:  # only the chunks' small outputs are copied, into one array
            return np.concatenate([self(x[start : start + self.rows]) for start in range(0, len(x), self.rows)])
        for step in self.steps:
            x = step(x)
        return x
