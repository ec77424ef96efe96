"""The registry on top of a store: publishing is not promoting.

``latest.json`` in the store is the alias: which version ``latest`` means, and the history of
promotions (who, when, from, to, why), newest last. It is only ever written with a conditional
put on the etag it was read at, so two promoters can never lose an update: the loser re-reads
and tries again. A store without the alias behaves as before it existed: its highest version
is ``latest``, and the first promotion creates the alias.

Each published version also gets a small sidecar, ``model-vN.json`` (sizes, accuracy,
creation time, bytes), so listing versions never downloads a model. numpy is not needed here.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import random
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from btf.store import (
    MAX_OBJECT_BYTES,
    MAX_SMALL_BYTES,
    BaseStore,
    Conflict,
    StoreError,
    VersionNotFound,
    key_for,
    sidecar_for,
)

ALIAS = "latest.json"
_SIDECAR_FIELDS = {
    "sizes": list,
    "layers": list,
    "activation": str,
    "cost": str,
    "epochs": int,
    "test_accuracy": (int, float),
    "val_accuracy": (int, float),
    "created": str,
    "bytes": int,
}
# The alias keeps the most recent promotions; older ones are dropped so it stays small.
MAX_HISTORY = 500
_ATTEMPTS = 50


@dataclass
class Alias:
    latest: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    etag: str | None = None  # None: the store has no alias yet

    def previous(self) -> int | None:
        """The version that was latest before the current one was promoted, from the history."""
        for entry in reversed(self.history):
            if entry.get("to") == self.latest and isinstance(entry.get("from"), int):
                return entry["from"]
        return None


def parse_alias(data: bytes, etag: str | None = None) -> Alias:
    """An alias document -> Alias; a malformed one is a StoreError that says so."""
    try:
        doc = json.loads(data, parse_constant=lambda _: None)
        latest, history = doc["latest"], doc.get("history", [])
        if not (isinstance(latest, int) and not isinstance(latest, bool) and latest >= 1):
            raise ValueError("latest is not a version number")
        if not isinstance(history, list) or not all(isinstance(e, dict) for e in history):
            raise ValueError("history is not a list of entries")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise StoreError(f"the alias {ALIAS} is malformed ({exc}); fix or delete it") from None
    return Alias(latest, history, etag)


def read_alias(store: BaseStore, etag: str | None = None) -> Alias | None:
    """The store's alias (Alias with etag None if there is none); None if ``etag`` still matches."""
    try:
        blob = store.get_object(ALIAS, etag, MAX_SMALL_BYTES)
    except VersionNotFound:
        return Alias()
    return None if blob is None else parse_alias(blob.data, blob.etag)


def who() -> str:
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except (OSError, KeyError):
        return "unknown"


def promote(
    store: BaseStore, version: int, *, why: str, by: str | None = None, previous: int | None = None
) -> tuple[int | None, Alias]:
    """Point ``latest`` at ``version`` (which must exist); returns (the version it replaced, the new alias).

    In a store without an alias, ``latest`` was its highest version; a publisher that has just
    added a higher one passes ``previous``, the version that was ``latest`` before it published.
    """
    versions = store.versions()
    if version not in versions:
        raise VersionNotFound(f"model version {version} does not exist in {store.uri}")
    for attempt in range(_ATTEMPTS):
        alias = read_alias(store)
        implicit = previous if previous is not None else max(versions, default=None)
        before = alias.latest if alias.etag is not None else implicit
        entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "by": by or who(), "from": before}
        entry.update({"to": version, "why": why})
        history = [*alias.history, entry][-MAX_HISTORY:]
        data = json.dumps({"latest": version, "history": history}, indent=1).encode()
        try:
            etag = store.put_object(ALIAS, data, if_match=alias.etag, create_only=alias.etag is None)
        except Conflict:
            time.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # noqa: S311 - jitter, not crypto
            continue
        return before, Alias(version, history, etag)
    raise StoreError(f"gave up promoting v{version} after {_ATTEMPTS} racing updates of {ALIAS}")


def latest_version(store: BaseStore) -> int | None:
    """What ``latest`` means in the store: the alias, or the highest version when there is none."""
    alias = read_alias(store)
    return alias.latest if alias.etag is not None else max(store.versions(), default=None)


def summary_row(summary: dict[str, Any], size: int) -> dict[str, Any]:
    """What a listing shows of a version, from ``btf.checkpoint.summary`` of its bytes: the sidecar's content."""
    meta = summary.get("metadata") or {}
    row = {key: summary.get(key) for key in ("sizes", "layers", "activation", "cost", "epochs")}
    row.update({key: meta.get(key) for key in ("test_accuracy", "val_accuracy", "created")})
    row["bytes"] = size
    return {k: v for k, v in row.items() if v is not None or k in ("test_accuracy", "created")}


def write_sidecar(store: BaseStore, version: int, summary: dict[str, Any]) -> None:
    """Publish the version's summary beside it (never overwriting one)."""
    store.put_object(sidecar_for(version), json.dumps(summary, allow_nan=False).encode(), create_only=True)


def read_sidecar(store: BaseStore, version: int) -> dict[str, Any] | None:
    """The version's summary, or None when it has no readable sidecar (older stores)."""
    try:
        blob = store.get_object(sidecar_for(version), max_bytes=MAX_SMALL_BYTES)
        doc = json.loads(blob.data, parse_constant=lambda _: None)  # NaN/Infinity are not JSON
    except (VersionNotFound, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    # Only the fields a listing shows, each of the type it should be: a sidecar is read, not trusted.
    row = {}
    for key, kinds in _SIDECAR_FIELDS.items():
        value = doc.get(key)
        if isinstance(value, kinds) and not isinstance(value, bool):
            row[key] = value if not isinstance(value, list) else [v for v in value if isinstance(v, (int, str))][:64]
    return row


def summary(store: BaseStore, version: int, has_sidecar: bool = True) -> dict[str, Any]:
    """A version's listing row: its sidecar, or (older stores) its checkpoint's small entries, never its weights."""
    if has_sidecar:
        row = read_sidecar(store, version)
        if row is not None:
            return row
    from btf import checkpoint  # numpy, only for versions published without a sidecar

    blob = store.get_object(key_for(version), max_bytes=MAX_OBJECT_BYTES)
    return summary_row(checkpoint.summary(blob.data), len(blob.data))


def delete(store: BaseStore, version: int) -> None:
    """Delete a version and its sidecar; refuses the version ``latest`` points at."""
    if version not in store.versions():
        raise VersionNotFound(f"model version {version} does not exist in {store.uri}")
    if version == latest_version(store):
        raise StoreError(
            f"v{version} is the promoted (latest) version: promote another one (or roll back) before deleting it"
        )
    store.delete_object(key_for(version))
    with contextlib.suppress(VersionNotFound):
        store.delete_object(sidecar_for(version))
