"""One atomic file write: a temp file in the same folder, fsynced, made readable, then renamed or linked into place.

Used by checkpoint files and by the folder model store, so a reader never sees half a file
and a crash leaves at most a hidden ``.NAME.*.tmp`` beside it. ``exclusive=True`` links
instead of renaming, so an existing file is never replaced (FileExistsError instead).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def write_atomic(path: str | os.PathLike, data: bytes, *, exclusive: bool = False, verify: bool = False) -> None:
    """Write ``data`` to ``path`` all at once; refuse to replace it if ``exclusive``; re-read to check if ``verify``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644 & ~_UMASK)  # mkstemp makes 0600; models are meant to be read by others
        if verify and hashlib.sha256(Path(tmp).read_bytes()).digest() != hashlib.sha256(data).digest():
            raise OSError(f"checksum mismatch writing {tmp}: the disk returned other bytes")
        if exclusive:
            os.link(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
