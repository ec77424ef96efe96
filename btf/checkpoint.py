"""Pickle-free model checkpoints: ``np.savez_compressed`` files of plain numeric and string arrays.

Layout (format version 1), every entry loadable with ``np.load(..., allow_pickle=False)``:

    format          "btf-checkpoint"            format_version  int64 scalar (1)
    sizes           int64 (layers,)             activation, cost  str scalars
    learning_rate   float64 scalar              batch_size, epochs  int64 scalars
    l2              float64 scalar              metadata        str scalar (a JSON object)
    W0..W{k-1}      float32 (n_in, n_out)       b0..b{k-1}      float32 (n_out,)

``read`` trusts nothing: it refuses object arrays (the original project's ragged pickled
format), oversized entries, unknown versions, shapes that do not chain, non-float weights
and non-finite values, each with a CheckpointError that names the file and the problem.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import IO, Any

import numpy as np

from btf import nn, npz
from btf.atomic import write_atomic
from btf.errors import CheckpointError, ConfigError
from btf.layers import parse_layers
from btf.optimizers import OPTIMIZERS

FORMAT = "btf-checkpoint"
FORMAT_VERSION = 1  # dense layers, the original network.py's
LAYERED_VERSION = 2  # a list of btf.layers
MAX_LAYERS = 64
MAX_METADATA_CHARS = 1 << 20
_SCALARS = ("learning_rate", "batch_size", "epochs", "l2", "format_version")


def dumps(params: dict[str, Any], metadata: dict[str, Any]) -> bytes:
    """The checkpoint as bytes."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **_arrays(params, metadata))
    return buffer.getvalue()


def write(target: str | Path | IO[bytes], params: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Write a checkpoint to a file object, or atomically to a path (temp file, fsync, rename)."""
    data = dumps(params, metadata)
    if not isinstance(target, (str, os.PathLike)):
        target.write(data)
        return
    write_atomic(target, data)


def _arrays(params: dict[str, Any], metadata: dict[str, Any]) -> dict[str, np.ndarray]:
    layered = "layers" in params
    arrays = {
        "format": np.array(FORMAT),
        "format_version": np.array(LAYERED_VERSION if layered else FORMAT_VERSION, dtype=np.int64),
        "cost": np.array(params["cost"]),
        "learning_rate": np.array(params["learning_rate"], dtype=np.float64),
        "batch_size": np.array(params["batch_size"], dtype=np.int64),
        "epochs": np.array(params["epochs"], dtype=np.int64),
        "l2": np.array(params["l2"], dtype=np.float64),
        "metadata": np.array(json.dumps(json_safe(metadata), sort_keys=True, default=str, allow_nan=False)),
    }
    if layered:
        arrays["layers"] = np.array(params["layers"])
        arrays["input_shape"] = np.array(params["input_shape"], dtype=np.int64)
        arrays["optimizer"] = np.array(params["optimizer"])
        arrays.update({f"P{i}": np.asarray(p, dtype=np.float32) for i, p in enumerate(params["params"])})
        return arrays
    arrays["sizes"] = np.array(params["sizes"], dtype=np.int64)
    arrays["activation"] = np.array(params["activation"])
    for i, (w, b) in enumerate(zip(params["weights"], params["biases"])):
        arrays[f"W{i}"] = np.asarray(w, dtype=np.float32)
        arrays[f"b{i}"] = np.asarray(b, dtype=np.float32)
    return arrays


def json_safe(value: Any) -> Any:
    """``value`` with every NaN and infinity as None: strict JSON that any client can parse."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def read(source: str | Path | bytes | IO[bytes]) -> dict[str, Any]:
    """Load and validate a checkpoint; returns the parameters ``Graph.load`` needs.

    This is the loader's boundary: *any* failure inside it, whatever numpy, zipfile, zlib or
    json raise on hostile input (MemoryError and RecursionError included), comes out as a
    CheckpointError that names the file.
    """
    name = str(source) if isinstance(source, (str, os.PathLike)) else "<checkpoint bytes>"
    try:
        return _read(source, name)
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"{name}: no such file") from None
    except RecursionError:
        raise CheckpointError(f"{name}: not a readable btf checkpoint (nested too deeply)") from None
    except MemoryError:
        raise CheckpointError(f"{name}: not a readable btf checkpoint (declares more memory than it may use)") from None
    except Exception as exc:  # the boundary: hostile bytes must never escape as another type
        raise CheckpointError(f"{name}: not a readable btf checkpoint ({type(exc).__name__}: {exc})") from None


