"""Lambda SnapStart hooks: load the latest model before the snapshot, revalidate after each restore.

With SnapStart the imports and the model load happen once, when a version is published, and
every cold start restores that memory instead. After a restore the snapshot may be hours
old, so the hook marks every cached model stale (the next request revalidates it by ETag,
downloading nothing if it is unchanged) and drops the S3 client, whose pooled connections
did not survive the snapshot. Outside Lambda the runtime module is absent and this is inert.
"""

from __future__ import annotations

from btf.store import StoreError
from functions.predict.cache import ModelCache
from functions.predict.observe import log


def before_snapshot(cache: ModelCache) -> None:
    try:
        entry = cache.latest()
        log.info("snapshot with model v%s loaded", entry.version)
    except StoreError as exc:  # a snapshot without a model still serves: the first request loads it
        log.warning("no model in the snapshot: %s", exc)
    except Exception as exc:  # never fail the publication over the store's content: log it, serve without
        log.error("no model in the snapshot, loading it failed: %s: %s", type(exc).__name__, exc)


def after_restore(cache: ModelCache) -> None:
    cache.expire(drop_store=True)


def register(cache: ModelCache) -> bool:
    """Register both hooks with the Lambda runtime, if this is a SnapStart Lambda; True if so."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(before_snapshot, cache)
    register_after_restore(after_restore, cache)
    return True
