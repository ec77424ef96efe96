"""A hostile-safe reader of ``.npz`` archives: every size is checked before memory is spent on it.

- The file is read within a byte limit (and never with a read(n) that allocates the limit).
- The zip's member count comes from its end-of-directory record, before zipfile parses it.
- Encrypted members and unknown compression methods are refused.
- Each member is inflated through a hard cap on the bytes still allowed, never trusting the
  directory's stated sizes, and its ``.npy`` header is checked against its real size before
  numpy sees it (no object arrays, so nothing is ever unpickled).

Errors are raised through the ``fail(problem)`` the caller passes, so they name its file.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from typing import Any

import numpy as np

# A digit model is a few MB; refusing anything far larger keeps a hostile file from
# making the loader allocate gigabytes while it decompresses.
MAX_FILE_BYTES = 128 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024
# Every entry of the format, for the most layers, with room to spare: a million empty
# members must not cost seconds of directory parsing.
MAX_MEMBERS = 16 + 2 * 64


def read_blob(source: Any, fail) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        blob = source if isinstance(source, bytes) else bytes(source)  # bytes are used as they are, not copied
    elif isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            # read(n) allocates n bytes up front: ask for what the file holds, within the limit.
            blob = f.read(min(os.fstat(f.fileno()).st_size, MAX_FILE_BYTES) + 1)
    else:  # a file object: in chunks, since read(n) may allocate n bytes up front
        parts, size = [], 0
        while size <= MAX_FILE_BYTES and (part := source.read(1 << 20)):
            parts.append(part)
            size += len(part)
        blob = b"".join(parts)
    if len(blob) > MAX_FILE_BYTES:
        raise fail(f"file is over {MAX_FILE_BYTES >> 20} MiB, larger than any btf model should be")
    return blob


def members(blob: bytes, fail, only: set[str] | None = None) -> dict[str, np.ndarray]:
    """Every ``.npy`` member (or those named in ``only``) as an array, each inflated through a hard cap."""
    # The end-of-directory record gives the member count before zipfile parses a single entry.
    end = blob.rfind(b"PK\x05\x06", max(0, len(blob) - 65_557))
    if end < 0 or len(blob) < end + 22:
        raise fail("not a btf checkpoint (not an .npz zip archive)")
    (count,) = struct.unpack("<H", blob[end + 10 : end + 12])
    if count > MAX_MEMBERS:
        raise fail(f"holds {count} entries; a btf checkpoint has at most {MAX_MEMBERS}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
    except zipfile.BadZipFile:
        raise fail("not a btf checkpoint (not an .npz zip archive)") from None
    arrays, budget = {}, MAX_UNCOMPRESSED_BYTES
    for info in archive.infolist():
        if len(arrays) >= MAX_MEMBERS:
            raise fail(f"holds more than {MAX_MEMBERS} entries")
        if info.flag_bits & 0x1:
            raise fail(f"entry {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise fail(f"entry {info.filename!r} uses an unsupported compression method")
        if not info.filename.endswith(".npy"):
            raise fail(f"entry {info.filename!r} is not an .npy array")
        if only is not None and info.filename[:-4] not in only:
            continue  # never inflated
        # Never trust the directory's sizes: read at most what the budget has left, plus one byte.
        with archive.open(info) as member:
            raw = member.read(budget + 1)
        if len(raw) > budget:
            raise fail(f"entries would inflate past the {MAX_UNCOMPRESSED_BYTES >> 20} MiB limit")
        budget -= len(raw)
        arrays[info.filename[:-4]] = parse_npy(info.filename, raw, fail)
    return arrays


def parse_npy(member: str, raw: bytes, fail) -> np.ndarray:
    """An ``.npy`` payload -> array, checking that its header matches its actual size before any allocation."""
    stream = io.BytesIO(raw)
    if raw[:6] != b"\x93NUMPY":
        raise fail(f"entry {member!r} is not an .npy array (no NPY magic)")
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise fail(f"entry {member!r} has an unsupported .npy version {version}")
    if dtype.hasobject:
        raise fail(f"entry {member!r} is not a plain array (it holds Python objects); refusing to unpickle")
    count = 1
    for n in shape:
        count *= int(n)
    payload = len(raw) - stream.tell()
    if count * dtype.itemsize != payload:
        raise fail(f"entry {member!r} declares shape {shape} ({count * dtype.itemsize:,} bytes) but holds {payload:,}")
    array = np.frombuffer(raw, dtype=dtype, count=count, offset=stream.tell())
    return array.reshape(shape, order="F" if fortran else "C").copy()  # writable, and free of the raw bytes
