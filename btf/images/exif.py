"""EXIF orientation for PNG (``eXIf`` chunk) and WebP (``EXIF`` chunk), which OpenCV leaves unapplied.

Reads only the Orientation tag of IFD0; anything absent, unknown or malformed means upright.
"""

from __future__ import annotations

import struct

import numpy as np


def orientation_of(exif: bytes) -> int:
    """The EXIF orientation (1-8) in an EXIF payload (a PNG ``eXIf`` or WebP ``EXIF`` chunk); 1 when unreadable.

    btf.images.imageheader finds the chunk, in its capped walk of the file.
    """
    try:
        return _orientation_tag(exif) if exif else 1
    except (struct.error, IndexError, ValueError):
        return 1


def _orientation_tag(exif: bytes) -> int:
    if exif.startswith(b"Exif\0\0"):
        exif = exif[6:]
    order = {b"II": "<", b"MM": ">"}.get(exif[:2])
    if order is None:
        return 1
    (ifd,) = struct.unpack(order + "I", exif[4:8])
    (count,) = struct.unpack(order + "H", exif[ifd : ifd + 2])
    for n in range(min(count, 512)):
        at = ifd + 2 + 12 * n
        tag, kind = struct.unpack(order + "HH", exif[at : at + 4])
        if tag == 0x0112 and kind == 3:
            (value,) = struct.unpack(order + "H", exif[at + 8 : at + 10])
            return value if 1 <= value <= 8 else 1
    return 1


def orient(image: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation, so the image is upright as a viewer shows it."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.T,
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a[::-1, ::-1].T,
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return image if op is None else np.ascontiguousarray(op(image))
