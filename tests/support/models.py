"""Model files for tests: a tiny valid digit model, and surgery on a checkpoint's zip members."""

import io
import struct
import zipfile

import numpy as np

import btf


def tiny_model(seed: int = 0, **meta) -> bytes:
    """A valid, untrained 784-16-10 digit model with metadata."""
    net = btf.Graph((784, 16, 10), cost="cross_entropy", seed=seed)
    return net.to_bytes({"test_accuracy": 0.5, "created": "2026-11-27T00:00:00+00:00", **meta})


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
