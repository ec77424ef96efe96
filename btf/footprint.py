"""What a model costs to hold and to run, from its description alone, and the limits a loadable model must meet.

The loader computes it from a checkpoint's layer list (or dense sizes) and input shape
before a single weight is inflated, so a 33 KB file that would take gigabytes is refused
from a few bytes of its description. Three figures, for a forward pass in float32:

- ``parameters``: every weight and bias; what a loaded model keeps resident.
- ``peak_bytes``: the most working memory one image needs at any moment of a forward pass:
  the network's input row and output, plus the busiest layer's input, temporaries (a
  convolution's padded input and im2col matrix) and output.
- ``work``: per image, what a forward pass costs in time, in multiply-adds: those of the
  products (convolutions, dense layers), plus ``MOVE_COST`` for each element a layer
  copies, pads, compares or activates (the im2col matrix, pooling, biases, activations).
  numpy moves an element in 1 to 4 ns (strided copies, reductions, arrays past the cache);
  BLAS does a multiply-add in 0.06 to 0.5 ns (benchmarks/bench_model_cost.py measures the
  worst models the limits admit), so counting arithmetic alone would admit models whose
  copies take ten times longer than their products.

These are upper bounds from shapes, not measurements: docs/reliability.md has the measured
cost of the largest model the limits admit. ``rows_per_chunk`` turns ``peak_bytes`` into the
batch size a forward pass may run at once within a fixed working-memory budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from btf.batchnorm import BatchNorm
from btf.layers import Conv2D, Dense, Layer, MaxPool2D

FLOAT_BYTES = 4
MOVE_COST = 16
# Working memory one forward pass may use at once: a batch runs in chunks of rows that fit it.
WORK_BYTES = 64 << 20
MAX_CHUNK_ROWS = 4096


@dataclass(frozen=True)
class Footprint:
    parameters: int
    peak_bytes: int
    work: int

    @property
    def parameter_bytes(self) -> int:
        return FLOAT_BYTES * self.parameters


@dataclass(frozen=True)
class Limits:
    """The most a model may cost. The defaults admit every shipped model and every documented recipe.

    The largest, v5 (conv32:3, pool2, conv64:3, pool2, dense128, dense10), has 225,034
    parameters, 0.19 MiB of working memory and 4.8 million multiply-adds of work per image;
    v7 (v5 with BatchNorm after each hidden layer, 11 outputs) 226,059, 0.25 MiB and 5.8
    million; 784-512-10 has 407,050 parameters. The limits are 3x to 35x those, keep one image's
    forward pass to a few milliseconds, and let a batch of 16 run at once within WORK_BYTES.
    """

    parameters: int = 8_000_000  # 32 MB of float32
    peak_bytes: int = 4 << 20  # per image
    work: int = 20_000_000  # multiply-adds per image

    def problem(self, cost: Footprint) -> str | None:
        """Why ``cost`` is over the limits, in one phrase; None if it is within them."""
        for figure, limit, unit in (
            ("parameters", self.parameters, "parameters (weights and biases)"),
            ("peak_bytes", self.peak_bytes, "bytes of working memory per image"),
            ("work", self.work, f"multiply-adds of work per image (an element moved counts {MOVE_COST})"),
        ):
            value = getattr(cost, figure)
            if value > limit:
                return f"the model needs {value:,} {unit}; the limit is {limit:,}"
        return None


LIMITS = Limits()


def of_layers(layers: Sequence[Layer], input_shape: Sequence[int]) -> Footprint:
    """The footprint of a stack of btf.layers on ``input_shape``, from shapes only; ConfigError if they do not fit."""
    shape = tuple(int(d) for d in input_shape)
    inputs = _size(shape)
    parameters = work = busiest = 0
    for layer in layers:
        out, param_shapes = layer.shapes(shape)
        parameters += sum(_size(s) for s in param_shapes)
        alive, products, moved = _layer(layer, shape, out)
        busiest, work = max(busiest, alive), work + products + MOVE_COST * moved
        shape = out
    outputs = _size(shape)
    # The input rows and the output are held for the whole pass; the softmax works in place.
    return Footprint(parameters, FLOAT_BYTES * (inputs + outputs + busiest), work + MOVE_COST * 2 * outputs)


def _layer(layer: Layer, shape: tuple[int, ...], out: tuple[int, ...]) -> tuple[int, int, int]:
    """(elements alive at once, multiply-adds, elements moved) of one layer's forward pass on one image."""
    n_in, n_out = _size(shape), _size(out)
    if isinstance(layer, Conv2D):
        h, w, c = shape
        pad = (h + layer.kernel_size - 1) * (w + layer.kernel_size - 1) * c if layer.padding == "same" else 0
        cols = out[0] * out[1] * layer.kernel_size * layer.kernel_size * c  # the im2col matrix, one copy
        return n_in + pad + cols + n_out, cols * layer.filters, pad + cols + _finish(layer) * n_out
    if isinstance(layer, MaxPool2D):
        return n_in + n_out, 0, n_in + n_out  # the blocks are a view, even of a cropped input
    if isinstance(layer, Dense):
        return n_in + n_out, n_in * n_out, _finish(layer) * n_out
    if isinstance(layer, BatchNorm):  # x * scale, then + shift into a second array, then the activation
        return n_in + 2 * n_out, 0, 3 * n_out
    return n_in, 0, 0  # Flatten (a view) and Dropout (the identity outside training)


def _finish(layer: Layer) -> int:
    """Passes over a conv or dense layer's output: the bias, then the activation if it has one."""
    return 2 if layer.activation is not None else 1


def _size(shape: Sequence[int]) -> int:
    size = 1
    for d in shape:
        size *= int(d)
    return size


def rows_per_chunk(cost: Footprint, budget: int = WORK_BYTES) -> int:
    """How many rows a forward pass may run at once within ``budget`` bytes of working memory (at least one)."""
    return max(1, min(MAX_CHUNK_ROWS, budget // max(1, cost.peak_bytes)))
