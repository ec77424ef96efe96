"""Layer lists as text and as shapes: ``conv32:3,pool2,dense128,dense10`` to btf.layers, and the rules a list must meet.

``parse_layers`` reads the one-line descriptions the trainer's ``--layers`` takes and
checkpoints store (each layer's ``spec()``); ``dense_layers`` is the original network's
``(784, 30, 10)`` as layers; ``plan`` checks that a list fits an input shape, allocating
nothing, so the checkpoint reader and ``Graph`` refuse the same lists with the same words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from btf.activations import ACTIVATIONS
from btf.batchnorm import BatchNorm
from btf.errors import ConfigError
from btf.layers import Conv2D, Dense, Dropout, Flatten, Layer, MaxPool2D, Shape


def dense_layers(sizes: Sequence[int], activation: str = "sigmoid", weight_init: str = "scaled") -> list[Layer]:
    """The original network of ``sizes`` = (inputs, hidden..., outputs) neurons as Dense layers.

    Hidden layers take ``activation``; the last is linear (the cost's sigmoid or softmax
    finishes it). ``weight_init="normal"`` draws the original's N(0, 1) weights and biases.
    """
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ConfigError(f"sizes needs at least two positive layer sizes, got {sizes}")
    if activation not in ACTIVATIONS:
        raise ConfigError(f"activation must be one of {ACTIVATIONS}, not {activation!r}")
    if weight_init not in ("scaled", "normal"):
        raise ConfigError(f"init must be 'scaled' or 'normal', not {weight_init!r}")
    layers = [Dense(n, activation) for n in sizes[1:-1]] + [Dense(sizes[-1])]
    for layer in layers:
        layer.weight_init = weight_init
    return layers


def plan(layers: Sequence[Layer], input_shape: Sequence[int]) -> tuple[Shape, list[Shape]]:
    """(output shape, every parameter's shape) of ``layers`` on ``input_shape``, allocating nothing.

    Every rule a Graph's layers must meet, in one place: the checkpoint reader checks a file's
    layers with it before reading any weight, and ``Graph`` before building. ConfigError if one fails.
    """
    if not layers or not all(isinstance(layer, Layer) for layer in layers):
        raise ConfigError("layers must be a non-empty list of btf.layers objects")
    if not isinstance(layers[-1], Dense):
        raise ConfigError("the last layer must be Dense (its units are the classes)")
    shape = tuple(int(d) for d in input_shape)
    if not shape or min(shape) < 1:
        raise ConfigError(f"input_shape must be positive sizes, not {input_shape}")
    param_shapes: list[Shape] = []
    for layer in layers:
        shape, shapes = layer.shapes(shape)
        param_shapes += shapes
    return shape, param_shapes


_SPEC = re.compile(
    r"^(?:conv(?P<filters>\d{1,5}):(?P<k>\d{1,2})(?::(?P<cact>sigmoid|relu|linear))?(?P<same>:same)?"
    r"|pool(?P<pool>\d{1,2})|flatten|dropout(?P<rate>0?\.\d{1,6}|0)"
    r"|(?:bn|batchnorm)(?::(?P<bact>sigmoid|relu|linear))?"
    r"|dense(?P<units>\d{1,6})(?::(?P<dact>sigmoid|relu|linear))?)$"
)


def parse_layers(text: str, activation: str | None = "relu", flatten: bool = True) -> list[Layer]:
    """``conv32:3,pool2,dense128,dropout0.3,dense10`` -> layers.

    Hidden conv and dense layers without an explicit activation get ``activation``; the last
    layer gets none (the cost's softmax or sigmoid is the output). A Flatten goes in before
    the first dense layer that follows an image-shaped one (unless ``flatten`` is false, as
    for checkpoints, whose layer lists are explicit). ``bn`` (or ``batchnorm``) right after a
    conv or dense layer whose activation was left to the default takes that activation over,
    so ``conv32:3,bn`` is conv, BatchNorm, relu (the usual order); ``bn:linear`` keeps it apart.
    """
    specs = [s.strip() for s in text.split(",") if s.strip()]
    if not specs or len(specs) > 64:
        raise ConfigError(f"give 1 to 64 comma-separated layers, e.g. conv32:3,pool2,dense128,dense10; got {text!r}")
    layers: list[Layer] = []
    image = flatten
    defaulted = False  # whether the layer just added took the default activation
    for i, spec in enumerate(specs):
        m = _SPEC.match(spec)
        if m is None:
            raise ConfigError(
                f"unknown layer {spec!r}: use convF:K[:act][:same], poolP, dropoutR, denseN[:act], bn[:act] or flatten"
            )
        last = i == len(specs) - 1
        if spec.startswith(("bn", "batchnorm")):
            before = layers[-1] if layers else None
            act = _named(m["bact"], None)
            if m["bact"] is None and isinstance(before, (Conv2D, Dense)) and defaulted and not last:
                act, before.activation = before.activation, None
            layers.append(BatchNorm(act))
            continue
        defaulted = bool(m["filters"] and m["cact"] is None or m["units"] and m["dact"] is None)
        if m["filters"]:
            act = _named(m["cact"], activation)
            layers.append(Conv2D(int(m["filters"]), int(m["k"]), act, "same" if m["same"] else "valid"))
        elif m["pool"]:
            layers.append(MaxPool2D(int(m["pool"])))
        elif m["rate"] is not None:
            layers.append(Dropout(float(m["rate"])))
        elif spec == "flatten":
            layers.append(Flatten())
            image = False
        else:
            if image:
                layers.append(Flatten())
                image = False
            layers.append(Dense(int(m["units"]), _named(m["dact"], None if last else activation)))
    return layers


def _named(explicit: str | None, default: str | None) -> str | None:
    """An explicit ``:relu``/``:sigmoid``/``:linear`` wins over the default; ``linear`` is no activation."""
    if explicit is None:
        return default
    return None if explicit == "linear" else explicit