def summary(source: bytes) -> dict[str, Any]:
    """What a listing shows of a checkpoint (architecture, epochs, metadata), without inflating any weights."""
    name = "<checkpoint bytes>"

    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f"{name}: {problem}")

    try:
        small = {"sizes", "layers", "input_shape", "activation", "cost", "epochs", "metadata"}
        arrays = npz.members(npz.read_blob(source, fail), fail, only=small)
        if "metadata" not in arrays or not ("sizes" in arrays or "layers" in arrays):
            raise fail("missing entry 'sizes' or 'layers', or 'metadata'")
        if "layers" in arrays:
            layers = [str(s) for s in arrays["layers"].ravel()[:MAX_LAYERS]]
            units = re.match(r"dense(\d+)", layers[-1]) if layers else None
            inputs = int(np.prod(arrays["input_shape"])) if "input_shape" in arrays else None
            sizes = [inputs, int(units.group(1)) if units else None]
        else:
            layers, sizes = None, [int(s) for s in arrays["sizes"].ravel()[:MAX_LAYERS]]
        return {
            "sizes": sizes,
            "layers": layers,
            "activation": str(arrays["activation"]) if "activation" in arrays else None,
            "cost": str(arrays["cost"]) if "cost" in arrays else None,
            "epochs": int(arrays["epochs"]) if "epochs" in arrays and arrays["epochs"].shape == () else None,
            "metadata": _metadata(arrays["metadata"], fail),
        }
    except CheckpointError:
        raise
    except Exception as exc:  # the same boundary as read()
        raise CheckpointError(f"{name}: not a readable btf checkpoint ({type(exc).__name__}: {exc})") from None


def _read(source: Any, name: str) -> dict[str, Any]:
    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f"{name}: {problem}")

    arrays = npz.members(npz.read_blob(source, fail), fail)

    def get(key: str) -> np.ndarray:
        if key not in arrays:
            raise fail(f"missing entry {key!r}")
        return arrays[key]

    if get("format").shape != () or str(get("format")) != FORMAT:
        raise fail(f"format is not {FORMAT!r}")
    scalars = {}
    for key in _SCALARS:
        value = get(key)
        if value.shape != () or value.dtype.kind not in "iuf" or not np.isfinite(value):
            raise fail(f"entry {key!r} must be a finite number")
        scalars[key] = value.item()
    if scalars["format_version"] not in (FORMAT_VERSION, LAYERED_VERSION):
        raise fail(f"format version {scalars['format_version']} is not supported (this btf reads 1 and 2)")
    if scalars["learning_rate"] <= 0 or scalars["batch_size"] < 1 or scalars["epochs"] < 0 or scalars["l2"] < 0:
        raise fail("hyperparameters out of range (learning_rate, batch_size, epochs or l2)")
    hyper = {
        "learning_rate": float(scalars["learning_rate"]),
        "batch_size": int(scalars["batch_size"]),
        "epochs": int(scalars["epochs"]),
        "l2": float(scalars["l2"]),
        "metadata": _metadata(get("metadata"), fail),
    }
    if scalars["format_version"] == LAYERED_VERSION:
        return {**hyper, **_layered(arrays, get, fail)}
    text = {}
    for key, allowed in (("activation", nn.ACTIVATIONS), ("cost", nn.COSTS)):
        value = get(key)
        if value.dtype.kind != "U" or value.shape != () or str(value) not in allowed:
            raise fail(f"{key} must be one of {allowed}")
        text[key] = str(value)
    sizes, weights, biases = _dense(arrays, get, fail)
    return {"sizes": sizes, **text, **hyper, "weights": weights, "biases": biases}


