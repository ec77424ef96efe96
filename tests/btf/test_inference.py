"""btf.inference: the fused prediction path answers as the layers' own forward passes do, on every layer kind.

The reference is each layer's ``forward(x, training=False)`` in turn; the fused path reorders
float32 arithmetic (BatchNorm folded into a scale and shift, pooling before them), so the
two agree to a tolerance, not to the bit.
"""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import btf
from btf.batchnorm import BatchNorm
from btf.inference import Inference
from btf.specs import parse_layers
from tests.conftest import ROOT

SHIPPED = sorted((ROOT / "models").glob("model-v*.npz"))


def reference(graph: btf.Graph, X: np.ndarray) -> np.ndarray:
    """The last layer's output, layer by layer, as training's forward computes it (outside training)."""
    a = X.reshape(len(X), *graph.input_shape)
    for layer in graph.layers:
        a = layer.forward(a, False)
    return a


def randomised(graph: btf.Graph, seed: int, negative_gamma: bool) -> btf.Graph:
    """Every parameter drawn at random (zero biases or unit statistics would hide a misplaced one)."""
    rng = np.random.default_rng(seed)
    for p in graph.params:
        scale = 1.5 / np.sqrt(p.shape[0]) if p.ndim > 1 else 0.3
        p[...] = rng.standard_normal(p.shape).astype(np.float32) * np.float32(scale)
    for layer in graph.layers:
        if isinstance(layer, BatchNorm):
            gamma, _, _, var = layer.params
            var[...] = np.abs(var) + np.float32(0.5)
            gamma[...] = np.abs(gamma) + np.float32(0.1)  # all positive: pooling may run first...
            if negative_gamma:
                gamma[::2] *= -1  # ...unless a channel is mirrored, when the layers' order is kept
    return graph


def assert_close(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape and got.dtype == np.float32
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * scale)


# Each layer kind and activation, both paddings, pools that drop leftover rows (odd sizes, pool3),
# a pool with no conv before it, a conv with an activation before its BatchNorm, BatchNorm first,
# dense BatchNorm, non-square inputs with several channels.
STACKS = [
    ("conv8:3,pool2,dense10", (28, 28, 1)),
    ("conv6:5:sigmoid:same,pool3,flatten,dense32:sigmoid,dense10", (28, 28, 1)),
    ("conv4:3:linear,conv5:2:relu:same,pool2,dropout0.3,dense16,dropout0.2,dense10", (28, 28, 1)),
    ("conv3:3:same,pool2,dense10:linear", (7, 112, 1)),
    ("conv5:3,conv4:1:sigmoid,pool2,flatten,dense10", (14, 28, 2)),
    ("conv6:3,bn,pool2,conv5:3:sigmoid,bn:linear,dense16,bn,dense11", (14, 28, 2)),
    ("conv32:3,bn,pool2,conv64:3,bn,pool2,dense128,bn,dropout0.3,dense11", (28, 28, 1)),
    ("conv6:3:relu,bn:sigmoid,pool2,pool2,dense10", (28, 28, 1)),
    ("bn,conv4:3:linear,pool3,bn:relu,dense8:linear,bn:sigmoid,dense10", (13, 17, 3)),
    ("conv4:3:linear,bn:linear,pool2,dense10", (9, 9, 1)),
    ("dense64,bn,dropout0.5,dense32:sigmoid,dense10", (784,)),
    ("dense10", (784,)),
]


@pytest.mark.parametrize("negative_gamma", [False, True], ids=["pool-first", "mirrored-channels"])
@pytest.mark.parametrize("spec,shape", STACKS, ids=[s[0] for s in STACKS])
def test_every_layer_kind_answers_as_the_layers_forward_does(spec, shape, negative_gamma):
    graph = btf.Graph(parse_layers(spec), input_shape=shape, cost="cross_entropy", seed=1)
    randomised(graph, len(spec), negative_gamma)
    X = np.random.default_rng(2).random((9, int(np.prod(shape))), dtype=np.float32)
    kept = X.copy()
    for n in (1, 2, 9):
        expected = reference(graph, X[:n])
        assert_close(Inference(graph.layers)(X[:n].reshape(n, *shape)), expected)
        assert_close(graph.feedforward(X[:n]), graph._forward(X[:n], training=False))
    assert np.array_equal(X, kept)  # nothing done in place to the caller's input


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_model_predicts_as_the_layers_forward_does(path):
    graph = btf.Graph.load(path)
    X = np.random.default_rng(3).random((40, 784), dtype=np.float32) ** 3  # mostly dark, as digits are
    assert_close(graph.feedforward(X), graph._forward(X, training=False))
    labels, confidences = graph.predict(X)
    assert (labels == graph._forward(X, training=False).argmax(axis=1)).mean() > 0.95  # near-ties may differ


def test_an_empty_batch_and_chunked_batches():
    graph = btf.Graph(parse_layers("conv300:1,pool3,flatten,dense10"), cost="cross_entropy", seed=0)
    randomised(graph, 0, False)
    assert graph.feedforward(np.zeros((0, 784), np.float32)).shape == (0, 10)
    X = np.random.default_rng(0).random((100, 784), dtype=np.float32)  # more rows than one chunk holds
    assert_close(graph.feedforward(X), graph._forward(X, training=False))


def test_the_fused_path_reads_the_parameters_live():
    # Training, or any edit in place, shows in the next prediction: no folded copy goes stale.
    graph = btf.Graph(parse_layers("conv6:3,bn,pool2,dense16,bn,dense10"), cost="cross_entropy", seed=0)
    X = np.random.default_rng(1).random((16, 784), dtype=np.float32)
    before = graph.feedforward(X)
    graph.feed((X, np.arange(16) % 10))
    graph.train_epoch()
    after = graph.feedforward(X)
    assert not np.allclose(before, after)
    assert_close(after, graph._forward(X, training=False))
    graph.layers[1].params[0][...] *= -1  # mirror every channel's BatchNorm scale
    assert_close(graph.feedforward(X), graph._forward(X, training=False))


_LAYER = st.sampled_from(["conv3:3", "conv4:2:sigmoid", "conv2:3:linear:same", "conv5:1:linear", "bn", "bn:relu",
                          "bn:linear", "pool2", "pool3", "dropout0.4"])  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    body=st.lists(_LAYER, min_size=1, max_size=5),
    head=st.lists(st.sampled_from(["dense7", "dense5:sigmoid", "bn", "dense6:linear"]), max_size=3),
    shape=st.tuples(st.integers(4, 12), st.integers(4, 12), st.integers(1, 3)),
    negative_gamma=st.booleans(),
    seed=st.integers(0, 2**16),
)
@example(body=["conv3:3", "bn", "pool2"], head=[], shape=(9, 7, 2), negative_gamma=True, seed=0)
@example(body=["bn:linear", "pool3"], head=["bn"], shape=(4, 4, 1), negative_gamma=False, seed=1)
def test_any_stack_answers_as_the_layers_forward_does(body, head, shape, negative_gamma, seed):
    try:
        layers = parse_layers(",".join([*body, "flatten", *head, "dense4"]))
        graph = btf.Graph(layers, input_shape=shape, cost="cross_entropy", seed=seed)
    except btf.ConfigError:
        return  # a stack that does not fit the shape (pools and kernels larger than what reaches them)
    randomised(graph, seed, negative_gamma)
    X = np.random.default_rng(seed).random((3, int(np.prod(shape))), dtype=np.float32)
    assert_close(Inference(graph.layers)(X.reshape(3, *shape)), reference(graph, X))
