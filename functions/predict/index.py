"""What the store publishes and promotes, as the model cache sees it: its listing and its alias, re-read at most every ``ttl``.

Both are read again when asked (``refresh=True``, as resolving ``latest`` does) or when older
than ``ttl``. The alias is revalidated by etag. If the store fails and an earlier listing or
alias exists, that one is kept (and the store asked again after ``ttl``), in keeping with
serving cached models through faults.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from btf.store import BaseStore, ObjectInfo, StoreError, parse_version, registry
from btf.store.registry import Alias

NEVER = float("-inf")


class StoreIndex:
    def __init__(self, store: Callable[[], BaseStore], ttl: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.store, self.ttl, self.clock = store, ttl, clock
        self._objects: dict[str, ObjectInfo] | None = None
        self._alias: Alias | None = None
        self._listing_at = self._alias_at = NEVER

    def expire(self) -> None:
        """Read both again on next use."""
        self._listing_at = self._alias_at = NEVER

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
        """Published versions and their etags; the last good listing if the store fails now."""
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
