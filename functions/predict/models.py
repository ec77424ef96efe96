"""Module-level model cache for the predict function: load once per container, revalidate cheaply.

- A version is loaded on first use through btf's validated, pickle-free loader and kept.
- After ``ttl`` seconds a cached version is revalidated with its ETag; an unchanged model
  is not downloaded again. ``latest`` is re-resolved at most every ``ttl`` seconds.
- If the store fails, a cached model keeps serving; the store is tried again after ``ttl``.
- ``latest`` skips versions that fail validation, so it never points at a broken model.
- Thread-safe: one lock per version (and one for ``latest``), so concurrent requests never
  load the same model twice; while one thread revalidates, the others serve the cached copy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import btf
from btf.store import ModelStore, StoreError, StoreUnavailable, VersionNotFound


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


@dataclass
class _Failure:
    etag: str | None
    message: str
    at: float


@dataclass
class ModelCache:
    open_store: Callable[[], ModelStore]
    ttl: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _store: ModelStore | None = None
    _entries: dict[int, Entry] = field(default_factory=dict)
    _invalid: dict[int, _Failure] = field(default_factory=dict)
    _latest: int | None = None
    _latest_at: float = float("-inf")
    _listing: dict[int, str] | None = None
    _listing_at: float = float("-inf")
    _locks: dict[Any, threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def store(self) -> ModelStore:
        with self._guard:
            if self._store is None:
                self._store = self.open_store()
            return self._store

    def _lock(self, key: Any) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def expire(self, drop_store: bool = False) -> None:
        """Treat everything cached as stale; optionally forget the store client too."""
        with self._guard:
            for entry in self._entries.values():
                entry.checked = float("-inf")
            self._latest_at = self._listing_at = float("-inf")
            self._invalid.clear()
            if drop_store:
                self._store = None

    def cached_versions(self) -> list[int]:
        return sorted(self._entries)

    # ------------------------------------------------------------ versions
    def get(self, version: int) -> Entry:
        """The model for ``version``, from cache when fresh."""
        entry = self._entries.get(version)
        if entry is not None and self.clock() - entry.checked < self.ttl:
            return entry
        lock = self._lock(version)
        if entry is not None and not lock.acquire(blocking=False):
            return entry  # another thread is revalidating; the cached copy is still good
        if entry is None:
            lock.acquire()
        try:
            entry = self._entries.get(version)
            if entry is not None and self.clock() - entry.checked < self.ttl:
                return entry
            return self._fetch(version, entry)
        finally:
            lock.release()

    def _fetch(self, version: int, entry: Entry | None) -> Entry:
        now = self.clock()
        failure = self._invalid.get(version)
        if entry is None and failure is not None and now - failure.at < self.ttl:
            raise InvalidModel(failure.message)
        try:
            blob = self.store().read(version, entry.etag if entry else None)
        except VersionNotFound:
            if entry is not None:
                entry.checked = now
                return entry
            raise
        except StoreError:
            if entry is not None:  # keep serving; try the store again after ttl
                entry.checked = now
                return entry
            raise
        if blob is None:
            entry.checked = now
            return entry
        try:
            graph = btf.Graph.load(blob.data)
        except btf.CheckpointError as exc:
            message = f"model version {version} is invalid: {str(exc).split(': ', 1)[-1]}"
            self._invalid[version] = _Failure(blob.etag, message, now)
            if entry is not None:
                entry.checked = now
                return entry
            raise InvalidModel(message) from None
        self._invalid.pop(version, None)
        fresh = Entry(version, graph, blob.etag, now)
        self._entries[version] = fresh
        return fresh

    # -------------------------------------------------------------- latest
    def latest(self) -> Entry:
        """The newest version that loads and validates."""
        if self._latest is not None and self.clock() - self._latest_at < self.ttl:
            return self.get(self._latest)
        lock = self._lock("latest")
        if self._latest is not None and not lock.acquire(blocking=False):
            return self.get(self._latest)
        if self._latest is None:
            lock.acquire()
        try:
            if self._latest is not None and self.clock() - self._latest_at < self.ttl:
                return self.get(self._latest)
            return self._resolve_latest()
        finally:
            lock.release()

    def _resolve_latest(self) -> Entry:
        try:
            listing = self.listing(refresh=True)
        except StoreError:
            if self._latest is not None:
                self._latest_at = self.clock()
                return self.get(self._latest)
            raise
        problems = []
        for version in sorted(listing, reverse=True):
            try:
                entry = self.get(version)
            except (InvalidModel, VersionNotFound) as exc:
                problems.append(str(exc))
                continue
            except StoreUnavailable:
                if self._latest is not None:
                    return self.get(self._latest)
                raise
            self._latest, self._latest_at = version, self.clock()
            return entry
        if not listing:
            raise NoModel(f"no models published in {self.store().uri}")
        raise NoModel("no valid model in the store: " + "; ".join(problems[:3]))

    def listing(self, refresh: bool = False) -> dict[int, str]:
        """Published versions and their etags, re-listed when asked or when older than ``ttl``.

        If the store fails and an earlier listing exists, that listing is returned (and the
        store asked again after ``ttl``), in keeping with serving cached models through faults.
        """
        if refresh or self._listing is None or self.clock() - self._listing_at >= self.ttl:
            try:
                self._listing = self.store().versions()
            except StoreError:
                if self._listing is None:
                    raise
            self._listing_at = self.clock()
        return self._listing

    def resolve(self, selector: int | str) -> Entry:
        return self.latest() if selector == "latest" else self.get(int(selector))
