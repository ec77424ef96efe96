"""functions.predict.heap: glibc keeps a request's large buffers in the heap; elsewhere nothing changes."""

import ctypes
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from functions.predict import heap

# In a fresh interpreter (the allocator's settings are the process's), with or without
# steady_heap() first: the bytes glibc holds in mmapped blocks while a 4 MB buffer is alive,
# and the heap's size once it is freed.
_PROBE = """
import ctypes, sys, numpy as np
from functions.predict.heap import steady_heap

class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Info
took = steady_heap() if sys.argv[1] == "steady" else None
buffer = np.ones(4 << 20, np.uint8)
mapped = mallinfo2().hblkhd
del buffer
print(took, mapped, mallinfo2().arena)
"""


def _probe(mode: str) -> tuple[str, int, int]:
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True, timeout=60, cwd=root
    )
    took, mapped, arena = run.stdout.split()
    return took, int(mapped), int(arena)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt and mallinfo2 are glibc's")
def test_glibc_serves_a_requests_buffers_from_the_heap_and_keeps_them():
    _, mapped, _ = _probe("default")
    assert mapped >= 4 << 20  # glibc's default: a fresh 4 MB buffer is mmapped, and unmapped when freed
    took, mapped, arena = _probe("steady")
    assert took == "True"
    assert mapped < 4 << 20  # with the thresholds fixed it comes from the heap...
    assert arena >= 4 << 20  # ...which keeps its pages when it is freed, for the next request


class _NoMallopt:
    def __init__(self, name):
        pass  # a C library without mallopt (macOS, musl)


def _refused(name):
    raise OSError("no C library to load")


@pytest.mark.parametrize("library", [_NoMallopt, _refused])
def test_without_mallopt_nothing_changes(monkeypatch, library):
    monkeypatch.setattr(ctypes, "CDLL", library)
    assert heap.steady_heap() is False
