"""How each entry of a btf checkpoint is checked as it is read: hyperparameters, metadata, structure, weights.

``btf.checkpoint.read`` calls these once the archive's small entries are loaded, with
``get(key)`` (the entry, or a CheckpointError naming it missing) and ``fail(problem)`` (a
CheckpointError that names the file). Each returns the entry in the form a Graph is built
from, or raises: no entry is trusted for its type, shape, range or size.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from btf.activations import ACTIVATIONS
from btf.costs import COSTS
from btf.errors import CheckpointError, ConfigError
from btf.optimizers import OPTIMIZERS
from btf.specs import dense_layers, parse_layers, plan

FORMAT_VERSION = 1  # dense layers, the original network.py's: read, no longer written
LAYERED_VERSION = 2  # a list of btf.layers
MAX_LAYERS = 64
MAX_METADATA_CHARS = 1 << 20
_SCALARS = ("learning_rate", "batch_size", "epochs", "l2", "format_version")
_FLOAT32_MAX = float(np.finfo(np.float32).max)
Getter = Callable[[str], np.ndarray]
Fail = Callable[[str], CheckpointError]


def hyper_and_version(get: Getter, fail: Fail) -> tuple[dict[str, Any], int]:
    """The training hyperparameters and metadata, each checked; and the format version."""
    scalars = {}
    for key in _SCALARS:
        value = get(key)
        if value.shape != () or value.dtype.kind not in "iuf" or not np.isfinite(value):
            raise fail(f"entry {key!r} must be a finite number")
        scalars[key] = value.item()
    if scalars["format_version"] not in (FORMAT_VERSION, LAYERED_VERSION):
        raise fail(f"format version {scalars['format_version']} is not supported (this btf reads 1 and 2)")
    # The learning rate becomes a float32 in the optimizer: past float32's range it would be inf.
    lr, batch, epochs, l2 = (scalars[k] for k in ("learning_rate", "batch_size", "epochs", "l2"))
    if not 0 < lr <= _FLOAT32_MAX or batch < 1 or epochs < 0 or l2 < 0:
        raise fail("hyperparameters out of range (learning_rate, batch_size, epochs or l2)")
    hyper = {
        "learning_rate": float(lr),
        "batch_size": int(batch),
        "epochs": int(epochs),
        "l2": float(l2),
        "metadata": read_metadata(get("metadata"), fail),
    }
    return hyper, scalars["format_version"]


def _text(get: Getter, key: str, allowed: tuple[str, ...], fail: Fail) -> str:
    value = get(key)
    if value.dtype.kind != "U" or value.shape != () or str(value) not in allowed:
        raise fail(f"{key} must be one of {allowed}")
    return str(value)


def layered(get: Getter, fail: Fail) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
    """A format-2 checkpoint's structure (layers, input shape, optimizer, cost) and the shape of each parameter.

    The layers are checked by ``btf.specs.plan``, the rules ``Graph`` builds with, so a list a
    Graph would refuse (one that ends in Dropout, say) is refused here, as a CheckpointError.
    """
    specs, shape = get("layers"), get("input_shape")
    if specs.dtype.kind != "U" or specs.ndim != 1 or not 1 <= len(specs) <= MAX_LAYERS:
        raise fail(f"layers must be 1 to {MAX_LAYERS} layer descriptions")
    if (
        shape.dtype.kind not in "iu"
        or shape.ndim != 1
        or not 1 <= len(shape) <= 3
        or shape.min() < 1
        or shape.max() > 4096
    ):
        raise fail("input_shape must be 1 to 3 sizes of 1 to 4096")
    input_shape = tuple(int(d) for d in shape)
    try:
        layers = parse_layers(",".join(str(s) for s in specs), activation=None, flatten=False)
        _, param_shapes = plan(layers, input_shape)
    except ConfigError as exc:
        raise fail(f"layers do not fit together: {exc}") from None
    structure = {
        "layers": layers,
        "input_shape": input_shape,
        "optimizer": _text(get, "optimizer", OPTIMIZERS, fail),
        "cost": _text(get, "cost", COSTS, fail),
    }
    return structure, {f"P{i}": want for i, want in enumerate(param_shapes)}


def dense(get: Getter, fail: Fail) -> tuple[dict[str, Any], dict[str, tuple[int, ...]]]:
    """A format-1 checkpoint (the original dense network) in the layered form, and its parameters' shapes.

    Its W0, b0, W1, b1, ... are the Dense layers' parameters in order; it trained with SGD.
    """
    activation = _text(get, "activation", ACTIVATIONS, fail)
    sizes = get("sizes")
    if sizes.ndim != 1 or sizes.dtype.kind not in "iu" or not 2 <= len(sizes) <= MAX_LAYERS or sizes.min() < 1:
        raise fail(f"sizes must be 2 to {MAX_LAYERS} positive integers")
    sizes = tuple(int(s) for s in sizes)
    expected = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        expected.update({f"W{i}": (n_in, n_out), f"b{i}": (n_out,)})
    structure = {
        "layers": dense_layers(sizes, activation),
        "input_shape": sizes[:1],
        "optimizer": "sgd",
        "cost": _text(get, "cost", COSTS, fail),
    }
    return structure, expected


def weight(key: str, value: np.ndarray | None, fail: Fail) -> np.ndarray:
    """A parameter the structure needs, as finite float32 (its shape was checked from its header)."""
    if value is None:
        raise fail(f"missing entry {key!r}")
    if value.dtype.kind != "f":
        raise fail(f"{key} must hold floats, not {value.dtype}")
    with np.errstate(over="ignore"):  # a float64 past float32's range becomes inf, refused below
        value = np.ascontiguousarray(value, dtype=np.float32)
    if not np.isfinite(value).all():
        raise fail(f"{key} holds NaN or infinite values (as float32)")
    return value


def read_metadata(raw: np.ndarray, fail: Fail) -> dict[str, Any]:
    if raw.dtype.kind != "U" or raw.shape != ():
        raise fail("metadata must be a JSON string")
    if len(str(raw)) > MAX_METADATA_CHARS:
        raise fail(f"metadata is over {MAX_METADATA_CHARS:,} characters")
    try:
        # NaN and Infinity are not JSON: read them as null, so metadata always re-serialises.
        metadata = json.loads(str(raw), parse_constant=lambda _: None)
    except json.JSONDecodeError as exc:
        raise fail(f"metadata is not valid JSON ({exc})") from None
    except RecursionError:
        raise fail("metadata JSON is nested too deeply") from None
    if not isinstance(metadata, dict):
        raise fail("metadata must be a JSON object")
    return metadata
