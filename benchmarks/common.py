"""What the benchmarks share: best-of timing and single-image predict latency."""

from __future__ import annotations

import time

import numpy as np


def best_of(repeats: int, fn) -> float:
    """The fastest of ``repeats`` runs of ``fn()``, in seconds: the least disturbed by other work."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def predict_latency(net, x: np.ndarray, calls: int = 1000) -> tuple[float, float]:
    """(median, p99) seconds of ``net.predict(x)`` for one image, after a warm-up."""
    for _ in range(calls // 10):
        net.predict(x)
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        net.predict(x)
        samples.append(time.perf_counter() - start)
    return float(np.median(samples)), float(np.percentile(samples, 99))
