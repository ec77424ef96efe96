"""A btf.Graph's twin in PyTorch: the same layers, and for a trained graph the same weights, for side-by-side timing.

    model = torch_twin(graph)             # eval mode, btf's weights
    model = torch_twin(graph, copy=False) # the same architecture, PyTorch's own initial weights

The twin takes what ``Graph.predict`` takes, (n, features) float32 rows, and returns the
last layer's logits. Image-shaped inputs are channels-last in btf and channels-first in
PyTorch, so the twin converts once on the way in and once before Flatten, as btf.onnx does;
conv weights go from btf's im2col layout, (ky, kx, c) rows by filters, to (filters, c, ky, kx).
BatchNorm uses btf's epsilon and PyTorch's momentum convention (1 - btf's).

Only benchmarks import this module, and only when PyTorch is installed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from btf.batchnorm import EPSILON, MOMENTUM, BatchNorm
from btf.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D


def _modules(graph: Any, copy: bool, channels_last: Any) -> list[Any]:
    import torch
    from torch import nn

    def set_(param: Any, value: np.ndarray) -> None:
        if copy:
            param.data = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))

    modules, shape = [], graph.input_shape
    for layer in graph.layers:
        out, _ = layer.shapes(shape)
        if isinstance(layer, Conv2D):
            k, c = layer.kernel_size, shape[-1]
            conv = nn.Conv2d(c, layer.filters, k, padding="same" if layer.padding == "same" else 0)
            set_(conv.weight, layer.params[0].reshape(k, k, c, layer.filters).transpose(3, 2, 0, 1))
            set_(conv.bias, layer.params[1])
            modules.append(conv)
        elif isinstance(layer, Dense):
            dense = nn.Linear(shape[0], layer.units)
            set_(dense.weight, layer.params[0].T)
            set_(dense.bias, layer.params[1])
            modules.append(dense)
        elif isinstance(layer, BatchNorm):
            kind = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
            bn = kind(shape[-1], eps=EPSILON, momentum=1 - MOMENTUM)
            set_(bn.weight, layer.params[0])
            set_(bn.bias, layer.params[1])
            if copy:
                bn.running_mean.copy_(torch.from_numpy(layer.params[2]))
                bn.running_var.copy_(torch.from_numpy(layer.params[3]))
            modules.append(bn)
        elif isinstance(layer, MaxPool2D):
            modules.append(nn.MaxPool2d(layer.pool_size))
        elif isinstance(layer, Flatten):
            modules += [channels_last(), nn.Flatten()] if len(shape) == 3 else [nn.Flatten()]
        elif isinstance(layer, Dropout):
            modules.append(nn.Dropout(layer.rate))
        else:
            raise TypeError(f"no PyTorch twin for {type(layer).__name__}")
        activation = getattr(layer, "activation", None)
        if activation is not None:
            modules.append(nn.ReLU() if activation == "relu" else nn.Sigmoid())
        shape = out
    return modules


def torch_twin(graph: Any, copy: bool = True) -> Any:
    """``graph``'s layers as a ``torch.nn.Sequential`` (eval mode), with its weights when ``copy``."""
    import torch
    from torch import nn

    class ChannelsLast(nn.Module):
        """(n, c, h, w) -> (n, h, w, c): btf's flattening order, which its dense weights were trained on."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.permute(0, 2, 3, 1)

    class Twin(nn.Sequential):
        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (n, features) rows, as btf takes them
            shape = graph.input_shape
            if len(shape) == 3:
                x = x.reshape(-1, *shape).permute(0, 3, 1, 2)
            return super().forward(x)

    return Twin(*_modules(graph, copy, ChannelsLast)).eval()
