"""Pickle-free model checkpoints: ``np.savez_compressed`` files of plain numeric and string arrays.

Layout (format version 2, which ``write`` writes), every entry loadable with
``np.load(..., allow_pickle=False)``:

    format          "btf-checkpoint"            format_version  int64 scalar (2)
    layers          str (k,): one spec each     input_shape     int64 (1 to 3 sizes)
    optimizer, cost str scalars                 learning_rate, l2  float64 scalars
    batch_size, epochs  int64 scalars           metadata        str scalar (a JSON object)
    P0..P{n-1}      float32: every layer's parameters in layer order (``Layer.params``)

Format version 1, the original dense network's, holds ``sizes`` (int64), ``activation`` and
W0.., b0.. (float32 (n_in, n_out) and (n_out,)) in place of layers, input_shape, optimizer and
P0..; it is read into the same form (``btf.specs.dense_layers``, trained with SGD) and will
keep loading.

``read`` trusts nothing: it refuses object arrays (the original project's ragged pickled
format), oversized entries, unknown versions, shapes that do not chain, layer lists a Graph
would refuse, models over the footprint limits (btf.footprint, checked before any weight is
inflated), non-float weights and non-finite values, each with a CheckpointError that names
the file and the problem.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from btf import footprint, npz
from btf.atomic import write_atomic
from btf.checkpoint_entries import (
    LAYERED_VERSION,
    MAX_LAYERS,
    MAX_METADATA_CHARS,
    dense,
    hyper_and_version,
    layered,
    read_metadata,
    weight,
)
from btf.errors import CheckpointError
from btf.footprint import Limits
from btf.layers import Layer

FORMAT = "btf-checkpoint"
# Every entry but the weights: scalars, at most 64 layer specs, and the metadata (4 bytes a character).
STRUCTURE_BYTES = 4 * MAX_METADATA_CHARS + (1 << 20)
_WEIGHT = re.compile(r"[PWb]\d+")  # a parameter's entry: read only once the structure is checked


@dataclass
class Checkpoint:
    """What a checkpoint holds: the layers (unbuilt), their input shape, every parameter in layer order, and the rest."""

    layers: list[Layer]
    input_shape: tuple[int, ...]
    params: list[np.ndarray]
    learning_rate: float
    batch_size: int
    cost: str
    l2: float
    optimizer: str
    epochs: int
    metadata: dict[str, Any]

    @classmethod
    def of(cls, graph: Any, metadata: dict[str, Any] | None = None) -> Checkpoint:
        """What a ``btf.Graph`` saves: its layers, settings and metadata, with ``metadata`` added."""
        hyper = {k: getattr(graph, k) for k in ("learning_rate", "batch_size", "cost", "l2", "epochs")}
        metadata = {**graph.metadata, **(metadata or {})}
        return cls(
            graph.layers, graph.input_shape, graph.params, optimizer=graph.optimizer.name, metadata=metadata, **hyper
        )

    @property
    def hyper(self) -> dict[str, Any]:
        """The training settings a Graph is built with."""
        keys = ("learning_rate", "batch_size", "cost", "l2", "optimizer")
        return {key: getattr(self, key) for key in keys}


def dumps(saved: Checkpoint) -> bytes:
    """The checkpoint as bytes (format 2)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **_arrays(saved))
    return buffer.getvalue()


def write(target: str | Path | IO[bytes], saved: Checkpoint) -> None:
    """Write a checkpoint to a file object, or atomically to a path (temp file, fsync, rename)."""
    data = dumps(saved)
    if not isinstance(target, (str, os.PathLike)):
        target.write(data)
        return
    write_atomic(target, data)


def _arrays(saved: Checkpoint) -> dict[str, np.ndarray]:
    metadata = json.dumps(json_safe(saved.metadata), sort_keys=True, default=str, allow_nan=False)
    return {
        "format": np.array(FORMAT),
        "format_version": np.array(LAYERED_VERSION, dtype=np.int64),
        "cost": np.array(saved.cost),
        "learning_rate": np.array(saved.learning_rate, dtype=np.float64),
        "batch_size": np.array(saved.batch_size, dtype=np.int64),
        "epochs": np.array(saved.epochs, dtype=np.int64),
        "l2": np.array(saved.l2, dtype=np.float64),
        "metadata": np.array(metadata),
        "layers": np.array([layer.spec() for layer in saved.layers]),
        "input_shape": np.array(saved.input_shape, dtype=np.int64),
        "optimizer": np.array(saved.optimizer),
        **{f"P{i}": np.asarray(p, dtype=np.float32) for i, p in enumerate(saved.params)},
    }


