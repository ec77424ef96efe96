"""Run one S3 call under a deadline that binds the thread doing the work, not only the caller waiting for it.

Each call runs on a daemon thread of its own (so a stuck call never keeps the process from
exiting) and at most ``MAX_CALLS`` run at once. The caller waits until the deadline; then it
*cuts* the call: it shuts down the socket the call is using, which ends any read or write in
progress at once, even one that an endpoint trickling a byte every half second would keep
alive for ever within botocore's per-read timeout. A cut or late call cannot start another
attempt either: botocore's ``before-send`` hook refuses it. So a call ends at its deadline,
and no number of slow or silent endpoints can use up the threads for good.

The socket is found through the connection classes of the client's HTTP session: a
connection tells the call running on its thread which socket it is using.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.awsrequest import (
    AWSHTTPConnection,
    AWSHTTPConnectionPool,
    AWSHTTPSConnection,
    AWSHTTPSConnectionPool,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from btf.store import StoreUnavailable

# Calls in flight at once, across every store of the process. A call holds its slot until
# its thread has really finished, which the cut makes happen at the deadline.
MAX_CALLS = 32
_slots = threading.BoundedSemaphore(MAX_CALLS)
_slots_pid = os.getpid()
_slots_guard = threading.Lock()
_local = threading.local()


class CallCut(StoreUnavailable):
    """The caller gave up on this call at its deadline; raised on the call's own thread."""


class _Call:
    """One call: its deadline, and the connection it is using, so the caller can cut it."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.done = threading.Event()
        self.outcome: tuple[bool, Any] = (False, None)
        self._guard = threading.Lock()
        self._conn: Any = None
        self._cut = False
        # The last attempt's failure, if botocore is retrying it: at the deadline it says what
        # went wrong (an endpoint that refuses is "cannot reach", however the retries fell).
        self.last_error: BaseException | None = None

    def attach(self, conn: Any) -> None:
        """On the call's thread: ``conn`` is the connection now in use (cut at once if the caller has left)."""
        with self._guard:
            self._conn, cut = conn, self._cut
        if cut:
            _shutdown(conn)

    def cut(self) -> None:
        """On the caller's thread, at the deadline: end whatever the call is reading or writing."""
        with self._guard:
            self._cut, conn = True, self._conn
        if conn is not None:
            _shutdown(conn)

    def finish(self, ok: bool, value: Any) -> None:
        with self._guard:
            self._conn = None  # back in the pool, perhaps for another call: never cut it now
        self.outcome = (ok, value)
        self.done.set()

    def check(self) -> None:
        if self._cut or time.monotonic() > self.deadline:
            raise CallCut("the store call ran out of time")


def _shutdown(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            # The base class's shutdown: on a TLS socket too, it ends the read in progress.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _slots_here() -> threading.BoundedSemaphore:
    global _slots, _slots_pid
    with _slots_guard:
        if _slots_pid != os.getpid():  # a forked child has none of its parent's threads
            _slots, _slots_pid = threading.BoundedSemaphore(MAX_CALLS), os.getpid()
        return _slots


def run(what: str, timeout: float, call: Callable[..., Any], *args: Any) -> Any:
    """``call(deadline, *args)`` on a daemon thread; StoreUnavailable at the deadline, the call cut."""
    if timeout <= 0:
        raise StoreUnavailable(f"no time was left for {what}: the request's store deadline has passed")
    deadline = time.monotonic() + timeout
    slots = _slots_here()
    if not slots.acquire(timeout=timeout):
        raise StoreUnavailable(f"{MAX_CALLS} store calls are already in flight; gave up waiting to make {what}")
    job = _Call(deadline)

    def work() -> None:
        _local.call = job
        try:
            job.finish(True, call(deadline, *args))
        except BaseException as exc:  # handed to the caller, who re-raises it
            job.finish(False, exc)
        finally:
            _local.call = None
            slots.release()

    try:
        threading.Thread(target=work, name="btf-s3", daemon=True).start()
    except BaseException:
        slots.release()
        raise
    finished = job.done.wait(timeout)
    ok, value = job.outcome
    # A call that failed only once its deadline had passed (cut, or timed out on its own while
    # this thread waited to be scheduled) failed because of the deadline: one answer for both.
    if not finished or (not ok and time.monotonic() >= deadline):
        job.cut()
        if isinstance(job.last_error, (BotoConnectionError, ConnectionError)):
            raise StoreUnavailable(
                f"cannot reach the S3 endpoint for {what}: {job.last_error}; gave up at the deadline"
            )
        raise StoreUnavailable(f"S3 did not answer {what} within {timeout:.2g}s (STORE_TIMEOUT_SECONDS)")
    if not ok:
        raise value
    return value


def in_flight() -> int:
    """Calls whose threads have not finished yet (for tests and logs)."""
    return sum(thread.name == "btf-s3" for thread in threading.enumerate())


def _before_send(**_: Any) -> None:
    """botocore's hook before every attempt: none starts after the deadline or once the caller has left."""
    job = getattr(_local, "call", None)
    if job is not None:
        job.check()


def _note_failure(caught_exception: BaseException | None = None, **_: Any) -> None:
    """botocore's hook before it decides on a retry: remember why the attempt failed. Returns None,
    so the retry handler after it still decides."""
    job = getattr(_local, "call", None)
    if job is not None and caught_exception is not None:
        job.last_error = caught_exception


class _Watched:
    """A connection that tells the call on its thread which socket it is using."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        job = getattr(_local, "call", None)
        if job is not None:
            job.attach(self)
        try:
            return super().request(*args, **kwargs)
        finally:
            if job is not None:
                job.attach(self)  # connected by now: cut at once if the caller left meanwhile


class _HTTPConnection(_Watched, AWSHTTPConnection):
    pass


class _HTTPSConnection(_Watched, AWSHTTPSConnection):
    pass


class _HTTPPool(AWSHTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(AWSHTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


def watch(client: Any) -> bool:
    """Make ``client``'s calls cuttable; False if its HTTP session is not botocore's (then only the hook applies)."""
    client.meta.events.register_first("before-send.s3", _before_send)
    client.meta.events.register_first("needs-retry.s3", _note_failure)
    session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    classes = getattr(session, "_pool_classes_by_scheme", None)
    if not isinstance(classes, dict):
        return False
    classes.update(http=_HTTPPool, https=_HTTPSPool)  # the dict its pool managers share
    return True
