"""The benchmarks' references measure what they say: the PyTorch twin answers as btf does, the peak growth sees a peak."""

import numpy as np
import pytest

import btf
from benchmarks.bench_memory import _peak_growth, _reset_peak
from btf.specs import parse_layers
from tests.conftest import ROOT


def test_the_peak_growth_counts_a_transient_allocation_and_not_what_came_before():
    if not _reset_peak():
        pytest.skip("this system cannot reset the peak resident size")
    big = np.ones(64 << 20, np.uint8)  # a peak before the measurement...
    del big
    assert _least_growth(lambda: None) < 16  # ...is not counted
    assert 30 <= _least_growth(lambda: np.ones(40 << 20, np.uint8).sum()) < 60


def _least_growth(work, tries: int = 3) -> float:
    # The resident size is the whole process's: a thread an earlier test left running can
    # allocate during one measurement, never during all three.
    return min(_peak_growth(work) for _ in range(tries))


@pytest.mark.parametrize(
    "graph",
    [
        btf.Graph.load(ROOT / "models" / "model-v7.npz"),
        btf.Graph(parse_layers("conv4:3:sigmoid:same,pool3,dense6,bn:relu,dense10"), input_shape=(13, 17, 2), seed=0),
    ],
    ids=["v7", "same-padding-channels"],
)
def test_the_pytorch_twin_answers_as_btf_does(graph):
    torch = pytest.importorskip("torch")
    from benchmarks.twins import torch_twin

    X = np.random.default_rng(0).random((5, graph.sizes[0]), dtype=np.float32)
    with torch.inference_mode():
        logits = torch_twin(graph)(torch.from_numpy(X)).numpy()
    assert np.allclose(logits, _logits(graph, X), atol=1e-4)


def _logits(graph: btf.Graph, X: np.ndarray) -> np.ndarray:
    a = X.reshape(len(X), *graph.input_shape)
    for layer in graph.layers:
        a = layer.forward(a, False)
    return a


def test_the_layer_by_layer_reference_answers_as_predict_does():
    from benchmarks.bench_infer import layer_by_layer

    graph = btf.Graph.load(ROOT / "models" / "model-v7.npz")
    X = np.random.default_rng(1).random((4, graph.sizes[0]), dtype=np.float32)
    assert np.allclose(layer_by_layer(graph, X), graph.feedforward(X), atol=1e-5)
