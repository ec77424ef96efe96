"""Model files for tests: a tiny valid digit model, and surgery on a checkpoint's zip members."""

import io
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
