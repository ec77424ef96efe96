"""The S3 model store: ``s3://bucket/prefix/model-vN.npz``, with boto3 imported only here.

Every interaction (retries included) has one deadline: ``timeout`` seconds, or less when a
request's shared deadline (``btf.store.deadline``) comes sooner. The botocore call runs on a
daemon thread that is cut at the deadline (btf.store.s3calls), so an endpoint that accepts and
never answers, or trickles a byte at a time, costs the caller and the thread the deadline and
no more. A body is read in chunks that stop at the deadline and at the size limit, which is
checked from the response headers before any of the body is read. A listing entry without
an ETag gets one made from its size and date.

Writes are conditional PUTs: ``IfNoneMatch='*'`` to create (S3 refuses with 412 if the key
exists, so a racing trainer takes the next number instead of overwriting) and
``IfMatch=<etag>`` to update the alias (412 if it changed, so a racing promoter retries).
Every upload carries its SHA-256, which S3 checks on receipt. Reads revalidate with
``IfNoneMatch=<etag>``, so an unchanged object is never downloaded twice. Every AWS
failure becomes a StoreUnavailable or VersionNotFound that says what to fix.
"""

from __future__ import annotations

import base64
import hashlib
import time

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from btf import store
from btf.store import (
    MAX_OBJECT_BYTES,
    BaseStore,
    Blob,
    Conflict,
    InvalidObject,
    ObjectInfo,
    StoreError,
    StoreUnavailable,
    VersionNotFound,
    s3calls,
    time_left,
)

# botocore's parsed service models (hundreds of KB of JSON) are the slow part of building a
# client. Sharing the loader lets a fresh session (fresh credentials, as after a SnapStart
# restore) build its client in milliseconds.
_LOADER = None
_CHUNK = 1 << 20


def _new_session() -> boto3.session.Session:
    global _LOADER
    core = botocore.session.get_session()
    if _LOADER is None:
        _LOADER = core.get_component("data_loader")
    else:
        core.register_component("data_loader", _LOADER)
    return boto3.session.Session(botocore_session=core)


_DENIED = {"AccessDenied", "403", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}
_BUSY = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "503",
    "ServiceUnavailable",
    "RequestTimeout",
    "InternalError",
}
_TAKEN = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
# The prefix of an ETag made here for an object S3 (or a compatible store) listed without one.
_MADE = "btf:"


def _made_etag(size: int, modified: object) -> str:
    return f"{_MADE}{size}:{modified}"


def _info(obj: dict) -> ObjectInfo:
    """A listing entry: its ETag, or one made from its size and date when the store gave none."""
    size = obj.get("Size")
    size = size if isinstance(size, int) and size >= 0 else 0
    etag = obj.get("ETag")
    return ObjectInfo(etag if isinstance(etag, str) and etag else _made_etag(size, obj.get("LastModified")), size)


