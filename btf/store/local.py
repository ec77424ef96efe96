"""The folder model store: ``model-vN.npz`` files (and their sidecars and alias) in one directory.

Writes go through btf.atomic: a temp file in the same folder, fsynced, then hard-linked into
place for a create (``link`` fails if the name exists, so two publishers never overwrite each
other) or renamed over the old file for an update. A conditional update holds an exclusive
``flock`` on a lock file while it compares etags and renames, so two promoters on one machine
cannot lose an update (the folder store is for one machine; S3 is for sharing). Reads open
regular files only, without blocking on pipes, and check the size before reading.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
from pathlib import Path

from btf import store
from btf.atomic import write_atomic
from btf.store import (
    MAX_OBJECT_BYTES,
    BaseStore,
    Blob,
    Conflict,
    InvalidObject,
    ObjectInfo,
    SpecialFile,
    StoreUnavailable,
    VersionNotFound,
    display_path,
)


class FolderStore(BaseStore):
    def __init__(self, folder: str | os.PathLike, seed_from: str | None = None) -> None:
        self.folder = Path(folder)
        self.uri = display_path(self.folder)
        self.seed_from = seed_from

    @staticmethod
    def _etag(info: os.stat_result) -> str:
        return f"{info.st_mtime_ns:x}-{info.st_size:x}-{info.st_ino:x}"

    def _ready(self) -> bool:
        """Whether the folder exists (seeding it from the shipped models first, if this is the default store)."""
        if not self.folder.exists() and self.seed_from and Path(self.seed_from).is_dir():
            self._seed(Path(self.seed_from))
        if self.folder.exists() and not self.folder.is_dir():
            raise StoreUnavailable(f"model store {self.folder} is not a folder")
        return self.folder.is_dir()

    def _seed(self, source: Path) -> None:
        staging = self.folder.with_name(f".{self.folder.name}.seeding-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for entry in source.iterdir():
            if entry.is_file() and (entry.name.startswith("model-v") or entry.name == "latest.json"):
                shutil.copy2(entry, staging / entry.name)
        try:
            staging.rename(self.folder)  # all at once: a racing opener sees the whole seed or none
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # another process seeded it first

    def list_objects(self) -> dict[str, ObjectInfo]:
        if not self._ready():
            return {}  # nothing published yet; the first write creates the folder
        found = {}
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if not entry.name.startswith(".") and entry.is_file():
                    info = entry.stat()
                    found[entry.name] = ObjectInfo(self._etag(info), info.st_size)
                    if len(found) > store.MAX_LISTED_OBJECTS:
                        raise StoreUnavailable(f"{self.folder} holds over {store.MAX_LISTED_OBJECTS:,} files")
        return found

    def get_object(self, name: str, etag: str | None = None, max_bytes: int | None = None) -> Blob | None:
        max_bytes = max_bytes or MAX_OBJECT_BYTES
        path = self.folder / name
        self._ready()
        try:
            # O_NONBLOCK: opening a named pipe must not wait for a writer; it is refused below.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except IsADirectoryError:
            raise SpecialFile(f"{name} in {self.uri} is a folder, so not a stored object") from None
        except (FileNotFoundError, NotADirectoryError):
            raise VersionNotFound(f"{name} not found in {self.uri}") from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {path}: {exc.strerror}") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            # Not listed either: a directory, device or pipe is no version.
            raise SpecialFile(f"{name} in {self.uri} is not a regular file, so not a stored object")
        with os.fdopen(fd, "rb") as f:
            if info.st_size > max_bytes:
                raise InvalidObject(f"{path} is {info.st_size:,} bytes; no such object may exceed {max_bytes:,}")
            current = self._etag(info)
            if etag == current:
                return None
            try:
                # Ask for what the file holds (plus one byte, to notice growth): read(n) allocates n up front.
                data = f.read(info.st_size + 1)
            except OSError as exc:
                raise StoreUnavailable(f"cannot read {path}: {exc.strerror}") from None
        if len(data) != info.st_size:  # replaced or growing while we read it: try again later
            raise StoreUnavailable(f"{path} changed while it was being read")
        return Blob(None, data, current)

    def put_object(self, name: str, data: bytes, *, if_match: str | None = None, create_only: bool = False) -> str:
        path = self.folder / name
        try:
            self._ready()
            self.folder.mkdir(parents=True, exist_ok=True)
            if create_only:
                write_atomic(path, data, exclusive=True, verify=True)
            else:
                with open(self.folder / ".lock", "a") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
                    current = self._etag(path.stat()) if path.exists() else None
                    if if_match is not None and current != if_match:
                        raise Conflict(f"{path} changed since it was read")
                    write_atomic(path, data, verify=True)
            return self._etag(path.stat())
        except FileExistsError:
            raise Conflict(f"{path} exists already") from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot write to model store {self.folder}: {exc.strerror or exc}") from None

    def delete_object(self, name: str) -> None:
        try:
            (self.folder / name).unlink()
        except FileNotFoundError:
            raise VersionNotFound(f"{name} not found in {self.uri}") from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot delete {self.folder / name}: {exc.strerror}") from None
