"""A versioned model store: ``model-v1.npz``, ``model-v2.npz``, ... in a folder or under an S3 prefix.

Shared by the training script (publish) and the predict function (list and read). It lives in
btf so both can import it without either importing the other; it is not imported by
``import btf``, and boto3 is imported only when an ``s3://`` store is opened.

Guarantees, for both kinds: a published version is never overwritten (exclusive create, or
``IfNoneMatch='*'`` on S3), a racing publisher simply takes the next number, and a version is
only visible once its bytes are complete and their SHA-256 verified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from btf.errors import BtfError

# The one version range, for publishers and readers alike: a version the reader would not
# list is never published.
MAX_VERSION = 999_999_999
_NAME = re.compile(r"^model-v([1-9][0-9]{0,8})\.npz$")
MAX_PUBLISH_ATTEMPTS = 20
# No model object larger than this is ever read: its size is checked before its bytes.
MAX_OBJECT_BYTES = 128 * 1024 * 1024


class StoreError(BtfError):
    """Base for store failures."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or read: missing bucket, no access, no credentials, network."""


class VersionNotFound(StoreError, LookupError):
    """The asked-for version does not exist in the store."""


class InvalidObject(StoreError):
    """The version exists but cannot be a model: larger than the limit, or not a regular file."""


class StoreFull(StoreError):
    """Every version number up to MAX_VERSION is taken."""


@dataclass(frozen=True)
class Blob:
    """One version's bytes and the tag that identifies this exact content (S3 ETag or stat)."""

    version: int
    data: bytes
    etag: str


class ModelStore(Protocol):
    uri: str

    def versions(self) -> dict[int, str]:
        """Every published version and its current etag."""
        ...

    def read(self, version: int, etag: str | None = None, max_bytes: int | None = None) -> Blob | None:
        """The version's bytes, or None when ``etag`` still matches (nothing downloaded).

        Raises InvalidObject, without reading the bytes, for an object over ``max_bytes``.
        """
        ...

    def publish(self, data: bytes) -> int:
        """Store ``data`` as the next free version and return its number."""
        ...


def key_for(version: int) -> str:
    return f"model-v{version}.npz"


def next_version(taken: int) -> int:
    """The version after ``taken``, or StoreFull at the top of the range."""
    if taken >= MAX_VERSION:
        raise StoreFull(f"version {taken} is the last one a store can hold ({MAX_VERSION}); use a new store or prefix")
    return taken + 1


def parse_version(name: str) -> int | None:
    """``model-v12.npz`` -> 12; anything else (including ``model-v01.npz``) -> None."""
    match = _NAME.match(name)
    return int(match.group(1)) if match else None


def open_store(uri: str, *, endpoint_url: str | None = None, timeout: float = 5.0) -> ModelStore:
    """A store for ``s3://bucket/prefix/`` or a local folder path.

    ``timeout`` is the deadline of each store interaction, retries included. With no
    ``endpoint_url``, botocore's own ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` apply.
    """
    if uri.startswith("s3://"):
        from btf.store.s3 import S3Store

        return S3Store(uri, endpoint_url=endpoint_url, timeout=timeout)
    if "://" in uri:
        raise StoreError(f"unsupported model store {uri!r}: use s3://bucket/prefix/ or a folder path")
    from btf.store.local import FolderStore

    return FolderStore(uri)
