"""functions.predict.heap: glibc keeps a request's large buffers between requests; elsewhere nothing changes."""

import ctypes
import platform

import numpy as np
import pytest

from functions.predict import heap


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_takes_the_thresholds_and_large_buffers_still_come_and_go():
    assert heap.steady_heap() is True
    # Buffers on both sides of the mmap threshold still allocate, fill and free.
    for size in (1 << 20, heap.MMAP_THRESHOLD + (1 << 20)):
        block = np.ones(size, np.uint8)
        assert int(block[::4096].sum()) == len(block[::4096])
        del block


class _NoMallopt:
    def __init__(self, name):
        pass  # a C library without mallopt (macOS, musl)


def _refused(name):
    raise OSError("no C library to load")


@pytest.mark.parametrize("library", [_NoMallopt, _refused])
def test_without_mallopt_nothing_changes(monkeypatch, library):
    monkeypatch.setattr(ctypes, "CDLL", library)
    assert heap.steady_heap() is False
