"""Single-image reading cost of shipped models, as the API reads: ``btf.digits.read`` on one input.

    python -m benchmarks.bench_single [--model models/model-v5.npz --model models/model-v6.npz] [--calls 2000]

The models are timed in interleaved blocks in one process (so machine noise hits them
alike), in wall time and in CPU time (``time.process_time``, steadier on a shared machine),
with one BLAS thread: a single image gains nothing from a second. Prints each model's
median and p99, and its median against the first model's.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import btf  # noqa: E402
from btf import digits  # noqa: E402
from btf.images.vision import image_to_input  # noqa: E402
from btf.store import open_store, registry  # noqa: E402
from scripts.make_events import canvas_seven  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", action="append", help="a checkpoint (default: v5 and the promoted latest)")
    p.add_argument("--calls", type=int, default=2000)
    args = p.parse_args(argv)
    latest = registry.latest_version(open_store(str(ROOT / "models")))
    paths = args.model or [str(ROOT / "models" / f"model-v{v}.npz") for v in sorted({5, latest})]
    nets = [btf.Graph.load(path) for path in paths]
    x = image_to_input(canvas_seven())[None, :]
    wall: list[list[float]] = [[] for _ in nets]
    cpu: list[list[float]] = [[] for _ in nets]
    for net in nets:
        digits.read(net, x)  # warm
    for _ in range(max(1, args.calls // 100)):
        for i, net in enumerate(nets):
            for _ in range(100):
                w, c = time.perf_counter(), time.process_time()
                digits.read(net, x)
                cpu[i].append(time.process_time() - c)
                wall[i].append(time.perf_counter() - w)
    base = np.median(cpu[0])
    for path, w, c in zip(paths, wall, cpu):
        print(
            f"{Path(path).name:16} wall median {np.median(w) * 1e3:.3f} ms p99 {np.percentile(w, 99) * 1e3:.3f} ms;"
            f" cpu median {np.median(c) * 1e3:.3f} ms ({np.median(c) / base:.2f}x the first)"
        )


if __name__ == "__main__":
    main()
