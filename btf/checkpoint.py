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
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np

from btf import nn
from btf.errors import CheckpointError

FORMAT = "btf-checkpoint"
FORMAT_VERSION = 1
# A digit model is a few MB; refusing anything far larger keeps a hostile file from
# making the loader allocate gigabytes while it decompresses.
MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024
MAX_LAYERS = 64
# What numpy, zipfile and zlib raise on damaged input; the loader turns each into a CheckpointError.
_MALFORMED = (
    OSError,
    ValueError,
    EOFError,
    KeyError,
    zipfile.BadZipFile,
    UnicodeError,
    zlib.error,
    NotImplementedError,
    OverflowError,
    struct.error,
)
_SCALARS = ("learning_rate", "batch_size", "epochs", "l2", "format_version")


def dumps(params: dict[str, Any], metadata: dict[str, Any]) -> bytes:
    """The checkpoint as bytes."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **_arrays(params, metadata))
    return buffer.getvalue()


def write(target: str | Path | IO[bytes], params: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Write a checkpoint to a file object, or atomically to a path (temp file + rename)."""
    data = dumps(params, metadata)
    if not isinstance(target, (str, os.PathLike)):
        target.write(data)
        return
    path = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a saved model is meant to be read by others
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _arrays(params: dict[str, Any], metadata: dict[str, Any]) -> dict[str, np.ndarray]:
    arrays = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "sizes": np.array(params["sizes"], dtype=np.int64),
        "activation": np.array(params["activation"]),
        "cost": np.array(params["cost"]),
        "learning_rate": np.array(params["learning_rate"], dtype=np.float64),
        "batch_size": np.array(params["batch_size"], dtype=np.int64),
        "epochs": np.array(params["epochs"], dtype=np.int64),
        "l2": np.array(params["l2"], dtype=np.float64),
        "metadata": np.array(json.dumps(metadata, sort_keys=True, default=str)),
    }
    for i, (w, b) in enumerate(zip(params["weights"], params["biases"])):
        arrays[f"W{i}"] = np.asarray(w, dtype=np.float32)
        arrays[f"b{i}"] = np.asarray(b, dtype=np.float32)
    return arrays


def read(source: str | Path | bytes | IO[bytes]) -> dict[str, Any]:
    """Load and validate a checkpoint; returns the parameters ``Graph.load`` needs."""
    name = str(source) if isinstance(source, (str, os.PathLike)) else "<checkpoint bytes>"
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    try:
        return _read(source, name)
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"{name}: no such file") from None
    except _MALFORMED as exc:
        raise CheckpointError(f"{name}: not a readable btf checkpoint ({exc})") from None


def _read(source: Any, name: str) -> dict[str, Any]:
    def fail(problem: str) -> CheckpointError:
        return CheckpointError(f"{name}: {problem}")

    # Check the zip directory before numpy inflates anything.
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            blob = f.read(MAX_UNCOMPRESSED_BYTES + 1)
    else:
        blob = source.read(MAX_UNCOMPRESSED_BYTES + 1)
    if len(blob) > MAX_UNCOMPRESSED_BYTES:
        raise fail("file is larger than any btf model should be")
    try:
        members = zipfile.ZipFile(io.BytesIO(blob)).infolist()
    except zipfile.BadZipFile:
        raise fail("not a btf checkpoint (not an .npz zip archive)") from None
    if sum(m.file_size for m in members) > MAX_UNCOMPRESSED_BYTES:
        raise fail("entries would inflate past the size limit")

    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        keys = set(npz.files)

        def get(key: str) -> np.ndarray:
            if key not in keys:
                raise fail(f"missing entry {key!r}")
            try:
                return npz[key]
            except ValueError as exc:  # numpy's refusal of an object (pickled) array
                raise fail(f"entry {key!r} is not a plain array ({exc}); refusing to unpickle") from None

        if str(get("format")) != FORMAT:
            raise fail(f"format is {str(get('format'))!r}, expected {FORMAT!r}")
        scalars = {}
        for key in _SCALARS:
            value = get(key)
            if value.shape != () or value.dtype.kind not in "iuf" or not np.isfinite(value):
                raise fail(f"entry {key!r} must be a finite number")
            scalars[key] = value.item()
        if scalars["format_version"] != FORMAT_VERSION:
            raise fail(f"format version {scalars['format_version']} is not supported (this btf reads {FORMAT_VERSION})")
        sizes = get("sizes")
        if sizes.ndim != 1 or sizes.dtype.kind not in "iu" or not 2 <= len(sizes) <= MAX_LAYERS or sizes.min() < 1:
            raise fail(f"sizes must be 2 to {MAX_LAYERS} positive integers, got {sizes.tolist()}")
        sizes = tuple(int(s) for s in sizes)
        text = {}
        for key, allowed in (("activation", nn.ACTIVATIONS), ("cost", nn.COSTS)):
            value = get(key)
            if value.dtype.kind != "U" or value.shape != () or str(value) not in allowed:
                raise fail(f"{key} must be one of {allowed}")
            text[key] = str(value)
        weights, biases = [], []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            for key, shape in ((f"W{i}", (n_in, n_out)), (f"b{i}", (n_out,))):
                value = get(key)
                if value.shape != shape:
                    raise fail(f"{key} has shape {value.shape}, but sizes {list(sizes)} need {shape}")
                if value.dtype.kind != "f":
                    raise fail(f"{key} must hold floats, not {value.dtype}")
                if not np.isfinite(value).all():
                    raise fail(f"{key} holds NaN or infinite values")
                (weights if key[0] == "W" else biases).append(np.ascontiguousarray(value, dtype=np.float32))
        extra = {k for k in keys if k[0] in "Wb" and k[1:].isdigit()} - {
            f"{p}{i}" for p in "Wb" for i in range(len(sizes) - 1)
        }
        if extra:
            raise fail(f"has layers {sorted(extra)} beyond what sizes {list(sizes)} describe")
        metadata_raw = get("metadata")
        if metadata_raw.dtype.kind != "U" or metadata_raw.shape != ():
            raise fail("metadata must be a JSON string")
        try:
            metadata = json.loads(str(metadata_raw))
        except json.JSONDecodeError as exc:
            raise fail(f"metadata is not valid JSON ({exc})") from None
        if not isinstance(metadata, dict):
            raise fail("metadata must be a JSON object")

    if scalars["learning_rate"] <= 0 or scalars["batch_size"] < 1 or scalars["epochs"] < 0 or scalars["l2"] < 0:
        raise fail("hyperparameters out of range (learning_rate, batch_size, epochs or l2)")
    return {
        "sizes": sizes,
        "activation": text["activation"],
        "cost": text["cost"],
        "learning_rate": float(scalars["learning_rate"]),
        "batch_size": int(scalars["batch_size"]),
        "epochs": int(scalars["epochs"]),
        "l2": float(scalars["l2"]),
        "weights": weights,
        "biases": biases,
        "metadata": metadata,
    }
