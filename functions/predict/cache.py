"""The predict function's model cache: load each version once per container, revalidate cheaply.

- A version is loaded on first use through btf's validated, pickle-free loader and kept
  (functions.predict.entry builds and prices it).
- After ``ttl`` seconds a cached version is revalidated with its ETag; an unchanged model
  is not downloaded again. ``latest`` is re-resolved at most every ``ttl`` seconds.
- If the store fails, a cached model keeps serving; the store is tried again after ``ttl``.
- ``latest`` is what the store's alias (``latest.json``) promotes, or the newest version when
  there is no alias. It skips versions that fail validation, so it never serves a broken
  model: a promoted version that cannot serve is logged, and the last good one keeps serving.
- Bounded by count (``max_models``) and by bytes (``max_bytes``, each model charged what it
  keeps resident), least recently used evicted first; the version ``latest`` serves is never
  evicted, so clients asking for other versions cannot push it out.
- Anything that goes wrong building or probing a stored model makes that version invalid,
  remembered for ``ttl``: a store's model can cost a 503, never a 500.
- Thread-safe: one refresh at a time per version (and one for ``latest``), so concurrent
  requests never load the same model twice; while one thread revalidates, the others serve
  the cached copy (functions.predict.refresh).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import btf
from btf.digits import check_digit_model
from btf.store import BaseStore, InvalidObject, StoreError, StoreUnavailable, VersionNotFound
from btf.store.registry import Alias
from functions.predict import entry as entries
from functions.predict.entry import Entry
from functions.predict.index import StoreIndex
from functions.predict.observe import log
from functions.predict.refresh import StripedLocks, refresh

__all__ = ["Entry", "InvalidModel", "ModelCache", "ModelNotFound", "NoModel"]


class NoModel(StoreError):
    """The store holds no usable model (answered as 503)."""


class InvalidModel(StoreError):
    """The asked-for version exists but fails validation (answered as 503)."""

    def __init__(self, version: int, message: str) -> None:
        super().__init__(message)
        self.version = version


class ModelNotFound(VersionNotFound):
    """The asked-for version is not in the store (answered as 404); the store's message stays in the logs."""

    def __init__(self, version: int) -> None:
        super().__init__(f"model version {version} does not exist")
        self.version = version


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
    # How stored bytes become a model (btf's validated, pickle-free loader), and what a model
    # must satisfy to serve here (raises CheckpointError): the digit contract.
    load: Callable[[bytes], btf.Graph] = btf.Graph.load
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
    index: StoreIndex = field(init=False)  # the store's listing and alias, re-read every ttl
    _locks: StripedLocks = field(default_factory=StripedLocks)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.index = StoreIndex(self.store, self.ttl, self.clock)

    def store(self) -> BaseStore:
        with self._guard:
            if self._store is None:
                self._store = self.open_store()
            return self._store

    def expire(self, drop_store: bool = False) -> None:
        """Treat everything cached as stale; optionally forget the store client too."""
        with self._guard:
            for entry in self._entries.values():
                entry.checked = float("-inf")
            self._latest_at = float("-inf")
            self.index.expire()
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
        work = lambda: self._fetch(version, self._entries.get(version))  # noqa: E731
        return refresh(self._locks[version], version, stale, fresh, work, self.deadline)

    def _fetch(self, version: int, entry: Entry | None) -> Entry:
        now = self.clock()
        failure = self._invalid.get(version)
        if entry is None and failure is not None and now - failure.at < self.ttl:
            raise InvalidModel(version, failure.message)
        known = entry.etag if entry else failure.etag if failure else None
        try:
            blob = self.store().read(version, known)
        except InvalidObject as exc:
            return self._reject(version, entry, None, str(exc), now)
        except StoreError as exc:  # VersionNotFound included: a cached copy keeps serving until it is gone for good
            if entry is not None:  # keep serving; try the store again after ttl
                entry.checked = now
                return entry
            if isinstance(exc, VersionNotFound):
                raise ModelNotFound(version) from exc
            raise
        if blob is None:
            if entry is None:  # unchanged since it failed validation: still invalid, nothing downloaded
                failure.at = now
                raise InvalidModel(version, failure.message)
            entry.checked = now
            return entry
        try:
            fresh = entries.build(version, blob, self.load, self.validate, now)
        except entries.Rejected as exc:
            return self._reject(version, entry, blob.etag, str(exc), now)
        self._invalid.pop(version, None)
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
        raise InvalidModel(version, message)

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
        return refresh(self._locks["latest"], "latest", stale, fresh, self._resolve_latest, self.deadline)

    def _resolve_latest(self) -> Entry:
        try:
            alias = self.index.alias(refresh=True)
            listing = self.index.listing(refresh=True)
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

    def resolve(self, selector: int | str) -> Entry:
        """The model for a selector: ``"latest"`` or a version number."""
        return self.latest() if selector == "latest" else self.get(int(selector))
