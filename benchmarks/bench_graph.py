"""Benchmark btf.Graph training and prediction against a plain numpy loop, a per-sample loop and PyTorch, in one process.

    python -m benchmarks.bench_graph [--data ../shared/data/mnist] [--repeats 5]

One epoch of the original config (784-30-10, sigmoid, quadratic, lr 3.0) over the train
split, at batch 128 and batch 10, single-threaded (as the predict function runs; BLAS and
PyTorch alike). Each figure is the least of ``--repeats`` runs, the runs of btf and its
references interleaved, so other work on a shared machine hits each alike; the figures
that matter are the ratios. The references:

- ``numpy``: the same network and SGD as a plain vectorised numpy loop (one matrix product
  per layer and direction, nothing else): what btf's layers, optimizer and bookkeeping
  (the epoch's loss and accuracy) cost over the bare arithmetic;
- ``loop``: the original network.py's per-sample backprop;
- ``torch``: PyTorch's CPU build, when installed (``pip install torch==2.13.0``).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads: one BLAS thread, as in the function

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import btf  # noqa: E402
from benchmarks.common import best_interleaved, predict_latency, ratio, shown  # noqa: E402
from btf.data import load  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
SIZES = (784, 30, 10)
LR = 3.0


def reference_epoch(X: np.ndarray, Y: np.ndarray, batch_size: int, seed: int = 0) -> None:
    """The original algorithm: per-sample backprop over column vectors, summed per batch."""
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal((o, i), dtype=np.float32) / np.float32(np.sqrt(i)) for i, o in zip(SIZES[:-1], SIZES[1:])]
    bs = [np.zeros((o, 1), np.float32) for o in SIZES[1:]]
    order = rng.permutation(len(X))
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    for start in range(0, len(X), batch_size):
        nw = [np.zeros_like(w) for w in ws]
        nb = [np.zeros_like(b) for b in bs]
        batch = order[start : start + batch_size]
        for j in batch:
            x, y = X[j].reshape(-1, 1), Y[j].reshape(-1, 1)
            acts, a = [x], x
            for w, b in zip(ws, bs):
                a = sig(w @ a + b)
                acts.append(a)
            delta = (acts[-1] - y) * acts[-1] * (1 - acts[-1])
            for layer in range(len(ws) - 1, -1, -1):
                nw[layer] += delta @ acts[layer].T
                nb[layer] += delta
                if layer:
                    delta = (ws[layer].T @ delta) * acts[layer] * (1 - acts[layer])
        for w, b, gw, gb in zip(ws, bs, nw, nb):
            w -= np.float32(LR / len(batch)) * gw
            b -= np.float32(LR / len(batch)) * gb


def numpy_epoch_fn(X: np.ndarray, Y: np.ndarray, batch_size: int, seed: int = 0):
    """The same network and SGD, written as the plainest vectorised numpy: the floor btf is held to."""
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((784, 30), dtype=np.float32) / np.float32(28)
    w2 = rng.standard_normal((30, 10), dtype=np.float32) / np.float32(np.sqrt(30))
    b1, b2 = np.zeros(30, np.float32), np.zeros(10, np.float32)
    params = [w1, b1, w2, b2]

    def sig(z: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-z))

    def epoch() -> None:
        w1, b1, w2, b2 = params  # updated in place below
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            batch = order[start : start + batch_size]
            x, y = X[batch], Y[batch]
            a1 = sig(x @ w1 + b1)
            a2 = sig(a1 @ w2 + b2)
            d2 = (a2 - y) * a2 * (1 - a2) * np.float32(LR / len(batch))
            d1 = (d2 @ w2.T) * a1 * (1 - a1)
            w2 -= a1.T @ d2
            b2 -= d2.sum(axis=0)
            w1 -= x.T @ d1
            b1 -= d1.sum(axis=0)

    return epoch


def torch_epoch_fn(X: np.ndarray, Y: np.ndarray, batch_size: int):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 30), torch.nn.Sigmoid(), torch.nn.Linear(30, 10), torch.nn.Sigmoid()
    )
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)

    def epoch() -> None:
        order = torch.randperm(len(tX))
        Xs, Ys = tX[order], tY[order]
        for start in range(0, len(Xs), batch_size):
            xb, yb = Xs[start : start + batch_size], Ys[start : start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = 0.5 * ((model(xb) - yb) ** 2).sum() / len(xb)
            loss.backward()
            opt.step()

    return epoch, torch.__version__


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cpu", action="store_true", help="CPU time (every thread's) instead of wall time")
    args = parser.parse_args(argv)
    clock = time.process_time if args.cpu else time.perf_counter
    X, y = load(args.data)["train"]
    Y = np.eye(10, dtype=np.float32)[y]
    kind = "CPU" if args.cpu else "wall"
    print(f"data: {len(X)} training digits; one epoch, least of {args.repeats} interleaved runs, 1 thread, {kind} time")
    print(f"{'batch':>5} {'btf s':>7} {'numpy s':>7} {'btf/numpy':>9} {'torch s':>7} {'btf/torch':>9} {'loop/btf':>8}")
    for batch in (128, 10):
        net = btf.Graph(SIZES, LR, batch, seed=0)
        net.feed((X, y))
        fns = {"btf": net.train_epoch, "numpy": numpy_epoch_fn(X, Y, batch)}
        torch_fn = torch_epoch_fn(X, Y, batch)
        if torch_fn:
            fns["torch"] = torch_fn[0]
        best = best_interleaved(args.repeats, fns, clock)
        t_loop = best_interleaved(1, {"loop": lambda b=batch: reference_epoch(X, Y, b)}, clock)["loop"]
        t_btf, t_torch = best["btf"], best.get("torch")
        print(
            f"{batch:>5} {t_btf:7.3f} {best['numpy']:7.3f} {t_btf / best['numpy']:8.2f}x {shown(t_torch, '7.3f')}"
            f" {shown(ratio(t_btf, t_torch), '8.2f', 'x')} {t_loop / t_btf:7.1f}x"
        )
    if torch_fn:
        print(f"torch {torch_fn[1]}, threads {__import__('torch').get_num_threads()}")
    net = btf.Graph(SIZES, LR, 128, seed=0)
    median, p99 = predict_latency(net, X[0], 2000)
    print(f"single-image predict: median {median * 1e6:.1f} us, p99 {p99 * 1e6:.1f} us")


if __name__ == "__main__":
    main()
