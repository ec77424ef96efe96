"""Hostile model files: every failure is a CheckpointError, found before anything large is allocated."""

import io
import json
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

import btf
from btf import checkpoint, npz
from tests.support.models import (
    format1_arrays,
    metadata_member,
    npy,
    npz_bytes,
    rebuild,
    tiny_model,
    zeros_member,
)


@pytest.fixture
def good() -> bytes:
    """A format-1 file: its W0, b0, ... members are what the surgery below targets (format 2's are P0, P1, ...)."""
    return npz_bytes(format1_arrays(btf.Graph((12, 4, 3), seed=0), {"note": "x"}))


def test_encrypted_flag_is_refused(good):
    blob = bytearray(good)
    # Set bit 0 ("encrypted") of every central-directory entry's flags.
    at = blob.find(b"PK\x01\x02")
    while at >= 0:
        blob[at + 8] |= 1
        at = blob.find(b"PK\x01\x02", at + 4)
    with pytest.raises(btf.CheckpointError, match="encrypted"):
        btf.Graph.load(bytes(blob))


@pytest.mark.parametrize(
    "member,match",
    [("W0.npy", "W0 has shape .* but the model needs"), ("metadata.npy", "declares shape .* inflate past")],
    ids=["weight", "other"],
)
def test_enormous_declared_shape_is_refused_without_allocating(good, member, match):
    # A weight's header is checked against the shape the layers need; any other entry's size
    # against the inflation budget: both from the header, before the payload is read.
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000), }"
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    lying = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 64
    blob = rebuild(good, lambda n, d: (n, lying if n == member else d))
    with pytest.raises(btf.CheckpointError, match=match):
        btf.Graph.load(blob)


def test_member_without_npy_magic_is_refused(good):
    blob = rebuild(good, lambda n, d: (n, b"not numpy at all" if n == "b0.npy" else d))
    with pytest.raises(btf.CheckpointError, match="no NPY magic"):
        btf.Graph.load(blob)


def test_deeply_nested_metadata_is_refused(good):
    blob = rebuild(good, metadata_member("[" * 100_000 + "]" * 100_000))
    with pytest.raises(btf.CheckpointError, match="nested too deeply"):
        btf.Graph.load(blob)


def test_nan_in_metadata_reads_as_null_so_it_reserialises(good):
    blob = rebuild(good, metadata_member('{"test_accuracy": NaN, "loss": Infinity, "x": [-Infinity]}'))
    meta = btf.Graph.load(blob).metadata
    assert meta == {"test_accuracy": None, "loss": None, "x": [None]}
    json.dumps(meta, allow_nan=False)
    again = btf.Graph((12, 4, 3), seed=0).to_bytes({"a": float("nan")})
    assert btf.Graph.load(again).metadata == {"a": None}


def test_understated_member_size_is_capped_while_streaming(good, monkeypatch):
    monkeypatch.setattr(npz, "MAX_UNCOMPRESSED_BYTES", 200_000)
    big = npy(np.zeros(1_000_000, np.uint8))
    blob = bytearray(rebuild(good, lambda n, d: (n, big if n == "b0.npy" else d)))
    # Rewrite every directory entry's uncompressed size to 10 bytes: the stream must still stop.
    for signature, offset in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        at = blob.find(signature)
        while at >= 0:
            blob[at + offset : at + offset + 4] = struct.pack("<I", 10)
            at = blob.find(signature, at + 4)
    with pytest.raises(btf.CheckpointError):
        btf.Graph.load(bytes(blob))


@pytest.mark.parametrize(
    "declared,claim",
    [(None, 10), (None, None), (10, None), (10, 10 + 128)],
    ids=["directory-understates", "header-over-the-limit", "payload-longer-than-its-header", "both-lie"],
)
def test_a_zip_bomb_costs_little_whatever_its_sizes_say(declared, claim):
    # 64 MiB of zeros in 65 KB: inflated whole (the reader before issue 17 took 1 s and 511 MiB
    # for 255 MiB whose directory said 10 bytes), it would show in the traced peak.
    blob = zeros_member(tiny_model(), "padding.npy", 64 << 20, declared=declared, claim=claim)
    tracemalloc.start()
    try:
        with pytest.raises(btf.CheckpointError):
            btf.Graph.load(blob)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak


def test_too_many_members_are_refused_from_the_directory_record(good):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for i in range(npz.MAX_MEMBERS + 1):
            z.writestr(f"e{i}.npy", b"")
    with pytest.raises(btf.CheckpointError, match="entries"):
        btf.Graph.load(out.getvalue())


def test_any_unexpected_failure_becomes_a_checkpoint_error(good, monkeypatch):
    for exc in (RuntimeError("boom"), MemoryError(), RecursionError(), AttributeError("x")):

        def explode(*_, exc=exc):
            raise exc

        monkeypatch.setattr(npz, "Archive", explode)  # read()
        monkeypatch.setattr(npz, "members", explode)  # summary()
        with pytest.raises(btf.CheckpointError):
            btf.Graph.load(good)
        with pytest.raises(btf.CheckpointError):
            checkpoint.describe(good)


def test_oversized_file_is_refused_before_parsing(monkeypatch, good):
    monkeypatch.setattr(npz, "MAX_FILE_BYTES", 100)
    with pytest.raises(btf.CheckpointError, match="MiB"):
        btf.Graph.load(good)


def test_float64_weights_past_float32s_range_are_refused(good):
    huge = npy(np.full((12, 4), 1e300))
    blob = rebuild(good, lambda n, d: (n, huge if n == "W0.npy" else d))
    with pytest.raises(btf.CheckpointError, match="infinite"):
        btf.Graph.load(blob)
