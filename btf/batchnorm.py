"""BatchNorm for btf.Graph: normalise each feature (dense) or channel (conv, channels-last) by batch statistics.

Training normalises with the batch's own mean and variance and keeps running averages of
them; predicting uses the running averages only, so an answer never depends on the rest of
its batch. A checkpoint stores four arrays per layer, ``gamma, beta, mean, var``; the first
two are trained, the last two are statistics (``trainable`` lists only the first two).
An optional activation follows the normalisation (``bn:relu``): the usual conv, BN, relu order.
"""

from __future__ import annotations

import numpy as np

from btf.errors import ConfigError
from btf.layers import Layer, Shape, _check_activation

EPSILON = 1e-5
MOMENTUM = 0.9  # running = MOMENTUM * running + (1 - MOMENTUM) * batch, as Keras does


class BatchNorm(Layer):
    """``gamma * (x - mean) / sqrt(var + eps) + beta`` over every axis but the last, then the activation."""

    def __init__(self, activation: str | None = None) -> None:
        self.activation = _check_activation(activation)

    @property
    def trainable(self) -> list[np.ndarray]:
        return self.params[:2]

    def shapes(self, input_shape: Shape) -> tuple[Shape, list[Shape]]:
        if len(input_shape) not in (1, 3):
            raise ConfigError(f"BatchNorm takes (features,) or (height, width, channels), got {input_shape}")
        channels = (int(input_shape[-1]),)
        return input_shape, [channels] * 4

    def init(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        return np.zeros(shape, np.float32)  # beta and the running mean; build sets gamma and the running variance

    def build(self, input_shape: Shape, rng: np.random.Generator, params: list[np.ndarray] | None = None) -> Shape:
        out = super().build(input_shape, rng, params)
        if params is None:  # gamma and the running variance start at one, beta and the running mean at zero
            self.params[0][...] = 1
            self.params[3][...] = 1
        return out

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        gamma, beta, running_mean, running_var = self.params
        axes = tuple(range(x.ndim - 1))
        if not training:
            # Folded into one scale and shift: the same arithmetic as training's, without a batch.
            scale = gamma / np.sqrt(running_var + np.float32(EPSILON))
            self._xhat = self._inv_std = None
            return self._activate(x * scale + (beta - running_mean * scale), training)
        mean = x.mean(axis=axes)
        centred = x - mean
        var = np.square(centred).mean(axis=axes)
        inv_std = (1.0 / np.sqrt(var + np.float32(EPSILON))).astype(np.float32)
        xhat = centred * inv_std
        count = x.size // x.shape[-1]
        running_mean *= np.float32(MOMENTUM)
        running_mean += np.float32(1 - MOMENTUM) * mean
        running_var *= np.float32(MOMENTUM)
        # The unbiased variance for prediction (as PyTorch keeps it); the batch's own while training.
        running_var += np.float32((1 - MOMENTUM) * count / max(count - 1, 1)) * var
        self._xhat, self._inv_std = xhat, inv_std
        return self._activate(xhat * gamma + beta, training)

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        grad = self._deactivate(grad)
        axes = tuple(range(grad.ndim - 1))
        xhat, inv_std = self._xhat, self._inv_std
        self._xhat = self._inv_std = None
        dgamma = (grad * xhat).sum(axis=axes)
        dbeta = grad.sum(axis=axes)
        count = grad.size // grad.shape[-1]
        # d/dx of the normalisation, through the batch's mean and variance (Ioffe and Szegedy, 2015).
        dx = (grad - (dbeta + xhat * dgamma) / np.float32(count)) * (self.params[0] * inv_std)
        return dx.astype(grad.dtype, copy=False), [dgamma, dbeta]

    def spec(self) -> str:
        return f"bn:{self.activation or 'linear'}"
