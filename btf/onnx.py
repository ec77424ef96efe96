"""Export a btf.Graph to ONNX: the same weights, runnable in onnxruntime, a browser or any ONNX runtime.

    from btf.onnx import export
    export(graph, "model.onnx")   # or to_onnx(graph) for the onnx.ModelProto

The exported model takes what ``Graph.predict`` takes, (n, 784) float32 rows in [0, 1] (any
batch size), and returns what it returns: (n, classes) confidences that sum to 1 (softmax
for a cross-entropy network; the sigmoid outputs divided by their sum for a quadratic one).

btf is channels-last and ONNX's Conv and MaxPool are channels-first, so an image-shaped input
is transposed once on the way in and back once before Flatten (which keeps btf's (h, w, c)
order, the order the dense weights after it were trained on). Conv weights go from btf's
im2col layout, (ky, kx, c) rows by filters, to ONNX's (filters, c, ky, kx). Dropout is the
identity at inference and emits nothing; BatchNorm is ONNX's BatchNormalization with its
running statistics (channel axis 1, in NCHW as for dense rows). NPZ stays the serving format; this is for interop.

Needs the ``onnx`` package (``pip install 'btf[onnx]'``), imported only when exporting, so
``import btf`` stays numpy-only. Opset 17: what current onnxruntime, onnxruntime-web and
other runtimes all read.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from btf.atomic import write_atomic
from btf.batchnorm import EPSILON, BatchNorm
from btf.errors import ConfigError
from btf.layers import Conv2D, Dense, Dropout, Flatten, Layer, MaxPool2D

OPSET = 17
INPUT, OUTPUT = "input", "confidences"
_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid"}


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ConfigError("ONNX export needs the onnx package: pip install 'btf[onnx]'") from None
    return onnx


class _Builder:
    """Nodes and initializers in order, each output named after the step that makes it."""

    def __init__(self, onnx: Any) -> None:
        self.onnx, self.nodes, self.weights = onnx, [], []
        self.last = INPUT

    def const(self, name: str, value: np.ndarray) -> str:
        self.weights.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], name: str | None = None, **attrs: Any) -> str:
        out = name or f"{op.lower()}{len(self.nodes)}"
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], name=out, **attrs))
        self.last = out
        return out

    def activation(self, name: str | None) -> None:
        if name is not None:
            self.node(_ACTIVATIONS[name], [self.last])


def _layer(b: _Builder, i: int, layer: Layer, shape: tuple[int, ...]) -> None:
    """One btf layer's nodes; ``shape`` is its input shape as btf sees it (image tensors are NCHW in the graph)."""
    if isinstance(layer, Dense):
        b.node("Gemm", [b.last, b.const(f"dense{i}.W", layer.params[0]), b.const(f"dense{i}.b", layer.params[1])])
        b.activation(layer.activation)
    elif isinstance(layer, Conv2D):
        k, c = layer.kernel_size, shape[-1]
        weight = layer.params[0].reshape(k, k, c, layer.filters).transpose(3, 2, 0, 1)  # (f, c, ky, kx)
        before = (k - 1) // 2 if layer.padding == "same" else 0
        after = k - 1 - before if layer.padding == "same" else 0
        inputs = [b.last, b.const(f"conv{i}.W", weight), b.const(f"conv{i}.b", layer.params[1])]
        b.node("Conv", inputs, kernel_shape=[k, k], pads=[before, before, after, after], strides=[1, 1])
        b.activation(layer.activation)
    elif isinstance(layer, MaxPool2D):
        # Floor mode (ONNX's default) drops the leftover rows and columns, as btf does.
        b.node("MaxPool", [b.last], kernel_shape=[layer.pool_size] * 2, strides=[layer.pool_size] * 2)
    elif isinstance(layer, Flatten):
        if len(shape) == 3:
            b.node("Transpose", [b.last], perm=[0, 2, 3, 1])  # back to (n, h, w, c): btf's flattening order
        b.node("Flatten", [b.last], axis=1)
    elif isinstance(layer, BatchNorm):  # its running statistics: what btf predicts with
        names = ("scale", "bias", "mean", "var")
        inputs = [b.const(f"bn{i}.{name}", value) for name, value in zip(names, layer.params)]
        b.node("BatchNormalization", [b.last, *inputs], epsilon=EPSILON)
        b.activation(layer.activation)
    elif not isinstance(layer, Dropout):  # Dropout: the identity at inference
        raise ConfigError(f"cannot export a {type(layer).__name__} layer to ONNX")


def _layers(b: _Builder, graph: Any) -> None:
    shape = graph.input_shape
    if len(shape) == 3:
        b.node("Reshape", [b.last, b.const("input_shape", np.array([-1, *shape], np.int64))])
        b.node("Transpose", [b.last], perm=[0, 3, 1, 2])  # (n, h, w, c) -> (n, c, h, w)
    elif len(shape) != 1:
        b.node("Reshape", [b.last, b.const("input_shape", np.array([-1, *shape], np.int64))])
    for i, layer in enumerate(graph.layers):
        _layer(b, i, layer, shape)
        shape, _ = layer.shapes(shape)


def to_onnx(graph: Any, props: dict[str, str] | None = None) -> Any:
    """An ``onnx.ModelProto`` computing ``graph.predict``'s confidences; checked by onnx's checker. ``props``:
    more metadata properties for the file, beside what it says of the model itself."""
    onnx = _onnx()
    helper = onnx.helper
    b = _Builder(onnx)
    _layers(b, graph)
    # The output as btf's cost defines it, then predict's normalisation (a no-op for softmax, up to rounding).
    out = b.node("Softmax", [b.last], axis=-1) if graph.cost == "cross_entropy" else b.node("Sigmoid", [b.last])
    total = b.node("ReduceSum", [out, b.const("class_axis", np.array([1], np.int64))], keepdims=1)
    floor = b.node("Max", [total, b.const("tiny", np.array(1e-30, np.float32))])
    b.node("Div", [out, floor], name=OUTPUT)
    inputs, outputs = graph.sizes[0], graph.sizes[-1]
    model = helper.make_model(
        helper.make_graph(
            b.nodes,
            "btf",
            [helper.make_tensor_value_info(INPUT, onnx.TensorProto.FLOAT, ["n", inputs])],
            [helper.make_tensor_value_info(OUTPUT, onnx.TensorProto.FLOAT, ["n", outputs])],
            b.weights,
        ),
        producer_name="btf",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    model.ir_version = 8  # the IR that opset 17 came with: older runtimes read it too
    helper.set_model_props(model, {**(props or {}), **_props(graph)})  # what btf says of the model wins
    onnx.checker.check_model(model, full_check=True)
    return model


def _props(graph: Any) -> dict[str, str]:
    """What the model is, for whoever opens the file: its btf architecture and training figures."""
    arch = ",".join(layer.spec() for layer in graph.layers)
    props = {"btf_architecture": arch, "btf_cost": graph.cost, "btf_epochs": str(graph.epochs)}
    for key in ("test_accuracy", "created"):
        if isinstance(graph.metadata.get(key), str | int | float):
            props[f"btf_{key}"] = str(graph.metadata[key])
    return props


def export(graph: Any, path: str | os.PathLike, *, overwrite: bool = False, props: dict[str, str] | None = None) -> int:
    """Write ``graph`` as an ONNX file at ``path`` (with ``props`` as ``to_onnx``), atomically; returns its size
    in bytes. An existing file is kept (FileExistsError) unless ``overwrite``."""
    data = to_onnx(graph, props).SerializeToString()
    write_atomic(path, data, exclusive=not overwrite)
    return len(data)
