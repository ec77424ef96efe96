"""Model files for tests: a tiny valid digit model, and surgery on a checkpoint's zip members."""

import io
import json
import struct
import zipfile

import numpy as np

import btf
from btf import checkpoint
from btf.specs import parse_layers


def format1_arrays(net: btf.Graph, metadata: dict | None = None) -> dict[str, np.ndarray]:
    """A dense ``net`` as the original format (version 1) stored it: sizes, activation, W0, b0, W1, ...

    btf writes format 2 now, and reads format 1 forever (the shipped models/model-v1.npz to
    model-v4.npz are such files): these are the entries that reading is tested on.
    """
    activations = {layer.activation for layer in net.layers[:-1]} or {"sigmoid"}
    arrays = {
        "format": np.array(checkpoint.FORMAT),
        "format_version": np.array(1, dtype=np.int64),
        "sizes": np.array(net.sizes, dtype=np.int64),
        "activation": np.array(activations.pop()),
        "cost": np.array(net.cost),
        "learning_rate": np.array(net.learning_rate, dtype=np.float64),
        "batch_size": np.array(net.batch_size, dtype=np.int64),
        "epochs": np.array(net.epochs, dtype=np.int64),
        "l2": np.array(net.l2, dtype=np.float64),
        "metadata": np.array(json.dumps(metadata or {})),
    }
    for i, layer in enumerate(net.layers):
        arrays[f"W{i}"], arrays[f"b{i}"] = layer.params
    return arrays


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def tiny_model(seed: int = 0, **meta) -> bytes:
    """A valid, untrained 784-16-10 digit model with metadata."""
    net = btf.Graph((784, 16, 10), cost="cross_entropy", seed=seed)
    return net.to_bytes({"test_accuracy": 0.5, "created": "2026-11-27T00:00:00+00:00", **meta})


# The reported models of issue 17 that cost more than a served model may, and the limit each is over first.
OVER_LIMITS = {
    "conv256-then-15x15": ("conv256:1:same,conv1:15:same,flatten,dense10", "working memory"),
    "1024-channels": ("conv1024:1:same,conv1:15:same,flatten,dense10", "working memory"),
    "4096-channels": ("conv4096:1:same,conv1:15:same,flatten,dense10", "working memory"),
    "conv99999-pool16": ("conv99999:1,pool16,flatten,dense10", "working memory"),
    "six-conv64x15": (",".join(["conv64:15:same"] * 6) + ",flatten,dense10", "working memory"),
    "thirty-conv64x15": (",".join(["conv64:15:same"] * 30) + ",flatten,dense10", "parameters"),
    "two-wide-3x3": ("conv64:3:same,conv64:3:same,flatten,dense10", "multiply-adds"),  # within memory, over work
}


def layered_model(spec: str, input_shape=(28, 28, 1), *, weights: bool = True, **meta) -> bytes:
    """A format-2 checkpoint of the layer list ``spec``, exactly as written (no flatten or activations
    added), with zero weights: valid and tiny on disk, whatever it would cost to run. Built from the
    layers' shapes, not through a Graph, so it can hold what a Graph would refuse. Without ``weights``
    its parameters are left out: the loader refuses a model over the limits before reading any."""
    layers = parse_layers(spec, activation=None, flatten=False)
    shape, params = tuple(input_shape), []
    for layer in layers if weights else []:
        shape, shapes = layer.shapes(shape)
        params += [np.zeros(s, np.float32) for s in shapes]
    hyper = {"learning_rate": 1e-3, "batch_size": 64, "epochs": 1, "l2": 0.0, "cost": "cross_entropy"}
    structure = {"layers": layers, "input_shape": tuple(input_shape), "optimizer": "adam"}
    return checkpoint.dumps(checkpoint.Checkpoint(**hyper, **structure, params=params, metadata=meta))


def rebuild(blob: bytes, edit) -> bytes:
    """The same archive with ``edit(name, data) -> (name, data) | None`` applied to each member."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            changed = edit(info.filename, src.read(info))
            if changed is not None:
                dst.writestr(changed[0], changed[1])
    return out.getvalue()


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def metadata_member(text: str):
    """An edit for ``rebuild`` that replaces the metadata JSON string."""
    return lambda name, data: (name, npy(np.array(text))) if name == "metadata.npy" else (name, data)


def zeros_member(
    blob: bytes, name: str, payload: int, *, declared: int | None = None, claim: int | None = None
) -> bytes:
    """``blob`` plus a member ``name``: an .npy header for ``declared`` bytes (default ``payload``), then
    ``payload`` zero bytes, streamed in (never held whole). With ``claim``, the zip's local header and
    central directory state ``claim`` as the member's size: a "lying" zip bomb."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, {"descr": "|u1", "fortran_order": False, "shape": (payload if declared is None else declared,)}
        )
        with dst.open(name, "w") as member:
            member.write(header.getvalue())
            chunk = bytes(1 << 20)
            for start in range(0, payload, len(chunk)):
                member.write(chunk[: payload - start])
    data = bytearray(out.getvalue())
    if claim is not None:
        # (signature, offset of the uncompressed size, of the name, of the name's length)
        for signature, size_at, name_at, length_at in ((b"PK\x01\x02", 24, 46, 28), (b"PK\x03\x04", 22, 30, 26)):
            at = data.find(signature)
            while at >= 0:
                (length,) = struct.unpack("<H", data[at + length_at : at + length_at + 2])
                if data[at + name_at : at + name_at + length] == name.encode():
                    data[at + size_at : at + size_at + 4] = struct.pack("<I", claim)
                at = data.find(signature, at + 4)
    return bytes(data)
