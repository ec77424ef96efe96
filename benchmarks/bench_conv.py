"""btf's conv layers against PyTorch CPU, side by side in one process.

    .venv/bin/python -m benchmarks.bench_conv [--data ../shared/data/mnist] [--repeats 3]
    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_conv --cpu --torch-threads 1

``--cpu`` times the conv epochs in CPU seconds (every thread's), btf's and PyTorch's runs
interleaved: on a machine shared with other work, the figure that noise disturbs least. With
one thread each (btf's BLAS threads come from OPENBLAS_NUM_THREADS, read when numpy loads)
it compares the work each library does rather than how they share out cores.

- A conv training epoch: conv32:3,pool2,conv64:3,pool2,dense128,dropout0.3,dense10 over the
  10,000 training digits, batch 64, Adam, with the same thread count for both; then where
  btf's time goes, layer by layer, forward and backward.
- (The seed's dense network, against PyTorch and a plain numpy loop: benchmarks/bench_graph.py.)
- Single-image predict of the conv network.

Figures are ratios against references timed in the same process (absolute times on a shared
machine are noise). PyTorch runs only when installed (``pip install torch==2.13.0``).
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

import btf
from benchmarks.common import best_interleaved, predict_latency, ratio, shown
from btf.data import load
from btf.specs import parse_layers

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
CONV = "conv32:3,pool2,conv64:3,pool2,dense128,dropout0.3,dense10"


def torch_conv_epoch(X: np.ndarray, y: np.ndarray):
    import torch

    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10),
    )  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    tX, ty = torch.from_numpy(X.reshape(-1, 1, 28, 28)), torch.from_numpy(y)

    def epoch() -> None:
        order = torch.randperm(len(tX))
        for start in range(0, len(tX), 64):
            idx = order[start : start + 64]
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(tX[idx]), ty[idx]).backward()
            opt.step()

    return epoch


def profile_layers(net: btf.Graph) -> dict[str, float]:
    """Seconds per layer and direction over one epoch, by wrapping each layer's forward and backward."""
    spent: dict[str, float] = defaultdict(float)
    for i, layer in enumerate(net.layers):
        label = f"{i}:{layer.spec()}"
        for name in ("forward", "backward"):
            real = getattr(layer, name)

            def timed(*args, real=real, key=f"{label} {name}"):
                start = time.perf_counter()
                try:
                    return real(*args)
                finally:
                    spent[key] += time.perf_counter() - start

            setattr(layer, name, timed)
    start = time.perf_counter()
    net.train_epoch()
    spent["total"] = time.perf_counter() - start
    return spent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpu", action="store_true", help="time the conv epochs in CPU seconds, interleaved")
    parser.add_argument("--torch-threads", type=int, default=None, help="PyTorch's intra-op threads")
    args = parser.parse_args(argv)
    X, y = load(args.data)["train"]
    try:
        import torch

        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        threads = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    except ImportError:
        torch, threads = None, "torch not installed"
    print(f"data: {len(X)} training digits; best of {args.repeats}; {threads}")

    net = btf.Graph(
        parse_layers(CONV), learning_rate=1e-3, batch_size=64, cost="cross_entropy", optimizer="adam", seed=0
    )
    net.feed((X, y))
    epochs = {"btf": net.train_epoch, **({"torch": torch_conv_epoch(X, y)} if torch else {})}
    best = best_interleaved(args.repeats, epochs, time.process_time if args.cpu else time.perf_counter)
    t_btf, t_torch = best["btf"], best.get("torch")
    blas = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(
        f"conv epoch (batch 64, Adam; {'CPU' if args.cpu else 'wall'} time, btf BLAS threads {blas}):"
        f" btf {t_btf:.2f} s, torch {shown(t_torch, '.2f', ' s')},"
        f" btf/torch {shown(ratio(t_btf, t_torch), '.2f', 'x')}"
    )

    median, p99 = predict_latency(net, X[0], 1000)
    print(f"conv single-image predict: median {median * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms")

    spent = profile_layers(net)
    total = spent.pop("total")
    print(f"where a btf conv epoch goes ({total:.2f} s with timers):")
    for key, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {key:32} {seconds:6.2f} s  {seconds / total:6.1%}")
    print(f"  {'rest (batching, softmax, Adam)':32} {total - sum(spent.values()):6.2f} s")


if __name__ == "__main__":
    main()
