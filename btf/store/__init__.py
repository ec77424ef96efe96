"""A versioned model store: ``model-v1.npz``, ``model-v2.npz``, ... in a folder or under an S3 prefix.

Shared by the training script (publish), the ``scripts.models`` command (promote, roll back,
delete) and the predict function (list and read). It lives in btf so each can import it
without importing the others. It is generic bytes storage with numbered names: it knows
nothing of models beyond the size limit, and ``import btf`` does not import it; boto3 is
imported only when an ``s3://`` store is opened.

Each kind of store gives four primitives (list, get, conditional put, delete); versions,
reads and publishing are built once, here, on top of them. Guarantees, for both kinds: a
published version is never overwritten (exclusive create, or ``IfNoneMatch='*'`` on S3), a
racing publisher takes the next number, a version is visible only once its bytes are
complete and verified, and a conditional put (``if_match``) never loses a racing update.

Every store call has a deadline: the store's own ``timeout``, or sooner inside
``with deadline(seconds):``, which gives all the calls of one request one deadline between them.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from btf.errors import BtfError

# The one version range, for publishers and readers alike: a version the reader would not
# list is never published.
MAX_VERSION = 999_999_999
_NAME = re.compile(r"^model-v([1-9][0-9]{0,8})\.npz$")
MAX_PUBLISH_ATTEMPTS = 20
# No model object larger than this is ever read: its size is checked before its bytes.
MAX_OBJECT_BYTES = 128 * 1024 * 1024
# A listing past this many objects is refused rather than held in memory: a model store
# holds versions and their sidecars, not a million files.
MAX_LISTED_OBJECTS = 100_000
# Sidecars and the alias are small JSON documents; anything larger is not one of ours.
MAX_SMALL_BYTES = 1024 * 1024


_DEADLINE: ContextVar[float | None] = ContextVar("btf_store_deadline", default=None)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every store call made inside (on this thread or context) shares one deadline, ``seconds`` from now.

    An enclosing deadline that comes sooner still holds. A call made once it has passed fails
    at once with StoreUnavailable, without reaching the store.
    """
    at = time.monotonic() + seconds
    outer = _DEADLINE.get()
    token = _DEADLINE.set(at if outer is None else min(at, outer))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left(timeout: float) -> float:
    """How long a call may take now: ``timeout``, or less when the shared deadline comes sooner (0 when passed)."""
    at = _DEADLINE.get()
    return timeout if at is None else max(0.0, min(timeout, at - time.monotonic()))


class StoreError(BtfError):
    """Base for store failures."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or read: missing bucket, no access, no credentials, network."""


class VersionNotFound(StoreError, LookupError):
    """The asked-for version (or object) does not exist in the store."""


class SpecialFile(VersionNotFound):
    """The name is taken by something that is not a regular file (a folder, pipe or device): no object."""


class InvalidObject(StoreError):
    """The version exists but cannot be a model: larger than the limit, or not a regular file."""


class StoreFull(StoreError):
    """Every version number up to MAX_VERSION is taken."""


class Conflict(StoreError):
    """A conditional write lost: the object exists already, or changed since it was read."""


@dataclass(frozen=True)
class Blob:
    """An object's bytes and the tag that identifies this exact content (S3 ETag or stat)."""

    version: int | None
    data: bytes
    etag: str


@dataclass(frozen=True)
class ObjectInfo:
    etag: str
    size: int


def display_path(path: str | Path) -> str:
    """A path as messages show it: relative to the working directory when it is under it."""
    try:
        relative = Path(path).resolve().relative_to(Path.cwd().resolve())
    except (ValueError, OSError):
        return str(path)
    return str(relative) if str(relative) != "." else "."


def key_for(version: int) -> str:
    return f"model-v{version}.npz"


def sidecar_for(version: int) -> str:
    """The small JSON summary published beside a version, so listing never downloads models."""
    return f"model-v{version}.json"


