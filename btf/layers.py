"""Layers for btf.Graph: each with its forward and backward pass side by side, and its own parameters.

Tensors are float32 and channels-last: (n, height, width, channels) between convolutions,
(n, features) from Flatten on. Each layer is a few whole-batch numpy operations; convolution
is im2col and one BLAS product (its backward loops over the k*k kernel offsets, never pixels).
As in Keras, ``Conv2D(32, 3)`` says what a layer is and ``build(input_shape, rng)`` makes its
parameters; ``spec()`` (``conv32:3:relu``) is what checkpoints store and ``parse_layers`` reads.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from btf import activations
from btf.errors import ConfigError

Shape = tuple[int, ...]


class Layer:
    """Base: no parameters, shape unchanged."""

    params: list[np.ndarray]  # everything a checkpoint stores, in order
    activation: str | None = None
    # False for a Graph's first layer: no dLoss/dinput (a third of a conv's backward); backward returns None.
    input_grad: bool = True
    weight_init = "scaled"  # or "normal": see init()

    @property
    def trainable(self) -> list[np.ndarray]:
        """The parameters gradient descent updates (``backward`` returns one gradient for each): all, by default."""
        return self.params

    def shapes(self, input_shape: Shape) -> tuple[Shape, list[Shape]]:
        """(output shape, parameter shapes) for an input shape, allocating nothing; ConfigError if it does not fit."""
        return input_shape, []

    def build(self, input_shape: Shape, rng: np.random.Generator, params: list[np.ndarray] | None = None) -> Shape:
        """Make the parameters for ``input_shape`` (from ``rng``, or a checkpoint's checked ``params``); returns the output shape."""
        out, shapes = self.shapes(input_shape)
        self.params = list(params) if params is not None else [self.init(shape, rng) for shape in shapes]
        return out

    def init(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        """A new parameter. Weights: N(0, gain/fan_in), gain 2 before relu (He), else 1 (LeCun): each output starts
        with about its input's variance; biases: zero. ``weight_init = "normal"``: network.py's N(0, 1) for both."""
        if self.weight_init == "normal":
            return rng.standard_normal(shape, dtype=np.float32)
        if len(shape) == 1:
            return np.zeros(shape, np.float32)
        gain = 2.0 if self.activation == "relu" else 1.0
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(gain / shape[0]))

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        """The layer's output; only while ``training`` does it keep what ``backward`` needs (a predictor holds none)."""
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """(dLoss/dinput, dLoss/dparams) from dLoss/doutput and what forward kept, which it then lets go."""
        raise NotImplementedError

    def spec(self) -> str:
        raise NotImplementedError

    def _activate(self, z: np.ndarray, training: bool) -> np.ndarray:
        if self.activation is not None:
            activations.TABLE[self.activation][0](z)
        self._out = z if training else None
        return z

    def _deactivate(self, grad: np.ndarray) -> np.ndarray:
        out, self._out = self._out, None
        return grad if self.activation is None else activations.TABLE[self.activation][1](grad, out)


def _check_activation(activation: str | None) -> str | None:
    if activation is not None and activation not in activations.ACTIVATIONS:
        raise ConfigError(f"activation must be one of {activations.ACTIVATIONS} or None, not {activation!r}")
    return activation


class Dense(Layer):
    """A fully connected layer: ``x @ W + b``, then the activation. Takes (n, features)."""

    def __init__(self, units: int, activation: str | None = None) -> None:
        if int(units) < 1:
            raise ConfigError(f"Dense needs at least one unit, not {units}")
        self.units, self.activation = int(units), _check_activation(activation)

    def shapes(self, input_shape: Shape) -> tuple[Shape, list[Shape]]:
        if len(input_shape) != 1:
            raise ConfigError(f"Dense takes flat input, got shape {input_shape}: put Flatten() before it")
        return (self.units,), [(input_shape[0], self.units), (self.units,)]

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        self._x = x if training else None
        z = x @ self.params[0]
        z += self.params[1]
        return self._activate(z, training)

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        grad = self._deactivate(grad)
        x, self._x = self._x, None
        grads = [x.T @ grad, grad.sum(axis=0)]
        return (grad @ self.params[0].T if self.input_grad else None), grads

    def spec(self) -> str:
        return f"dense{self.units}:{self.activation or 'linear'}"


class Conv2D(Layer):
    """A 2-D convolution, stride 1, ``valid`` (no padding) or ``same`` (zero padding) borders."""

    def __init__(self, filters: int, kernel_size: int, activation: str | None = None, padding: str = "valid") -> None:
        if int(filters) < 1 or not 1 <= int(kernel_size) <= 15 or padding not in ("valid", "same"):
            raise ConfigError(
                f"Conv2D needs filters >= 1, kernel_size 1-15, padding valid|same; got {filters}, {kernel_size}, {padding!r}"
            )
        self.filters, self.kernel_size, self.padding = int(filters), int(kernel_size), padding
        self.activation = _check_activation(activation)

    def shapes(self, input_shape: Shape) -> tuple[Shape, list[Shape]]:
        if len(input_shape) != 3:
            raise ConfigError(f"Conv2D takes (height, width, channels), got {input_shape}")
        (h, w, c), k = input_shape, self.kernel_size
        pad = k - 1 if self.padding == "same" else 0
        if h + pad < k or w + pad < k:
            raise ConfigError(f"a {k}x{k} kernel does not fit a {h}x{w} input")
        # Weights in the im2col layout: (k*k*channels, filters).
        return (h + pad - k + 1, w + pad - k + 1, self.filters), [(k * k * c, self.filters), (self.filters,)]

    def _pad(self, x: np.ndarray) -> np.ndarray:
        if self.padding == "valid":
            return x
        before, after = (self.kernel_size - 1) // 2, self.kernel_size // 2
        return np.pad(x, ((0, 0), (before, after), (before, after), (0, 0)))

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        xp, k = self._pad(x), self.kernel_size
        n, h, w, c = xp.shape
        oh, ow = h - k + 1, w - k + 1
        # (n, oh, ow, c, k, k) view -> (n*oh*ow, k*k*c) rows in (ky, kx, c) order: one copy. With fewer values per
        # kernel row than outputs per row (one channel), it is built transposed: twice as fast, and BLAS takes it.
        windows = sliding_window_view(xp, (k, k), axis=(1, 2))
        if k * c >= ow:
            cols = np.ascontiguousarray(windows.transpose(0, 1, 2, 4, 5, 3)).reshape(n * oh * ow, k * k * c)
        else:
            cols = np.ascontiguousarray(windows.transpose(4, 5, 3, 0, 1, 2)).reshape(k * k * c, n * oh * ow).T
        # The im2col matrix is the largest array here (k*k times the input): kept only for backward.
        self._cols, self._shape = (cols, (n, h, w, c)) if training else (None, None)
        z = cols @ self.params[0]
        z += self.params[1]
        return self._activate(z.reshape(n, oh, ow, self.filters), training)

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        grad, k = self._deactivate(grad), self.kernel_size
        n, h, w, c = self._shape
        oh, ow = h - k + 1, w - k + 1
        flat = grad.reshape(-1, self.filters)
        grads = [self._cols.T @ flat, flat.sum(axis=0)]
        self._cols = None  # let go: the largest array here
        if not self.input_grad:
            return None, grads
        # col2im as k*k products: the input window at each kernel offset gets grad @ that offset's weights^T.
        # Twice as fast as one product to a (rows, k*k*c) matrix added back with strided steps, and no such matrix.
        dx, kernel = np.zeros(self._shape, grad.dtype), self.params[0].reshape(k, k, c, self.filters)
        for ky in range(k):
            for kx in range(k):
                dx[:, ky : ky + oh, kx : kx + ow, :] += (flat @ kernel[ky, kx].T).reshape(n, oh, ow, c)
        if self.padding == "same":
            before = (k - 1) // 2
            dx = dx[:, before : before + h - k + 1, before : before + w - k + 1, :]
        return dx, grads

    def spec(self) -> str:
        same = ":same" if self.padding == "same" else ""
        return f"conv{self.filters}:{self.kernel_size}:{self.activation or 'linear'}{same}"


class MaxPool2D(Layer):
    """The maximum of each ``pool_size`` x ``pool_size`` block; leftover rows and columns are dropped."""

    def __init__(self, pool_size: int = 2) -> None:
        if not 1 <= int(pool_size) <= 16:
            raise ConfigError(f"pool_size must be 1 to 16, not {pool_size}")
        self.pool_size = int(pool_size)

    def shapes(self, input_shape: Shape) -> tuple[Shape, list[Shape]]:
        p = self.pool_size
        if len(input_shape) != 3 or input_shape[0] < p or input_shape[1] < p:
            raise ConfigError(f"MaxPool2D({p}) cannot pool an input of shape {input_shape}")
        return (input_shape[0] // p, input_shape[1] // p, input_shape[2]), []

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        p, oh, ow = self.pool_size, x.shape[1] // self.pool_size, x.shape[2] // self.pool_size
        # The maximum over the p*p offsets, one strided view at a time: faster than reducing a 6-d view.
        out = x[:, : oh * p : p, : ow * p : p, :].copy()
        for dy in range(p):
            for dx in range(p):
                if dy or dx:
                    np.maximum(out, x[:, dy : oh * p : p, dx : ow * p : p, :], out=out)
        # Backward finds where each maximum came from in x (kept by reference), not a mask built every batch.
        self._x, self._out = (x, out) if training else (None, None)
        return out

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        n, h, w, c = self._x.shape
        p, oh, ow = self.pool_size, h // self.pool_size, w // self.pool_size
        blocks = self._x[:, : oh * p, : ow * p, :].reshape(n, oh, p, ow, p, c)
        mask = blocks == self._out[:, :, None, :, None, :]  # every tied maximum gets the gradient
        self._x = self._out = None
        pooled = (mask * grad[:, :, None, :, None, :]).reshape(n, oh * p, ow * p, c)
        if (oh * p, ow * p) == (h, w):
            return pooled, []  # nothing left over: no zeroed copy needed
        return np.pad(pooled, ((0, 0), (0, h - oh * p), (0, w - ow * p), (0, 0))), []  # zeros where nothing pooled

    def spec(self) -> str:
        return f"pool{self.pool_size}"


class Flatten(Layer):
    """(n, h, w, c) -> (n, h*w*c)."""

    def shapes(self, input_shape: Shape) -> tuple[Shape, list[Shape]]:
        return (math.prod(int(d) for d in input_shape),), []

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        self._shape = x.shape
        return x.reshape(len(x), math.prod(x.shape[1:]))  # not -1: that cannot size an empty batch

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        return grad.reshape(self._shape), []

    def spec(self) -> str:
        return "flatten"


class Dropout(Layer):
    """Zeroes a ``rate`` share of its inputs while training, scaling the rest by 1/(1-rate); inert otherwise."""

    def __init__(self, rate: float) -> None:
        # Six decimals at most: what a checkpoint's spec ("dropout0.3") writes and reads back.
        if not 0 <= round(float(rate), 6) < 1:
            raise ConfigError(f"Dropout rate must be in [0, 1), not {rate}")
        self.rate = round(float(rate), 6)

    def build(self, input_shape: Shape, rng: np.random.Generator, params: list[np.ndarray] | None = None) -> Shape:
        self.params, self.rng = [], rng  # the Graph's: seeded runs drop the same units
        return input_shape

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        if not training or self.rate == 0:
            self._keep = None
            return x
        self._keep = (self.rng.random(x.shape, dtype=np.float32) >= self.rate) * np.float32(1 / (1 - self.rate))
        return x * self._keep

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        keep, self._keep = self._keep, None
        return (grad if keep is None else grad * keep), []

    def spec(self) -> str:
        return "dropout" + (f"{self.rate:.6f}".rstrip("0").rstrip(".") or "0")
