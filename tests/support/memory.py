"""Peak memory of a call, as tests measure it: the most Python-visible allocation (numpy's included) while it runs."""

import tracemalloc
from collections.abc import Callable


def traced_peak(call: Callable[[], object]) -> int:
    """Bytes at the peak of ``call()``, counted from its start (tracemalloc, so numpy arrays count)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