def json_safe(value: Any) -> Any:
    """``value`` with every NaN and infinity as None: strict JSON that any client can parse."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def read(source: str | Path | bytes | IO[bytes], limits: Limits | None = None) -> Checkpoint:
    """Load and validate a checkpoint of either format; returns what ``Graph.load`` builds from.

    This is the loader's boundary: *any* failure inside it, whatever numpy, zipfile, zlib or
    json raise on hostile input (MemoryError and RecursionError included), comes out as a
    CheckpointError that names the file. Every rule a Graph checks when it is built is
    checked here first, and a model whose footprint (btf.footprint) is over ``limits`` is
    refused from its description, before any of its weights is inflated (default:
    ``btf.footprint.LIMITS``, read when called).
    """
    name = str(source) if isinstance(source, (str, os.PathLike)) else "<checkpoint bytes>"
    try:
        return _read(source, name, limits or footprint.LIMITS)
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


def describe(source: bytes) -> dict[str, Any]:
    """What a listing shows of a checkpoint (architecture, epochs, metadata), without inflating any weights.

    ``sizes`` is the input's features and each dense layer's units, as ``Graph.sizes``.
    """
    name = "<checkpoint bytes>"

    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f"{name}: {problem}")

    try:
        small = {"sizes", "layers", "input_shape", "activation", "cost", "epochs", "metadata"}
        arrays = npz.members(npz.read_blob(source, fail), fail, only=small, limit=STRUCTURE_BYTES)
        if "metadata" not in arrays or not ("sizes" in arrays or "layers" in arrays):
            raise fail("missing entry 'sizes' or 'layers', or 'metadata'")
        if "layers" in arrays:
            layers = [str(s) for s in arrays["layers"].ravel()[:MAX_LAYERS]]
            inputs = int(np.prod(arrays["input_shape"])) if "input_shape" in arrays else None
            sizes = [inputs, *(int(m.group(1)) for m in map(re.compile(r"dense(\d+)").match, layers) if m)]
        else:
            layers, sizes = None, [int(s) for s in arrays["sizes"].ravel()[:MAX_LAYERS]]
        return {
            "sizes": sizes,
            "layers": layers,
            "activation": str(arrays["activation"]) if "activation" in arrays else None,
            "cost": str(arrays["cost"]) if "cost" in arrays else None,
            "epochs": int(arrays["epochs"]) if "epochs" in arrays and arrays["epochs"].shape == () else None,
            "metadata": read_metadata(arrays["metadata"], fail),
        }
    except CheckpointError:
        raise
    except Exception as exc:  # the same boundary as read()
        raise CheckpointError(f"{name}: not a readable btf checkpoint ({type(exc).__name__}: {exc})") from None


def _read(source: Any, name: str, limits: Limits) -> Checkpoint:
    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f"{name}: {problem}")

    archive = npz.Archive(npz.read_blob(source, fail), fail)
    # Everything but the weights first: the structure is checked, and what it would cost
    # refused, before a single weight is inflated.
    arrays = archive.arrays(lambda member: not _WEIGHT.fullmatch(member), limit=STRUCTURE_BYTES)

    def get(key: str) -> np.ndarray:
        if key not in arrays:
            raise fail(f"missing entry {key!r}")
        return arrays[key]

    if get("format").shape != () or str(get("format")) != FORMAT:
        raise fail(f"format is not {FORMAT!r}")
    hyper, version = hyper_and_version(get, fail)
    structure, expected = (layered if version == LAYERED_VERSION else dense)(get, fail)
    problem = limits.problem(footprint.of_layers(structure["layers"], structure["input_shape"]))
    if problem is not None:
        raise fail(problem)
    extra = sorted({m for m in archive.names if _WEIGHT.fullmatch(m)} - set(expected))
    if extra:
        raise fail(f"has parameters {extra[:8]} beyond what its layers describe")
    weights = archive.arrays(expected.__contains__, shapes=expected)
    params = [weight(key, weights.get(key), fail) for key in expected]
    return Checkpoint(**hyper, **structure, params=params)
