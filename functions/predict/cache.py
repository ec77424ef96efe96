"""Module-level model cache for the predict function: load once per container, revalidate cheaply.

- A version is loaded on first use through btf's validated, pickle-free loader and kept.
- After ``ttl`` seconds a cached version is revalidated with its ETag; an unchanged model
  is not downloaded again. ``latest`` is re-resolved at most every ``ttl`` seconds.
- If the store fails, a cached model keeps serving; the store is tried again after ``ttl``.
- ``latest`` is what the store's alias (``latest.json``) promotes, or the newest version when
  there is no alias. It skips versions that fail validation, so it never serves a broken
  model: a promoted version that cannot serve is logged, and the last good one keeps serving.
- Bounded by count (``max_models``) and by bytes (``max_bytes``, each model charged what it
  keeps resident), least recently used evicted first; the version ``latest`` serves is never
  evicted, so clients asking for other versions cannot push it out.
- Anything that goes wrong building or probing a stored model (a CheckpointError, a
  MemoryError, any other exception) makes that version invalid, remembered for ``ttl``: a
  store's model can cost a 503, never a 500.
- Thread-safe: one lock per version (and one for ``latest``), so concurrent requests never
  load the same model twice; while one thread revalidates, the others serve the cached copy.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import btf
from btf.digits import check_digit_model
from btf.store import (
    BaseStore,
    InvalidObject,
    ObjectInfo,
    StoreError,
    StoreUnavailable,
    VersionNotFound,
    parse_version,
    registry,
    time_left,
)
from btf.store.registry import Alias
from functions.predict.observe import log

_STRIPES = 32


class NoModel(StoreError):
    """The store holds no usable model (answered as 503)."""


class InvalidModel(StoreError):
    """The asked-for version exists but fails validation (answered as 503)."""


@dataclass
class Entry:
    version: int
    graph: btf.Graph
    etag: str
    checked: float
    size: int = 0  # bytes it keeps resident (resident_bytes)


# Parsed JSON holds at most ~25 bytes per character of its text (measured on lists of empty
# dicts, the worst found); metadata is at most 1 MiB of text (btf.checkpoint).
_METADATA_BYTES_PER_CHAR = 32


def resident_bytes(graph: btf.Graph) -> int:
    """What a loaded model keeps in memory: its float32 parameters and its metadata as Python objects.

    Nothing else: layers keep no buffers of their last batch, and a forward pass's working
    memory is bounded per call (btf.footprint.WORK_BYTES), not held.
    """
    return graph.footprint().parameter_bytes + _METADATA_BYTES_PER_CHAR * len(json.dumps(graph.metadata))


@dataclass
class _Failure:
    etag: str | None
    message: str
    at: float


@dataclass
class ModelCache:
    open_store: Callable[[], BaseStore]
    ttl: float = 60.0
    clock: Callable[[], float] = time.monotonic
    # What a model must satisfy to serve here (raises CheckpointError): the digit contract.
    validate: Callable[[btf.Graph], None] = check_digit_model
    _store: BaseStore | None = None
    # Seconds a request waits on the store when a cached copy could answer instead.
    deadline: float = 3.0
    # At most this many models, and this many bytes of them, are kept, least recently used
    # evicted first (never the version latest serves).
    max_models: int = 8
    max_bytes: int = 256 << 20
    _entries: OrderedDict[int, Entry] = field(default_factory=OrderedDict)
    _invalid: dict[int, _Failure] = field(default_factory=dict)
    _latest: int | None = None
    _latest_at: float = float("-inf")
    _objects: dict[str, ObjectInfo] | None = None
    _listing_at: float = float("-inf")
    _alias: Alias | None = None
    _alias_at: float = float("-inf")
    # A fixed set of locks, not one per key: clients can name any version, and a lock per
    # name would grow without bound. "latest" has its own, since resolving it takes a version's.
    _locks: list[threading.Lock] = field(default_factory=lambda: [threading.Lock() for _ in range(_STRIPES + 1)])
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def store(self) -> BaseStore:
        with self._guard:
            if self._store is None:
                self._store = self.open_store()
            return self._store

    def _lock(self, key: Any) -> threading.Lock:
        return self._locks[_STRIPES if key == "latest" else hash(key) % _STRIPES]

    def expire(self, drop_store: bool = False) -> None:
        """Treat everything cached as stale; optionally forget the store client too."""
        with self._guard:
            for entry in self._entries.values():
                entry.checked = float("-inf")
            self._latest_at = self._listing_at = self._alias_at = float("-inf")
            self._invalid.clear()
            if drop_store:
                self._store = None

    def cached_versions(self) -> list[int]:
        return sorted(self._entries)

    def cached_bytes(self) -> int:
        return sum(entry.size for entry in list(self._entries.values()))

    def known_valid(self, version: int) -> bool | None:
        """True if loaded and serving, False if it failed validation, None if not tried here yet."""
        if version in self._entries and version not in self._invalid:
            return True
        return False if version in self._invalid else None

    # ------------------------------------------------------------ refresh
    def _refresh(self, key: Any, stale: Entry | None, is_fresh: Callable[[], Entry | None], work: Callable[[], Entry]):
        """``work()`` under ``key``'s lock, unless another thread made the answer fresh meanwhile.

        With a ``stale`` copy in hand a request never waits on the store for long: if another
        thread is already refreshing it serves the stale copy at once, and it waits for its own
        refresh at most ``deadline`` seconds before serving the stale copy (the refresh finishes
        in the background). Without one it must wait, but never forever.
        """
        lock = self._lock(key)
        if stale is None:
            # Within the request's store deadline, when it has one (btf.store.deadline).
            if not lock.acquire(timeout=time_left(3 * self.deadline)):
                raise StoreUnavailable("the model store is slow: another request has been loading this model too long")
            try:
                return is_fresh() or work()
            finally:
                lock.release()
        if not lock.acquire(blocking=False):
            return stale  # another thread is refreshing; the cached copy is still good
        done, outcome = threading.Event(), {}

        def run() -> None:
            try:
                outcome["value"] = is_fresh() or work()
            except Exception as exc:  # logged by whoever waits; the stale copy keeps serving
                outcome["error"] = exc
            finally:
                lock.release()
                done.set()

        threading.Thread(target=run, name=f"btf-refresh-{key}", daemon=True).start()
        if done.wait(time_left(self.deadline)) and "value" in outcome:
            return outcome["value"]
        if "error" in outcome:
            log.warning("refreshing %s failed, serving the cached copy: %s", key, outcome["error"])
        return stale

    # ------------------------------------------------------------ versions
    def get(self, version: int) -> Entry:
        """The model for ``version``, from cache when fresh."""

        def fresh() -> Entry | None:
            entry = self._entries.get(version)
            return entry if entry is not None and self.clock() - entry.checked < self.ttl else None

        entry = fresh()
        if entry is not None:
            with self._guard:
                if version in self._entries:
                    self._entries.move_to_end(version)
            return entry
        stale = self._entries.get(version)
        return self._refresh(version, stale, fresh, lambda: self._fetch(version, self._entries.get(version)))

    def _fetch(self, version: int, entry: Entry | None) -> Entry:
        now = self.clock()
        failure = self._invalid.get(version)
        if entry is None and failure is not None and now - failure.at < self.ttl:
            raise InvalidModel(failure.message)
        known = entry.etag if entry else failure.etag if failure else None
        try:
            blob = self.store().read(version, known)
        except InvalidObject as exc:
            return self._reject(version, entry, None, str(exc), now)
        except StoreError:  # VersionNotFound included: a cached copy keeps serving until it is gone for good
            if entry is not None:  # keep serving; try the store again after ttl
                entry.checked = now
                return entry
            raise
        if blob is None:
            if entry is None:  # unchanged since it failed validation: still invalid, nothing downloaded
                failure.at = now
                raise InvalidModel(failure.message)
            entry.checked = now
            return entry
        try:
            graph = btf.Graph.load(blob.data)
            self.validate(graph)
            size = resident_bytes(graph)
        except Exception as exc:  # a stored model's failure, whatever it is (MemoryError too): invalid, not a 500
            problem = str(exc).split(": ", 1)[-1] if isinstance(exc, btf.CheckpointError) else repr(exc)[:300]
            return self._reject(version, entry, blob.etag, problem, now)
        self._invalid.pop(version, None)
        fresh = Entry(version, graph, blob.etag, now, size)
        self._keep(fresh)
        return fresh

    def _keep(self, fresh: Entry) -> None:
        """Cache ``fresh``, then evict, oldest use first, until within ``max_models`` and ``max_bytes``.

        The version ``latest`` serves is never evicted. A model that does not fit beside it is
        served to the request that loaded it and not kept.
        """
        with self._guard:
            self._entries[fresh.version] = fresh
            self._entries.move_to_end(fresh.version)
            total = sum(entry.size for entry in self._entries.values())
            for version in list(self._entries):
                if len(self._entries) <= self.max_models and total <= self.max_bytes:
                    break
                if version != self._latest:
                    total -= self._entries.pop(version).size

    def _reject(self, version: int, entry: Entry | None, etag: str | None, problem: str, now: float) -> Entry:
        """Remember a version as invalid for ``ttl``; keep serving an earlier good copy if there is one."""
        message = f"model version {version} is invalid: {problem}"
        self._invalid[version] = _Failure(etag, message, now)
        log.warning(message)
        if entry is not None:
            entry.checked = now
            return entry
        raise InvalidModel(message)

    # -------------------------------------------------------------- latest
    def latest(self) -> Entry:
        """The newest version that loads and validates."""

        def fresh() -> Entry | None:
            if self._latest is not None and self.clock() - self._latest_at < self.ttl:
                return self.get(self._latest)
            return None

        entry = fresh()
        if entry is not None:
            return entry
        stale = self._entries.get(self._latest) if self._latest is not None else None
        return self._refresh("latest", stale, fresh, self._resolve_latest)

    def _resolve_latest(self) -> Entry:
        try:
            alias = self.alias(refresh=True)
            listing = self.listing(refresh=True)
        except StoreError:
            if self._latest is not None:
                self._latest_at = self.clock()
                return self.get(self._latest)
            raise
        problems = []
        for version in self._candidates(alias, listing):
            try:
                entry = self.get(version)
            except (InvalidModel, VersionNotFound) as exc:
                problems.append(str(exc))
                continue
            except StoreUnavailable:
                if self._latest is not None:
                    return self.get(self._latest)
                raise
            if alias.latest is not None and version != alias.latest:
                log.warning(
                    "latest points at v%s, which cannot serve (%s); serving v%s", alias.latest, problems[0], version
                )
            self._latest, self._latest_at = version, self.clock()
            return entry
        if not listing:
            raise NoModel(f"no models published in {self.store().uri}")
        raise NoModel("no valid model to serve as latest: " + "; ".join(problems[:3]))

    def _candidates(self, alias: Alias, listing: dict[int, str]) -> list[int]:
        """Versions to try as ``latest``, best first.

        With an alias: the promoted version, then the last one served, then earlier promotions,
        newest first; never an unpromoted version. Without: every version, newest first.
        """
        if alias.problem is not None:
            log.warning("the alias cannot be used (%s); serving the newest valid version", alias.problem)
        if alias.latest is None:
            return sorted(listing, reverse=True)
        order = [alias.latest, self._latest, *(e.get("to") for e in reversed(alias.history))]
        seen: list[int] = []
        for version in order:
            if isinstance(version, int) and version in listing and version not in seen:
                seen.append(version)
        return seen or [alias.latest]

    def alias(self, refresh: bool = False) -> Alias:
        """The store's alias (``latest.json``), revalidated by etag when asked or older than ``ttl``."""
        if refresh or self._alias is None or self.clock() - self._alias_at >= self.ttl:
            known = self._alias.etag if self._alias is not None else None
            fresh = registry.read_alias(self.store(), known)
            if fresh is not None:
                self._alias = fresh
            self._alias_at = self.clock()
        return self._alias

    def listing(self, refresh: bool = False) -> dict[int, str]:
        """Published versions and their etags, re-listed when asked or when older than ``ttl``.

        If the store fails and an earlier listing exists, that listing is returned (and the
        store asked again after ``ttl``), in keeping with serving cached models through faults.
        """
        if refresh or self._objects is None or self.clock() - self._listing_at >= self.ttl:
            try:
                self._objects = self.store().list_objects()
            except StoreError:
                if self._objects is None:
                    raise
            self._listing_at = self.clock()
        return {v: info.etag for name, info in self._objects.items() if (v := parse_version(name)) is not None}

    def objects(self) -> dict[str, ObjectInfo]:
        """Every object of the last listing (models, sidecars, alias)."""
        self.listing()
        return self._objects or {}

    def resolve(self, selector: int | str) -> Entry:
        return self.latest() if selector == "latest" else self.get(int(selector))
