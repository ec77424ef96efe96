"""A hostile-safe reader of ``.npz`` archives: every size is checked before memory is spent on it.

- The file is read within a byte limit (and never with a read(n) that allocates the limit).
- The zip's member count comes from its end-of-directory record, before zipfile parses it.
- Encrypted members and unknown compression methods are refused.
- Each member is streamed, a megabyte at a time, into an array of the size its ``.npy``
  header declares, once that size is checked against the bytes still allowed (and, where
  the caller knows it, the shape against the expected one). The directory's stated sizes
  are never trusted: the cap is measured on what actually inflates, and the stream stops
  there. No object arrays, so nothing is ever unpickled.

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
# making the loader allocate gigabytes while it decompresses. The largest model btf's
# default limits admit (btf.footprint: 8 million parameters) is 32 MB of float32, 64 MB
# even stored as float64; its metadata is at most 4 MB.
MAX_FILE_BYTES = 128 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 128 * 1024 * 1024
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


class Archive:
    """An ``.npz`` archive whose directory has been checked; its members are inflated on request, through one budget."""

    def __init__(self, blob: bytes, fail) -> None:
        # The end-of-directory record gives the member count before zipfile parses a single entry.
        end = blob.rfind(b"PK\x05\x06", max(0, len(blob) - 65_557))
        if end < 0 or len(blob) < end + 22:
            raise fail("not a btf checkpoint (not an .npz zip archive)")
        (count,) = struct.unpack("<H", blob[end + 10 : end + 12])
        if count > MAX_MEMBERS:
            raise fail(f"holds {count} entries; a btf checkpoint has at most {MAX_MEMBERS}")
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(blob))
        except zipfile.BadZipFile:
            raise fail("not a btf checkpoint (not an .npz zip archive)") from None
        infos = self._zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise fail(f"holds more than {MAX_MEMBERS} entries")
        for info in infos:
            if info.flag_bits & 0x1:
                raise fail(f"entry {info.filename!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise fail(f"entry {info.filename!r} uses an unsupported compression method")
            if not info.filename.endswith(".npy"):
                raise fail(f"entry {info.filename!r} is not an .npy array")
        self._infos, self._fail = infos, fail
        self.names = [info.filename[:-4] for info in infos]
        self.budget = MAX_UNCOMPRESSED_BYTES

    def arrays(
        self, keep=None, shapes: dict[str, tuple[int, ...]] | None = None, limit: int | None = None
    ) -> dict[str, np.ndarray]:
        """The members whose names ``keep(name)`` accepts (all by default), as arrays.

        ``shapes`` names members whose shape is known in advance: a header that declares any
        other shape is refused before the member's payload is inflated. ``limit`` caps the
        bytes this call may inflate, within what the archive's budget has left.
        """
        arrays, allowed = {}, self.budget if limit is None else min(limit, self.budget)
        for info in self._infos:
            name = info.filename[:-4]
            if keep is not None and not keep(name):
                continue  # never inflated
            with self._zip.open(info) as member:
                arrays[name] = array = self._inflate(member, info.filename, (shapes or {}).get(name), allowed)
            allowed -= array.nbytes
            self.budget -= array.nbytes
        return arrays

    def _inflate(self, member, entry: str, want: tuple[int, ...] | None, allowed: int) -> np.ndarray:
        """One member, streamed into an array of the size its header declares, never past the budget.

        The directory's sizes are not trusted, only what actually inflates: each read inflates
        at most ``_CHUNK`` bytes (zipfile caps the decompressor's output by the size asked for),
        the header's size is checked against the budget before the array is allocated, and the
        payload must fill it exactly. A directory that understates a size ends the stream early
        (and fails its CRC); one that overstates it never gets past the budget.
        """
        fail = self._fail
        head = member.read(_CHUNK)
        shape, fortran, dtype, offset = _header(entry, head, fail)
        if want is not None and tuple(shape) != tuple(want):
            raise fail(f"{entry[:-4]} has shape {tuple(shape)} {dtype}, but the model needs {tuple(want)}")
        count = 1
        for n in shape:
            if int(n) < 0:
                raise fail(f"entry {entry!r} declares a negative shape {shape}")
            count *= int(n)
        nbytes = count * dtype.itemsize
        if nbytes > allowed:
            raise fail(
                f"entry {entry!r} declares shape {shape} ({nbytes:,} bytes): the entries would inflate past the limit"
            )
        raw = np.empty(nbytes, np.uint8)
        filled, part = 0, memoryview(head)[offset:]
        while part:
            if filled + len(part) > nbytes:
                raise fail(f"entry {entry!r} declares shape {shape} ({nbytes:,} bytes) but holds more")
            raw[filled : filled + len(part)] = np.frombuffer(part, np.uint8)
            filled += len(part)
            part = member.read(min(_CHUNK, nbytes - filled + 1))  # one byte more: a payload too long shows
        if filled != nbytes:
            raise fail(f"entry {entry!r} declares shape {shape} ({nbytes:,} bytes) but holds {filled:,}")
        return raw.view(dtype).reshape(shape, order="F" if fortran else "C")


_CHUNK = 1 << 20


def _header(entry: str, head: bytes, fail) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran order, dtype, payload offset) from the start of an ``.npy`` member, refusing object arrays."""
    if head[:6] != b"\x93NUMPY":
        raise fail(f"entry {entry!r} is not an .npy array (no NPY magic)")
    stream = io.BytesIO(head)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise fail(f"entry {entry!r} has an unsupported .npy version {version}")
    if dtype.hasobject:
        raise fail(f"entry {entry!r} is not a plain array (it holds Python objects); refusing to unpickle")
    return shape, fortran, dtype, stream.tell()


def members(blob: bytes, fail, only: set[str] | None = None, limit: int | None = None) -> dict[str, np.ndarray]:
    """Every ``.npy`` member (or those named in ``only``) as an array, each inflated through a hard cap."""
    return Archive(blob, fail).arrays(None if only is None else only.__contains__, limit=limit)