class S3Store(BaseStore):
    def __init__(self, uri: str, *, endpoint_url: str | None = None, timeout: float = 5.0, client=None) -> None:
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        if not bucket:
            raise StoreError(f"model store {uri!r} names no bucket: use s3://bucket/prefix/")
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.uri = f"s3://{bucket}/{self.prefix}"
        self.timeout = timeout
        config = Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        try:
            # A session of its own: credentials and region are read now, not from a process-wide default.
            self.client = client or _new_session().client("s3", endpoint_url=endpoint_url, config=config)
        except (BotoCoreError, ValueError) as exc:  # unknown profile, malformed endpoint URL, ...
            raise StoreUnavailable(f"cannot set up S3 access for {self.uri}: {exc}") from None
        self.cuttable = s3calls.watch(self.client)

    def _explain(self, exc: Exception, key: str | None = None) -> StoreError:
        where = f"s3://{self.bucket}/{key or self.prefix}"
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "NoSuchBucket":
                return StoreUnavailable(f"bucket {self.bucket!r} does not exist (check the name and the region)")
            if code in ("NoSuchKey", "404", "NotFound"):
                return VersionNotFound(f"{where} not found")
            if code in _DENIED:
                return StoreUnavailable(f"access denied to {where} ({code}): check the credentials and IAM policy")
            if code in _BUSY:
                return StoreUnavailable(f"S3 is throttling or unavailable for {where} ({code}); try again shortly")
            return StoreUnavailable(f"S3 error on {where}: {code} {exc.response.get('Error', {}).get('Message', '')}")
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return StoreUnavailable(
                "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        if isinstance(exc, (EndpointConnectionError, ConnectionError)):
            return StoreUnavailable(f"cannot reach the S3 endpoint for {where}: {exc}")
        return StoreUnavailable(f"S3 request for {where} failed: {exc}")

    def _bounded(self, what: str, call, *args):
        """Run ``call(deadline, *args)`` on a thread of its own, cut at the deadline."""
        return s3calls.run(f"{what} for {self.uri}", time_left(self.timeout), call, *args)

    def list_objects(self) -> dict[str, ObjectInfo]:
        return self._bounded("a listing", self._list)

    def _list(self, deadline: float) -> dict[str, ObjectInfo]:
        found = {}
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
                for obj in page.get("Contents", []):
                    key = obj.get("Key")
                    name = key[len(self.prefix) :] if isinstance(key, str) and key.startswith(self.prefix) else "/"
                    if "/" not in name:
                        found[name] = _info(obj)
                if len(found) > store.MAX_LISTED_OBJECTS:
                    raise StoreUnavailable(f"{self.uri} holds over {store.MAX_LISTED_OBJECTS:,} objects")
                if time.monotonic() > deadline:
                    raise StoreUnavailable(f"listing {self.uri} took longer than {self.timeout:g}s")
        except (ClientError, BotoCoreError) as exc:
            raise self._explain(exc) from None
        return found

    def get_object(self, name: str, etag: str | None = None, max_bytes: int | None = None) -> Blob | None:
        if etag and etag.startswith(_MADE):
            etag = None  # S3 never made that tag, so it cannot revalidate against it
        limit = max_bytes or MAX_OBJECT_BYTES
        return self._bounded(f"a read of {name}", self._get, name, etag, limit)

    def _get(self, deadline: float, name: str, etag: str | None, max_bytes: int) -> Blob | None:
        key = self.prefix + name
        kwargs = {"Bucket": self.bucket, "Key": key, "ChecksumMode": "ENABLED"}
        if etag:
            kwargs["IfNoneMatch"] = etag
        try:
            response = self.client.get_object(**kwargs)
            size = int(response.get("ContentLength") or 0)
            if size > max_bytes:
                response["Body"].close()
                raise InvalidObject(
                    f"s3://{self.bucket}/{key} is {size:,} bytes; no such object may exceed {max_bytes:,}"
                )
            data = self._body(response["Body"], key, deadline, max_bytes)
            return Blob(None, data, response.get("ETag") or _made_etag(len(data), response.get("LastModified")))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("304", "NotModified"):
                return None
            raise self._explain(exc, key) from None
        except BotoCoreError as exc:
            raise self._explain(exc, key) from None

    def _body(self, body, key: str, deadline: float, max_bytes: int) -> bytes:
        chunks, size = [], 0
        try:
            while chunk := body.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise InvalidObject(
                        f"s3://{self.bucket}/{key} is over {max_bytes:,} bytes; no such object may exceed it"
                    )
                if time.monotonic() > deadline:
                    raise StoreUnavailable(f"s3://{self.bucket}/{key} took longer than {self.timeout:g}s to download")
                chunks.append(chunk)
        finally:
            body.close()
        return b"".join(chunks)

    def put_object(self, name: str, data: bytes, *, if_match: str | None = None, create_only: bool = False) -> str:
        return self._bounded(f"a write of {name}", self._put, name, data, if_match, create_only)

    def _put(self, deadline: float, name: str, data: bytes, if_match: str | None, create_only: bool) -> str:
        key = self.prefix + name
        kwargs = {"Bucket": self.bucket, "Key": key, "Body": data, "ContentType": "application/octet-stream"}
        # S3 checks the SHA-256 on receipt and refuses the PUT if the bytes it got differ.
        kwargs["ChecksumSHA256"] = base64.b64encode(hashlib.sha256(data).digest()).decode()
        if create_only:
            kwargs["IfNoneMatch"] = "*"
        elif if_match is not None:
            kwargs["IfMatch"] = if_match
        try:
            return self.client.put_object(**kwargs)["ETag"]
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _TAKEN:
                raise Conflict(f"s3://{self.bucket}/{key} exists or changed since it was read") from None
            raise self._explain(exc, key) from None
        except BotoCoreError as exc:
            raise self._explain(exc, key) from None

    def delete_object(self, name: str) -> None:
        self._bounded(f"a delete of {name}", self._delete, name)

    def _delete(self, deadline: float, name: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + name)
        except (ClientError, BotoCoreError) as exc:
            raise self._explain(exc, self.prefix + name) from None
