"""What the benchmarks share: best-of timing and single-image predict latency."""

from __future__ import annotations

import argparse
import itertools
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


def best_interleaved(repeats: int, fns: dict, clock=time.perf_counter) -> dict:
    """{name: the least of ``repeats`` runs} of each ``fns[name]()``, the runs interleaved so that other work on a
    shared machine hits each alike. ``clock=time.process_time`` counts CPU time (every thread's) instead of wall."""
    best = dict.fromkeys(fns, float("inf"))
    # Each round in another order, all orders in turn: in one fixed order the runner after a large job
    # (PyTorch's epoch) always found the caches cold, and measured 1.2x where it measures 1.07x this way.
    orders = itertools.cycle(itertools.permutations(fns))
    for _ in range(repeats):
        for name in next(orders):
            start = clock()
            fns[name]()
            best[name] = min(best[name], clock() - start)
    return best


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


def shown(value: float | None, spec: str = ".2f", suffix: str = "") -> str:
    """``value`` formatted, or "n/a" (as wide) when it was not measured, e.g. PyTorch is not installed."""
    if value is None or not np.isfinite(value):
        width = spec.split(".")[0]
        return format("n/a", f">{width}") if width.isdigit() else "n/a"
    return format(value, spec) + suffix


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either was not measured."""
    return None if a is None or b is None else a / b


def model_arguments(doc: str | None, calls: int, argv: list[str] | None) -> argparse.Namespace:
    """The predict benchmarks' options: ``--model`` (default: the promoted shipped model), ``--blocks``, ``--calls``."""
    from scripts.cli import promoted_shipped_model

    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a checkpoint (default: the promoted model in models/)")
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--calls", type=int, default=calls)
    args = parser.parse_args(argv)
    args.model = args.model or str(promoted_shipped_model())
    return args
