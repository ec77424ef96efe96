"""Keep a request's large buffers in the process heap between requests (glibc's malloc only).

A request decodes an image and normalises its digits in buffers of 0.1 to a few MB. glibc
serves blocks that large with mmap and hands them back on free (its threshold adapts, but
from where the heap happens to stand), and trims the heap's top back to the system: every
request then faults its pages in afresh, which on a virtual machine costs a measurable part
of a request (benchmarks.bench_read: /read 3.0 to 3.1x /predict with glibc's defaults, 2.5x
with these). Fixed thresholds keep those pages: at most a request's own peak (the predict
function bounds it at 64 MB for /read) stays mapped between requests.
"""

from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 << 20  # glibc's largest on 64-bit: blocks below this come from the heap
TRIM_THRESHOLD = 64 << 20  # free space at the heap's top kept, up to this, for the next request


def steady_heap() -> bool:
    """Fix glibc's mmap and trim thresholds; False (and nothing changed) where the C library is not glibc."""
    try:
        # The C library the interpreter runs on (no ctypes.util.find_library: it runs ldconfig).
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, TypeError, AttributeError):  # macOS, Windows, musl: no mallopt, their own allocators
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
