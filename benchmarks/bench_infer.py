"""btf's predict against onnxruntime and PyTorch running the same weights, one thread each, in one process.

    .venv/bin/python -m benchmarks.bench_infer [--model models/model-v7.npz] [--blocks 20] [--calls 100]

The promoted model by default. onnxruntime runs ``btf.onnx.to_onnx`` of it; PyTorch runs its
twin (benchmarks/twins.py: the same layers and weights, channels-last converted as btf.onnx
does). Each predicts one image, then a batch of 16, from MNIST's test digits (random images
when the data set is not on disk), returning confidences: btf's ``Graph.predict``, the ONNX
graph (which ends in the same softmax), and the twin's logits through ``torch.softmax``.
"btf, layers" is the same model through its layers' own forward passes, the path training
uses and prediction used before btf.inference: the gain of the fused path, timed alongside.

One thread each, as the predict function runs (OPENBLAS_NUM_THREADS=1 is set here before
numpy loads; ``torch.set_num_threads(1)``; onnxruntime's intra- and inter-op pools of 1).
The runtimes take turns in blocks of ``--calls`` calls, ``--blocks`` times, so other work on
a shared machine hits each alike; each figure is the median over the blocks of the time per
call, in CPU time (``time.process_time``, every thread's) and wall time. PyTorch and
onnxruntime columns read n/a when they are not installed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import btf  # noqa: E402
from benchmarks.common import model_arguments, ratio, shown  # noqa: E402
from btf import costs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist"


def digits(n: int) -> np.ndarray:
    """``n`` test digits as predict takes them, or random images when MNIST is not on disk."""
    if MNIST.is_dir():
        from btf.data import load_idx_folder

        return load_idx_folder(MNIST)["test"][0][:n]
    return np.random.default_rng(0).random((n, 784), dtype=np.float32) ** 3


def onnxruntime_predict(graph: btf.Graph) -> Callable[[np.ndarray], np.ndarray] | None:
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    from btf.onnx import INPUT, to_onnx

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(to_onnx(graph).SerializeToString(), options, providers=["CPUExecutionProvider"])
    return lambda X: session.run(None, {INPUT: X})[0]


def torch_predict(graph: btf.Graph) -> Callable[[np.ndarray], np.ndarray] | None:
    try:
        import torch
    except ImportError:
        return None
    from benchmarks.twins import torch_twin

    torch.set_num_threads(1)
    model = torch_twin(graph)

    def predict(X: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return torch.softmax(model(torch.from_numpy(X)), dim=1).numpy()

    return predict


def versions() -> str:
    found = []
    for name in ("torch", "onnxruntime"):
        try:
            found.append(f"{name} {__import__(name).__version__}")
        except ImportError:
            found.append(f"{name} not installed")
    return ", ".join(found)


def timed(runners: dict[str, Callable[[], object]], blocks: int, calls: int) -> dict[str, tuple[float, float]]:
    """{name: (median CPU s, median wall s) per call}, the runners taking turns in blocks of ``calls`` calls."""
    cpu: dict[str, list[float]] = {name: [] for name in runners}
    wall: dict[str, list[float]] = {name: [] for name in runners}
    for run in runners.values():  # warm: first-call allocations, lazy initialisation
        for _ in range(max(1, calls // 10)):
            run()
    for _ in range(blocks):
        for name, run in runners.items():
            c, w = time.process_time(), time.perf_counter()
            for _ in range(calls):
                run()
            cpu[name].append((time.process_time() - c) / calls)
            wall[name].append((time.perf_counter() - w) / calls)
    return {name: (float(np.median(cpu[name])), float(np.median(wall[name]))) for name in runners}


def layer_by_layer(graph: btf.Graph, rows: np.ndarray) -> np.ndarray:
    """The output as the layers' own ``forward`` passes compute it (btf.inference's reference)."""
    a = rows.reshape(len(rows), *graph.input_shape)
    for layer in graph.layers:
        a = layer.forward(a, False)
    return costs.output(graph.cost, a)


def main(argv: list[str] | None = None) -> None:
    args = model_arguments(__doc__, 100, argv)
    graph = btf.Graph.load(args.model)
    others = {"onnxruntime": onnxruntime_predict(graph), "torch": torch_predict(graph)}
    X = digits(16)
    print(f"{Path(args.model).name}: {','.join(layer.spec() for layer in graph.layers)}; {graph.sizes[-1]} outputs")
    print(f"one thread each (OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}); {versions()}")
    expected = graph.predict(X)[1]
    agree = [f"max |btf - {k}| {np.abs(fn(X) - expected).max():.1e}" for k, fn in others.items() if fn]
    print(f"same weights, 16 digits: {'; '.join(agree) or 'nothing to compare'}")
    print(f"per call, median of {args.blocks} interleaved blocks of {args.calls} calls:")
    print(f"  {'':22}{'btf':>9}{'onnxruntime':>13}{'torch':>9}{'btf, layers':>13}")
    results = {}
    for n in (1, 16):
        x = X[0] if n == 1 else X[:n]
        rows = x[None] if n == 1 else x
        runners = {"btf": lambda x=x: graph.predict(x)}
        runners.update({k: (lambda fn=fn, rows=rows: fn(rows)) for k, fn in others.items() if fn})
        runners["layers"] = lambda rows=rows: layer_by_layer(graph, rows)
        results[n] = timed(runners, args.blocks, args.calls)
        for i, clock in enumerate(("CPU", "wall")):
            cells = [shown(results[n][k][i] * 1e3 if k in results[n] else None, "9.3f")
                     for k in ("btf", "onnxruntime", "torch", "layers")]  # fmt: skip
            label = f"{n} image{'s' if n > 1 else ''}, {clock} ms"
            print(f"  {label:22}{cells[0]}{cells[1]:>13}{cells[2]:>9}{cells[3]:>13}")
    for n, other, target in ((1, "onnxruntime", "<= 2x"), (16, "torch", "<= 1x")):
        got = results[n].get(other)
        cells = [shown(ratio(results[n]["btf"][i], got and got[i]), ".2f", "x") for i in (0, 1)]
        print(f"btf / {other}, {n} image{'s' if n > 1 else ''}: {cells[0]} CPU, {cells[1]} wall (target {target})")
    r = [results[n]["layers"][0] / results[n]["btf"][0] for n in (1, 16)]
    print(f"fused path's gain over the layers' forward (CPU): {r[0]:.2f}x for 1 image, {r[1]:.2f}x for 16")


if __name__ == "__main__":
    main()