def _text(get, key: str, allowed: tuple[str, ...], fail) -> str:
    value = get(key)
    if value.dtype.kind != "U" or value.shape != () or str(value) not in allowed:
        raise fail(f"{key} must be one of {allowed}")
    return str(value)


def _layered(arrays: dict[str, np.ndarray], get, fail) -> dict[str, Any]:
    """A format-2 checkpoint's layer list and parameters: shapes chain layer to layer, checked before use."""
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
    try:
        layers = parse_layers(",".join(str(s) for s in specs), activation=None, flatten=False)
        expected, current = [], tuple(int(d) for d in shape)
        for layer in layers:
            current, shapes = layer.shapes(current)
            expected += shapes
        if len(current) != 1:
            raise ConfigError(f"the last layer gives shape {current}, not a vector of classes")
    except ConfigError as exc:
        raise fail(f"layers do not fit together: {exc}") from None
    params = []
    for i, want in enumerate(expected):
        value = get(f"P{i}")
        if value.shape != want or value.dtype.kind != "f":
            raise fail(f"P{i} has shape {value.shape} {value.dtype}, but the layers need {want} floats")
        with np.errstate(over="ignore"):  # a float64 past float32's range becomes inf, refused below
            value = np.ascontiguousarray(value, dtype=np.float32)
        if not np.isfinite(value).all():
            raise fail(f"P{i} holds NaN or infinite values (as float32)")
        params.append(value)
    if any(k[0] == "P" and k[1:].isdigit() and int(k[1:]) >= len(expected) for k in arrays):
        raise fail("has parameters beyond what its layers describe")
    return {
        "layers": [layer.spec() for layer in layers],
        "input_shape": tuple(int(d) for d in shape),
        "optimizer": _text(get, "optimizer", OPTIMIZERS, fail),
        "cost": _text(get, "cost", nn.COSTS, fail),
        "params": params,
        "sizes": (int(np.prod(shape)), current[0]),
    }


def _dense(arrays: dict[str, np.ndarray], get, fail) -> tuple[tuple[int, ...], list, list]:
    """The layer sizes and their weights, each checked for shape, dtype and finiteness."""
    sizes = get("sizes")
    if sizes.ndim != 1 or sizes.dtype.kind not in "iu" or not 2 <= len(sizes) <= MAX_LAYERS or sizes.min() < 1:
        raise fail(f"sizes must be 2 to {MAX_LAYERS} positive integers")
    sizes = tuple(int(s) for s in sizes)
    weights, biases = [], []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        for key, shape in ((f"W{i}", (n_in, n_out)), (f"b{i}", (n_out,))):
            value = get(key)
            if value.shape != shape:
                raise fail(f"{key} has shape {value.shape}, but sizes {list(sizes)} need {shape}")
            if value.dtype.kind != "f":
                raise fail(f"{key} must hold floats, not {value.dtype}")
            with np.errstate(over="ignore"):  # a float64 past float32's range becomes inf, refused below
                value = np.ascontiguousarray(value, dtype=np.float32)
            if not np.isfinite(value).all():
                raise fail(f"{key} holds NaN or infinite values (as float32)")
            (weights if key[0] == "W" else biases).append(value)
    extra = {k for k in arrays if k[0] in "Wb" and k[1:].isdigit()} - {
        f"{p}{i}" for p in "Wb" for i in range(len(sizes) - 1)
    }
    if extra:
        raise fail(f"has layers {sorted(extra)} beyond what sizes {list(sizes)} describe")
    return sizes, weights, biases


def _metadata(raw: np.ndarray, fail) -> dict[str, Any]:
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
