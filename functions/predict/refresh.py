"""One refresh at a time per key, and a request that holds a stale copy never waits on the store for long.

The model cache refreshes a version (or ``latest``) through ``refresh``: the work runs under
that key's lock, unless another thread made the answer fresh meanwhile. With a stale copy in
hand a caller serves it at once if another thread is already refreshing, and waits for its
own refresh at most ``deadline`` seconds before serving it (the refresh then finishes on a
thread of its own). Without a copy it must wait for the lock, but within the request's store
deadline (btf.store.deadline), never forever.

Locks come from a fixed set (``StripedLocks``), not one per key: clients can name any
version, and a lock per name would grow without bound.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

from btf.store import StoreUnavailable, time_left
from functions.predict.observe import log

T = TypeVar("T")
STRIPES = 32


class StripedLocks:
    """``STRIPES`` locks shared by every key by hash, plus one of its own for ``"latest"``.

    ``latest`` has its own because resolving it takes a version's lock while holding it.
    """

    def __init__(self, stripes: int = STRIPES) -> None:
        self._locks = [threading.Lock() for _ in range(stripes + 1)]

    def __getitem__(self, key: Hashable) -> threading.Lock:
        return self._locks[-1 if key == "latest" else hash(key) % (len(self._locks) - 1)]


def refresh(
    lock: threading.Lock,
    key: Hashable,
    stale: T | None,
    is_fresh: Callable[[], T | None],
    work: Callable[[], T],
    deadline: float,
) -> T:
    """``work()`` under ``lock``, unless ``is_fresh()`` already answers; with a ``stale`` copy, never waits past ``deadline``."""
    if stale is None:
        if not lock.acquire(timeout=time_left(3 * deadline)):
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
    if done.wait(time_left(deadline)) and "value" in outcome:
        return outcome["value"]
    if "error" in outcome:
        log.warning("refreshing %s failed, serving the cached copy: %s", key, outcome["error"])
    return stale
