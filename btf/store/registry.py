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
    MAX_VERSION,
    BaseStore,
    Conflict,
    InvalidObject,
    SpecialFile,
    StoreError,
    VersionNotFound,
    key_for,
    sidecar_for,
)

ALIAS = "latest.json"
_SIDECAR_FIELDS = {
    "sizes": (list, int),
    "layers": (list, str),
    "activation": (str, None),
    "cost": (str, None),
    "epochs": (int, None),
    "test_accuracy": ((int, float), None),
    "val_accuracy": ((int, float), None),
    "created": (str, None),
    "bytes": (int, None),
}
_HISTORY_FIELDS = {"at": str, "by": str, "from": int, "to": int, "why": str, "action": str}
# What is served of store-written text (sidecars, the alias): enough for any honest value, so
# a tampered store cannot make every answer megabytes long.
MAX_TEXT = 200
MAX_LIST = 64
# The alias keeps the most recent promotions; older ones are dropped so it stays small.
MAX_HISTORY = 500
_ATTEMPTS = 50


@dataclass
class Alias:
    """The alias as read: ``latest`` is None when the store has no usable alias.

    ``problem`` says why a stored alias cannot be used (malformed, oversized, not a regular
    file); ``etag`` is then the broken object's, so a promotion can replace it.
    """

    latest: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    etag: str | None = None  # None: no alias object to replace conditionally
    problem: str | None = None

    def trail(self) -> list[int]:
        """The versions promoted in turn, each still in force; rollbacks unwind it, so it is a stack."""
        stack: list[int] = []
        for entry in self.history:
            to = entry.get("to")
            if not isinstance(to, int):
                continue
            if entry.get("action") == "rollback":
                while stack and stack[-1] != to:
                    stack.pop()
            elif not stack and isinstance(entry.get("from"), int):
                stack.append(entry["from"])
            if not stack or stack[-1] != to:
                stack.append(to)
        return stack

    def previous(self, exists: Any = lambda v: True) -> int | None:
        """Where a rollback goes: the newest version promoted before the current one (that still ``exists``)."""
        trail = self.trail()
        if not trail or trail[-1] != self.latest:
            trail.append(self.latest)
        return next((v for v in reversed(trail[:-1]) if v != self.latest and exists(v)), None)


def _text(value: str) -> str:
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"


def _entry(raw: Any) -> dict[str, Any] | None:
    """A history entry as served: known fields of the right type, text bounded."""
    if not isinstance(raw, dict):
        return None
    entry = {}
    for key, kind in _HISTORY_FIELDS.items():
        value = raw.get(key)
        if isinstance(value, kind) and not isinstance(value, bool):
            entry[key] = _text(value) if isinstance(value, str) else value
        elif key in ("from", "to"):
            entry[key] = None
    return entry


def parse_alias(data: bytes, etag: str | None = None) -> Alias:
    """An alias document -> Alias; a malformed one is an Alias whose ``problem`` says so."""
    try:
        doc = json.loads(data, parse_constant=lambda _: None)
        latest, history = doc["latest"], doc.get("history", [])
        if not (isinstance(latest, int) and not isinstance(latest, bool) and 1 <= latest <= MAX_VERSION):
            raise ValueError("latest is not a version number")
        if not isinstance(history, list):
            raise ValueError("history is not a list")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        return Alias(etag=etag, problem=f"{ALIAS} is malformed ({type(exc).__name__}: {_text(str(exc))})")
    entries = [e for e in map(_entry, history[-MAX_HISTORY:]) if e is not None]
    return Alias(latest, entries, etag)


