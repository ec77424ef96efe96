"""One asyncio event loop per calling thread, for the Lambda handler.

Mangum runs the app on the current thread's event loop. Lambda calls the handler on one
thread, one event at a time, but tests and harnesses call it from several threads at once,
and one loop shared between threads hangs. Each thread gets a loop of its own, closed when the
thread ends and its thread-local storage goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

_local = threading.local()


class _Loop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit asyncio may be half torn down
            self.loop.close()


def use_thread_loop() -> asyncio.AbstractEventLoop:
    """Make this thread's own open event loop its current one, creating it on first use."""
    held = getattr(_local, "held", None)
    if held is None or held.loop.is_closed():
        held = _local.held = _Loop()
    asyncio.set_event_loop(held.loop)
    return held.loop
