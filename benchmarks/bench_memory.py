"""Peak memory of a conv training epoch: btf against PyTorch, each in fresh processes, one thread each.

    .venv/bin/python -m benchmarks.bench_memory [--data ../shared/data/mnist] [--runs 3]

The network of benchmarks/bench_conv.py (the v5 architecture: conv32:3,pool2,conv64:3,pool2,
dense128,dropout0.3,dense10), 10,000 training digits, batch 64, Adam. Each library runs in a
child process of its own, which imports it, loads the digits, and then measures how far its
resident memory rises above that point while it builds the network and trains one epoch:
the peak resident set (VmHWM, reset to the current size through /proc/self/clear_refs just
before; ru_maxrss where that is not available) minus the resident set before. The children
alternate, ``--runs`` times each; the figure is the median. PyTorch's column reads n/a when
it is not installed. Memory does not depend on the machine's load, unlike time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.common import ratio, shown

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist"


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Set the peak resident size to the current one (Linux 4.0 on); False if this system cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def _peak_growth(train) -> float:
    """MiB by which ``train()`` raises the resident set above what it was just before."""
    before = _status_kib("VmRSS")
    if before is not None and _reset_peak():
        train()
        return (_status_kib("VmHWM") - before) / 1024
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    train()  # the peak so far includes start-up: growth above it only
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024


def _btf_epoch(X, y):
    import btf
    from benchmarks.bench_conv import CONV
    from btf.specs import parse_layers

    def train() -> None:
        net = btf.Graph(
            parse_layers(CONV), learning_rate=1e-3, batch_size=64, cost="cross_entropy", optimizer="adam", seed=0
        )
        net.feed((X, y))
        net.train_epoch()

    return train


def _torch_epoch(X, y):
    import torch

    from benchmarks.bench_conv import torch_conv_epoch

    torch.set_num_threads(1)
    return lambda: torch_conv_epoch(X, y)()


def child(library: str, data: str) -> None:
    """In a fresh process: import ``library``, load the digits, print the epoch's peak growth in MiB."""
    if library == "torch":
        import torch  # noqa: F401 - its import is part of the baseline, not of the growth
    else:
        import btf  # noqa: F401
    from btf.data import load

    X, y = load(data)["train"]
    train = (_torch_epoch if library == "torch" else _btf_epoch)(X, y)
    print(f"{_peak_growth(train):.2f}")


def _run(library: str, data: str) -> float | None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "benchmarks.bench_memory", "--child", library, "--data", data]
    out = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)  # noqa: S603 - our own interpreter
    if out.returncode != 0:
        if library == "torch" and "No module named 'torch'" in out.stderr:
            return None
        raise SystemExit(f"the {library} child failed:\n{out.stderr}")
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", choices=("btf", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.data)
        return
    runs: dict[str, list[float]] = {"btf": [], "torch": []}
    for _ in range(args.runs):
        for library in runs:
            got = _run(library, args.data)
            if got is not None:
                runs[library].append(got)
    med = {k: statistics.median(v) if v else None for k, v in runs.items()}
    print("peak resident memory over a conv training epoch (batch 64, Adam, 10,000 digits), one thread each,")
    print(f"above the process after its imports and the data load; median of {args.runs} fresh processes:")
    for library, values in runs.items():
        each = ", ".join(f"{v:.1f}" for v in values) or "not installed"
        print(f"  {library:6} {shown(med[library], '6.1f', ' MiB')}   (runs: {each})")
    print(f"  btf / torch {shown(ratio(med['btf'], med['torch']), '.2f', 'x')}  (target <= 1x)")


if __name__ == "__main__":
    main()