def read_alias(store: BaseStore, etag: str | None = None) -> Alias | None:
    """The store's alias (``Alias()`` if there is none); None if ``etag`` still matches.

    An alias that cannot be used comes back with ``problem`` set, never as an exception: the
    service then serves the newest valid version, and ``promote`` can replace it.
    """
    try:
        blob = store.get_object(ALIAS, etag, MAX_SMALL_BYTES)
    except SpecialFile as exc:
        return Alias(problem=str(exc))
    except VersionNotFound:
        return Alias()
    except InvalidObject as exc:  # too large to be ours: replaceable at the etag the listing shows
        info = store.list_objects().get(ALIAS)
        return Alias(etag=info.etag if info else None, problem=str(exc))
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
    The version it replaced is None when there was none (the first promotion of the store).
    """
    versions = store.versions()
    if version not in versions:
        raise VersionNotFound(f"model version {version} does not exist in {store.uri}")
    implicit = previous if previous is not None else max(versions, default=None)
    return _update(store, lambda alias: version, why=why, by=by, implicit=implicit)


def rollback(store: BaseStore, *, why: str, by: str | None = None) -> tuple[int | None, Alias]:
    """Point ``latest`` back at the version promoted before the current one; again, at the one before that.

    Decided from the alias as read in the same conditional write, so two racing rollbacks
    step back twice, never both from a stale read. Versions deleted since are skipped.
    """

    def target(alias: Alias) -> int:
        if alias.latest is None:
            raise StoreError(f"nothing to roll back to: nothing has been promoted in {store.uri}")
        versions = store.versions()
        found = alias.previous(exists=lambda v: v in versions)
        if found is None:
            raise StoreError(f"nothing to roll back to: v{alias.latest} is the first promotion still in {store.uri}")
        return found

    return _update(store, target, why=why, by=by, implicit=None, action="rollback")


def _update(store: BaseStore, choose, *, why: str, by: str | None, implicit: int | None, action: str = "promote"):
    """Write the alias with ``choose(alias)`` as latest, conditionally on the alias as read; retry if it raced."""
    for attempt in range(_ATTEMPTS):
        alias = read_alias(store)
        if alias.problem is not None and alias.etag is None:
            raise StoreError(f"cannot replace the alias: {alias.problem}; remove it by hand")
        version = choose(alias)
        before = alias.latest if alias.latest is not None else implicit
        if before == version and alias.latest is None:
            before = None  # the first promotion: nothing was promoted before it
        entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "by": _text(by or who()), "from": before}
        entry.update({"to": version, "why": _text(why), "action": action})
        history = [*alias.history, entry][-MAX_HISTORY:]
        data = json.dumps({"latest": version, "history": history}, indent=1).encode()
        try:
            etag = store.put_object(ALIAS, data, if_match=alias.etag, create_only=alias.etag is None)
        except Conflict:
            time.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # noqa: S311 - jitter, not crypto
            continue
        return before, Alias(version, history, etag)
    raise StoreError(f"gave up updating {ALIAS} after {_ATTEMPTS} racing updates")


def latest_version(store: BaseStore) -> int | None:
    """What ``latest`` means in the store: the alias, or the highest version when there is no usable one."""
    alias = read_alias(store)
    return alias.latest if alias.latest is not None else max(store.versions(), default=None)


def row_from(summary: dict[str, Any], size: int) -> dict[str, Any]:
    """What a listing shows of a version, from ``btf.checkpoint.describe`` of its bytes: the sidecar's content."""
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
    return clean_row(doc)


def clean_row(doc: dict[str, Any]) -> dict[str, Any]:
    """Only the fields a listing shows, each of its type, text and lists bounded: store data is read, not trusted."""
    row = {}
    for key, (kinds, item) in _SIDECAR_FIELDS.items():
        value = doc.get(key)
        if not isinstance(value, kinds) or isinstance(value, bool):
            continue
        if isinstance(value, list):
            value = [_text(v) if isinstance(v, str) else v for v in value if isinstance(v, item)][:MAX_LIST]
        row[key] = _text(value) if isinstance(value, str) else value
    return row


def listing_row(store: BaseStore, version: int, has_sidecar: bool = True) -> dict[str, Any]:
    """A version's listing row: its sidecar, or (older stores) its checkpoint's small entries, never its weights."""
    if has_sidecar:
        row = read_sidecar(store, version)
        if row is not None:
            return row
    from btf import checkpoint  # numpy, only for versions published without a sidecar

    blob = store.get_object(key_for(version), max_bytes=MAX_OBJECT_BYTES)
    return row_from(checkpoint.describe(blob.data), len(blob.data))


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
