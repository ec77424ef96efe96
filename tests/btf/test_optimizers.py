"""Optimizers and the one engine's training loop: each update rule against its textbook form,
and the seed form against a float64 port of network.py's per-sample loop."""

import copy

import numpy as np
import pytest

import btf
from btf.optimizers import Optimizer
from tests.support import network_py


def _oracle_steps(name, p, grads, lr, l2):
    p, m, v = p.astype(np.float64), 0.0, 0.0
    for t, g in enumerate(grads, 1):
        p = p - lr * l2 * p  # decoupled weight decay on a weight (AdamW's form; for SGD, the L2 gradient)
        if name == "sgd":
            p = p - lr * g
        elif name == "momentum":
            m = 0.9 * m - lr * g
            p = p + m
        else:
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            # The paper's efficient form (bias correction folded into the step) is the textbook
            # update with epsilon scaled by 1/sqrt(1 - beta2^t).
            m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
            p = p - lr * m_hat / (np.sqrt(v_hat) + 1e-7 / np.sqrt(1 - 0.999**t))
    return p


@pytest.mark.parametrize("scale", [1.0, 1e-7], ids=["unit", "tiny"])  # tiny: Adam's epsilon dominates
@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_optimizers_follow_their_update_rules(name, scale):
    rng = np.random.default_rng(0)
    start = rng.standard_normal((3, 4)).astype(np.float32)
    grads = [(scale * rng.standard_normal((3, 4))).astype(np.float32) for _ in range(5)]
    p = start.copy()
    opt = Optimizer(name, 0.01, l2=0.1 * scale)
    for g in grads:
        opt.update([p], [g * opt.gradient_scale])
    np.testing.assert_allclose(p, _oracle_steps(name, start, grads, 0.01, 0.1 * scale), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_dense_graphs_take_every_optimizer(name, blobs):
    net = btf.Graph(
        (12, 8, 3),
        learning_rate=0.05 if name == "adam" else 0.5,
        batch_size=16,
        cost="cross_entropy",
        optimizer=name,
        seed=0,
    )
    net.feed(*blobs)
    net.run(8, progress=False, log=None)
    assert net.accuracy() > 0.9


@pytest.mark.parametrize(
    "kw", [{}, {"activation": "relu", "cost": "cross_entropy", "l2": 1e-3}], ids=["seed", "relu-ce-l2"]
)
def test_the_seed_form_trains_as_the_original_per_sample_loop(blobs, kw):
    """Three epochs of btf's whole-batch float32 SGD end where network.py's float64 loop ends.

    The oracle (tests/support/network_py.py) starts from btf's weights and replays btf's
    shuffle (one permutation per epoch from the Graph's generator); any BLAS kernel's
    summation order stays well inside the tolerance.
    """
    (X, y), _ = blobs
    net = btf.Graph((12, 8, 3), learning_rate=1.0, batch_size=16, seed=0, **kw)
    start_w, start_b = (
        [layer.params[0].copy() for layer in net.layers],
        [layer.params[1].copy() for layer in net.layers],
    )
    shuffles = copy.deepcopy(net.rng)
    net.feed((X, y))
    net.run(3, progress=False, log=None)
    orders = [shuffles.permutation(len(X)) for _ in range(3)]
    want_w, want_b = network_py.train(start_w, start_b, X, np.eye(3)[y], orders, 16, 1.0, **kw)
    for got, want in zip(net.params, [p for pair in zip(want_w, want_b) for p in pair]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert max(float(np.abs(layer.params[0] - s).max()) for layer, s in zip(net.layers, start_w)) > 0.05  # it trained


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_weight_decay_is_one_rule_on_weights_only(name):
    """With zero gradients, only decay acts: every weight shrinks by lr * l2 of itself; biases and
    BatchNorm's 1-D scale and shift never do, whatever the optimizer."""
    weight, bias = np.ones((3, 2), np.float32), np.ones(2, np.float32)
    opt = Optimizer(name, 0.1, l2=0.5)
    opt.update([weight, bias], [np.zeros_like(weight), np.zeros_like(bias)])
    np.testing.assert_allclose(weight, 1 - 0.1 * 0.5, rtol=1e-6)
    np.testing.assert_array_equal(bias, 1)


def test_the_reported_loss_counts_the_decayed_weights_only(blobs):
    net = btf.Graph((12, 8, 3), learning_rate=0.5, batch_size=16, l2=0.1, seed=0)
    plain = net.evaluate(blobs[1])["loss"] - 0.05 * sum(float(np.square(layer.params[0]).sum()) for layer in net.layers)
    net.l2 = 0.0
    assert plain == pytest.approx(net.evaluate(blobs[1])["loss"], rel=1e-5)


def test_a_decay_that_would_flip_weights_is_refused_before_training(blobs):
    net = btf.Graph((12, 8, 3), learning_rate=3.0, batch_size=16, l2=0.5, seed=0)
    net.feed(*blobs)
    with pytest.raises(btf.ConfigError, match="learning_rate \\* l2"):
        net.run(1, progress=False, log=None)


def test_a_loaded_graph_trains_reproducibly_with_a_seed(blobs):
    blob = btf.Graph((12, 8, 3), seed=0).to_bytes()
    runs = []
    for _ in range(2):
        net = btf.Graph.load(blob, seed=7)
        net.feed(*blobs)
        net.run(1, progress=False, log=None)
        runs.append(net.params)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