def parse_version(name: str) -> int | None:
    """``model-v12.npz`` -> 12; anything else (including ``model-v01.npz``) -> None."""
    match = _NAME.match(name)
    return int(match.group(1)) if match else None


def next_version(taken: int) -> int:
    """The version after ``taken``, or StoreFull at the top of the range."""
    if taken >= MAX_VERSION:
        raise StoreFull(f"version {taken} is the last one a store can hold ({MAX_VERSION}); use a new store or prefix")
    return taken + 1


class BaseStore:
    """Versions, reads and publishing, on the four primitives each kind of store provides."""

    uri: str

    # ---- the primitives
    def list_objects(self) -> dict[str, ObjectInfo]:
        """Every object directly in the store: name -> etag and size."""
        raise NotImplementedError

    def get_object(self, name: str, etag: str | None = None, max_bytes: int | None = None) -> Blob | None:
        """The object's bytes, or None when ``etag`` still matches (nothing downloaded).

        Raises VersionNotFound if absent, InvalidObject (without reading it) if over ``max_bytes``.
        """
        raise NotImplementedError

    def put_object(self, name: str, data: bytes, *, if_match: str | None = None, create_only: bool = False) -> str:
        """Write ``name``; with ``create_only`` only if absent, with ``if_match`` only if unchanged. Conflict otherwise."""
        raise NotImplementedError

    def delete_object(self, name: str) -> None:
        raise NotImplementedError

    # ---- versions, on top of them
    def versions(self) -> dict[int, str]:
        """Every published version and its current etag."""
        found = {}
        for name, info in self.list_objects().items():
            version = parse_version(name)
            if version is not None:
                found[version] = info.etag
        return found

    def read(self, version: int, etag: str | None = None, max_bytes: int | None = None) -> Blob | None:
        """The version's bytes, or None when ``etag`` still matches."""
        try:
            blob = self.get_object(key_for(version), etag, max_bytes or MAX_OBJECT_BYTES)
        except VersionNotFound:
            raise VersionNotFound(f"model version {version} does not exist in {self.uri}") from None
        return None if blob is None else Blob(version, blob.data, blob.etag)

    def publish(self, data: bytes) -> int:
        """Store ``data`` as the next free version, verify what readers will get, and return its number."""
        version = next_version(max(self.versions(), default=0))
        for _ in range(MAX_PUBLISH_ATTEMPTS):
            try:
                self.put_object(key_for(version), data, create_only=True)
            except Conflict:
                version = next_version(version)  # another publisher took it; never overwrite
                continue
            stored = self.get_object(key_for(version), max_bytes=len(data) + 1)
            if stored is None or hashlib.sha256(stored.data).digest() != hashlib.sha256(data).digest():
                where = f"{self.uri.rstrip('/')}/{key_for(version)}"
                raise StoreError(f"{where}: the stored bytes differ from the uploaded ones")
            return version
        raise StoreError(f"gave up publishing after {MAX_PUBLISH_ATTEMPTS} taken version numbers")


def open_store(
    uri: str, *, endpoint_url: str | None = None, timeout: float = 5.0, seed_from: str | None = None
) -> BaseStore:
    """A store for ``s3://bucket/prefix/`` or a local folder path.

    ``timeout`` is the deadline of each store interaction, retries included. With no
    ``endpoint_url``, botocore's own ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` apply.
    A folder store that does not exist yet is first seeded from ``seed_from`` (a folder of
    published models), if given: the commands and the app pass it for their default store.
    """
    if uri.startswith("s3://"):
        from btf.store.s3 import S3Store

        return S3Store(uri, endpoint_url=endpoint_url, timeout=timeout)
    if "://" in uri:
        raise StoreError(f"unsupported model store {uri!r}: use s3://bucket/prefix/ or a folder path")
    from btf.store.local import FolderStore

    return FolderStore(uri, seed_from=seed_from)
