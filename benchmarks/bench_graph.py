"""Benchmark btf.Graph training and prediction against a per-sample loop and PyTorch, in one process.

    python -m benchmarks.bench_graph [--data ../shared/data/mnist] [--repeats 3]

One epoch of the original config (784-30-10, sigmoid, quadratic, lr 3.0) over the train
split, best of ``--repeats``, at batch 128 and batch 10. Figures are ratios against
references timed in the same process, because absolute times on shared machines are noise.
PyTorch runs only when it is installed (``pip install torch==2.13.0``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import btf
from benchmarks.common import best_of, predict_latency, ratio, shown
from btf.data import load

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


def torch_epoch_fn(X: np.ndarray, Y: np.ndarray, batch_size: int):
    try:
        import torch
    except ImportError:
        return None
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
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    X, y = load(args.data)["train"]
    Y = np.eye(10, dtype=np.float32)[y]
    print(f"data: {len(X)} training digits; one epoch, best of {args.repeats}")
    print(f"{'batch':>5} {'btf s':>8} {'loop s':>8} {'loop/btf':>9} {'torch s':>8} {'btf/torch':>9}")
    for batch in (128, 10):
        net = btf.Graph(SIZES, LR, batch, seed=0)
        net.feed((X, y))
        t_btf = best_of(args.repeats, net.train_epoch)
        t_ref = best_of(args.repeats, lambda b=batch: reference_epoch(X, Y, b))
        torch_fn = torch_epoch_fn(X, Y, batch)
        t_torch = best_of(args.repeats, torch_fn[0]) if torch_fn else None
        torch_ratio = shown(ratio(t_btf, t_torch), "8.2f", "x")
        print(f"{batch:>5} {t_btf:8.3f} {t_ref:8.3f} {t_ref / t_btf:8.1f}x {shown(t_torch, '8.3f')} {torch_ratio}")
    if torch_fn:
        print(f"torch {torch_fn[1]}, threads {__import__('torch').get_num_threads()}")
    net = btf.Graph(SIZES, LR, 128, seed=0)
    median, p99 = predict_latency(net, X[0], 2000)
    print(f"single-image predict: median {median * 1e6:.1f} us, p99 {p99 * 1e6:.1f} us")


if __name__ == "__main__":
    main()
