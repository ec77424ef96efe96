"""What the largest models btf's loader admits cost, and what refusing the others costs.

    .venv/bin/python -m benchmarks.bench_model_cost

- **Admitted**: for each family of architectures (deep stacks of 15x15 or 3x3 convolutions,
  wide 1x1 convolutions, pooling stacks, dense stacks), the largest member the limits let
  through, found by searching the footprint; the widest dense network; and v5 for reference.
  For each: its footprint, file size, the CPU time and traced peak memory of a cache miss
  (``Graph.load`` and the digit contract's probes, as the predict function does), and the
  CPU time of one cached predict of one image and of 16.
- **Refused**: the models of issue 17 that cost too much, and "lying" zip bombs of 255 MiB
  of zeros whose sizes understate or overstate; the CPU time and traced memory of refusing.
- **The cache**: nine of the widest dense networks (784-10000-10, 32 MB of parameters each),
  asked for in turn twice through the predict function's ModelCache with its default byte
  budget: how many stay cached, what they are charged, and the process's peak RSS.

One BLAS thread (Lambda at 1024 MB has about 0.6 of a vCPU), weights random (so files do not
compress). CPU time (``time.process_time``), since the machine may be shared; memory is the
peak traced by tracemalloc (numpy's buffers included), over what was allocated before.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import btf  # noqa: E402
from btf import footprint  # noqa: E402
from btf.digits import check_digit_model  # noqa: E402
from btf.specs import parse_layers  # noqa: E402
from tests.support.models import OVER_LIMITS, layered_model, tiny_model, zeros_member  # noqa: E402

V5 = "conv32:3,pool2,conv64:3,pool2,dense128,dropout0.3,dense10"
FAMILIES = {
    "15x15 conv stack": lambda n: ",".join(["conv1:15:same"] * n) + ",dense10",
    "3x3 conv stack": lambda n: ",".join(["conv8:3:same"] * n) + ",dense10",
    "wide 1x1 conv": lambda n: f"conv{8 * n}:1,dense10",
    "wide 3x3 conv": lambda n: f"conv32:3:same,conv{4 * n}:3:same,pool2,dense10",
    "wide 5x5 convs": lambda n: f"conv{n}:5:same,conv{n}:5:same,pool2,dense10",
    "pooling stack": lambda n: "conv32:1," + ",".join(["pool1"] * n) + ",dense10",
    "dense stack": lambda n: ",".join(["dense1024"] * n) + ",dense10",
}


def largest(make) -> str:
    """The largest ``make(n)``, n in 1..200, whose footprint is within the limits."""
    best = None
    for n in range(1, 201):
        try:
            layers = parse_layers(make(n))
            if footprint.LIMITS.problem(footprint.of_layers(layers, (28, 28, 1))) is None:
                best = make(n)
        except btf.ConfigError:
            continue
    return best


def random_weights(net: btf.Graph) -> bytes:
    rng = np.random.default_rng(0)
    for p in net.params:
        p[...] = rng.standard_normal(p.shape, dtype=np.float32) * np.float32(0.01)
    return net.to_bytes({})


def peak_mib(fn) -> float:
    """The peak memory tracemalloc sees while ``fn()`` runs, in MiB."""
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def cpu_ms(fn, calls: int) -> float:
    """Mean CPU milliseconds of ``fn()`` over ``calls`` calls, after one to warm up."""
    fn()
    start = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - start) / calls * 1e3


def refuse(blob: bytes) -> None:
    try:
        btf.Graph.load(blob)
    except btf.CheckpointError:
        return
    raise AssertionError("the model was loaded")


def refused(name: str, blob: bytes) -> None:
    print(f"  {name:34} {cpu_ms(lambda: refuse(blob), 3):8.1f} {peak_mib(lambda: refuse(blob)):6.1f}")


def admitted(name: str, net: btf.Graph) -> None:
    blob = random_weights(net)
    cost = net.footprint
    load_ms = cpu_ms(lambda: check_digit_model(btf.Graph.load(blob)), 3)
    # The file is read inside the traced span (a fresh copy), as a cache miss holds it.
    load_mib = peak_mib(lambda: check_digit_model(btf.Graph.load(bytes(memoryview(blob)))))
    one, batch = np.random.default_rng(0).random((2, 16, 784), dtype=np.float32)
    one = one[:1]
    print(
        f"  {name:17} {cost.parameters:>10,} {cost.peak_bytes / 2**20:6.2f} {cost.work / 1e6:6.1f}"
        f" {len(blob) / 2**20:7.1f} {load_ms:8.0f} {load_mib:7.1f}"
        f" {cpu_ms(lambda: net.predict(one), 50):8.2f} {cpu_ms(lambda: net.predict(batch), 10):8.1f}"
    )


def main() -> None:
    limits = footprint.LIMITS
    print(
        f"limits: {limits.parameters:,} parameters, {limits.peak_bytes / 2**20:g} MiB working memory and"
        f" {limits.work / 1e6:g} M multiply-adds of work per image"
    )
    print("admitted (largest of each family)                     file    load+probes        predict CPU ms")
    print("  model                 params    MiB  Mwork     MiB   CPU ms   MiB        1 image  16 images")
    admitted("v5 (reference)", btf.Graph(parse_layers(V5), cost="cross_entropy", seed=0))
    for name, make in FAMILIES.items():
        admitted(name, btf.Graph(parse_layers(largest(make)), cost="cross_entropy", seed=0))
    admitted("dense 784-10000-10", btf.Graph((784, 10000, 10), cost="cross_entropy", seed=0))
    print("refused (issue 17)                     CPU ms   MiB")
    for name, (spec, _) in OVER_LIMITS.items():
        blob = layered_model(spec, weights="thirty" not in name)
        refused(name, blob)
    good = tiny_model()
    for name, kwargs in {
        "lying zip: directory says 10 B": {"claim": 10},
        "zip: header over the limit": {},
        "zip: payload longer than header": {"declared": 10},
    }.items():
        blob = zeros_member(good, "padding.npy", 255 << 20, **kwargs)
        refused(name, blob)


def cache_cycle(folder: Path) -> None:
    from btf.store import open_store
    from functions.predict.cache import ModelCache
    from functions.predict.config import Settings

    store = open_store(str(folder))
    for seed in range(9):
        store.publish(random_weights(btf.Graph((784, 10000, 10), cost="cross_entropy", seed=seed)))
    budget = Settings.from_env().model_cache_mb << 20
    cache = ModelCache(lambda: open_store(str(folder)), max_bytes=budget)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.process_time()
    for version in [*range(1, 10), *range(1, 10)]:
        cache.get(version)
    seconds = time.process_time() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"cache: 9 x 784-10000-10 asked for in turn twice, budget {budget >> 20} MiB: {len(cache.cached_versions())}"
        f" cached, {cache.cached_bytes() / 2**20:.0f} MiB charged; peak RSS {before:.0f} -> {after:.0f} MiB;"
        f" {seconds / 18 * 1e3:.0f} ms CPU a request (a miss reloads)"
    )


if __name__ == "__main__":
    main()
    with tempfile.TemporaryDirectory() as tmp:
        cache_cycle(Path(tmp))
