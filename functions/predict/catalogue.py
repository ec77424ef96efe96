"""What ``GET /models`` shows: each version's summary and which one is latest, without loading any model.

A version's row comes from its sidecar (``model-vN.json``, written by the trainer) or, for
versions published before sidecars, from the checkpoint's small entries, read without
inflating a single weight. Rows are cached by the version's etag (a version never changes
unless someone replaces it by hand), so a listing costs one store listing per ``ttl`` and a
small read per new version. Only the newest ``MAX_LISTED`` versions are shown, which bounds
the memory and the reads whatever the store holds; the caller bounds their time with one
deadline for the whole listing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import btf
from btf.store import InvalidObject, StoreError, VersionNotFound, registry, sidecar_for
from functions.predict.cache import ModelCache

MAX_LISTED = 100
HISTORY_SHOWN = 10


@dataclass
class Catalogue:
    cache: ModelCache
    _rows: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def listing(self) -> dict[str, Any]:
        """``{"latest", "promoted", "history", "models"}``; raises StoreError only if nothing was ever listed."""
        listing = self.cache.index.listing()
        objects = self.cache.index.objects()
        # What latest serves comes before the rows: when the store hangs, the request's one
        # deadline (btf.store.deadline) goes on what matters most, and the rows it leaves
        # unread say so.
        try:
            latest = self.cache.latest().version
        except StoreError:
            latest = None
        try:
            alias = self.cache.index.alias()
        except StoreError:
            alias = registry.Alias()
        shown = sorted(listing, reverse=True)[:MAX_LISTED]
        rows = [self._row(version, listing[version], sidecar_for(version) in objects) for version in shown]
        with self._guard:  # forget versions no longer shown, so the cache stays bounded
            for version in set(self._rows) - set(shown):
                del self._rows[version]
        return {
            "latest": latest,
            "promoted": alias.latest,
            "history": alias.history[-HISTORY_SHOWN:],
            "models": rows,
        }

    def _row(self, version: int, etag: str, has_sidecar: bool) -> dict[str, Any]:
        cached = self._rows.get(version)
        if cached is not None and cached[0] == etag:
            row = cached[1]
        else:
            try:
                row = registry.listing_row(self.cache.store(), version, has_sidecar)
            except (InvalidObject, btf.CheckpointError):
                return {"version": version, "valid": False, "error": "failed validation"}
            except VersionNotFound:
                return {"version": version, "valid": None, "error": "deleted while listing"}
            except StoreError:
                return {"version": version, "valid": None, "error": "could not be read from the store"}
            with self._guard:
                self._rows[version] = (etag, row)
        return {"version": version, **row, "valid": self.cache.known_valid(version)}
