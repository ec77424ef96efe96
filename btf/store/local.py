"""The folder model store: ``model-vN.npz`` files in one directory (the repo's ``models/`` by default).

Publishing writes a temp file in the same folder, fsyncs it, then hard-links it to the final
name: ``link`` fails if the name exists, so two publishers can never overwrite each other, and
a reader never sees a half-written file. A publisher killed midway leaves at most a
``.model-*.tmp`` file, which no reader lists.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

from btf import store
from btf.store import (
    MAX_PUBLISH_ATTEMPTS,
    Blob,
    InvalidObject,
    StoreError,
    StoreUnavailable,
    VersionNotFound,
    key_for,
    next_version,
    parse_version,
)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


class FolderStore:
    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.uri = str(self.folder)

    @staticmethod
    def _etag(stat: os.stat_result) -> str:
        return f"{stat.st_mtime_ns:x}-{stat.st_size:x}-{stat.st_ino:x}"

    def versions(self) -> dict[int, str]:
        if not self.folder.is_dir():
            if self.folder.exists():
                raise StoreUnavailable(f"model store {self.folder} is not a folder")
            return {}  # nothing published yet; publish() creates the folder
        found = {}
        for entry in os.scandir(self.folder):
            version = parse_version(entry.name)
            if version is not None and entry.is_file():
                found[version] = self._etag(entry.stat())
        return found

    def read(self, version: int, etag: str | None = None, max_bytes: int | None = None) -> Blob | None:
        path = self.folder / key_for(version)
        max_bytes = max_bytes or store.MAX_OBJECT_BYTES
        try:
            # O_NONBLOCK: opening a named pipe must not wait for a writer; it is refused below.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise VersionNotFound(f"model version {version} not found in {self.folder}") from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {path}: {exc.strerror}") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            # Not listed by versions() either: a directory, device or pipe is no version.
            raise VersionNotFound(f"{path} is not a regular file, so not a model version")
        with os.fdopen(fd, "rb") as f:
            if info.st_size > max_bytes:
                raise InvalidObject(f"{path} is {info.st_size:,} bytes; no model may exceed {max_bytes:,}")
            current = self._etag(info)
            if etag == current:
                return None
            try:
                data = f.read(max_bytes + 1)
            except OSError as exc:
                raise StoreUnavailable(f"cannot read {path}: {exc.strerror}") from None
        if len(data) > max_bytes:  # grew while we read it
            raise InvalidObject(f"{path} is over {max_bytes:,} bytes; no model may exceed that")
        return Blob(version, data, current)

    def publish(self, data: bytes) -> int:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".model-", suffix=".tmp", dir=self.folder)
        except OSError as exc:
            raise StoreUnavailable(f"cannot write to model store {self.folder}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644 & ~_UMASK)  # mkstemp makes 0600; models are meant to be shared
            if hashlib.sha256(Path(tmp).read_bytes()).digest() != hashlib.sha256(data).digest():
                raise StoreError(f"checksum mismatch writing {tmp}: the disk returned other bytes")
            version = next_version(max(self.versions(), default=0))
            for _ in range(MAX_PUBLISH_ATTEMPTS):
                try:
                    os.link(tmp, self.folder / key_for(version))
                    return version
                except FileExistsError:
                    version = next_version(version)  # another publisher took it; never overwrite
            raise StoreError(f"gave up publishing after {MAX_PUBLISH_ATTEMPTS} taken version numbers")
        except OSError as exc:
            raise StoreUnavailable(f"cannot write to model store {self.folder}: {exc.strerror}") from None
        finally:
            Path(tmp).unlink(missing_ok=True)
