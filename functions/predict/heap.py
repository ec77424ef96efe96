"""Keep a request's large buffers in the process heap between requests (glibc's malloc only).

A request decodes an image and normalises its digits in buffers of 0.1 to a few MB. glibc
serves blocks that large with mmap and hands them back on free (its threshold adapts, but
from wherever the heap happens to stand), and trims the heap's top back to the system, so
every request faulted its pages in afresh, which on a virtual machine is a measurable part
of a request: benchmarks.bench_read measured /read at 2.92 to 3.14x /predict with glibc's
defaults, 2.50 to 2.63x with these (docs/benchmarks.md).

The cost is memory kept mapped: up to TRIM_THRESHOLD of free heap per malloc arena (glibc
gives threads their own arenas; the function's are its request threads and the model cache's
refresh threads), at most a few hundred MB of a 1,024 MB Lambda in the worst case and, in
practice, what one request last used (a /read over the largest canvas stays under 64 MB:
tests/btf/digits/test_numbers_budget.py).
"""

from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 << 20  # glibc's largest on 64-bit: blocks below this come from the heap
TRIM_THRESHOLD = 64 << 20  # free space at the heap's top kept, up to this, for the next request


def steady_heap() -> bool:
    """Fix glibc's mmap and trim thresholds; True when both took. False where the C library has no
    mallopt (macOS, Windows, musl), and nothing changed there."""
    try:
        # The C library the interpreter runs on (no ctypes.util.find_library: it runs ldconfig).
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, TypeError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
