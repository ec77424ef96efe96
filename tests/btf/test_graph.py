"""Graph: backprop against finite differences, training, reproducibility, prediction and bad input."""

import numpy as np
import pytest

import btf
from btf import activations
from tests.support.gradcheck import central_difference


def _weights(net: btf.Graph) -> list[np.ndarray]:
    return [layer.params[0] for layer in net.layers]


def _oracle_cost(net: btf.Graph, X: np.ndarray, Y: np.ndarray, activation: str) -> float:
    """A plain float64 forward pass written independently of Graph, as the gradient oracle."""
    a = X
    for i, layer in enumerate(net.layers):
        w, b = layer.params
        z = a @ w + b
        if i < len(net.layers) - 1:
            a = 1 / (1 + np.exp(-z)) if activation == "sigmoid" else np.maximum(z, 0)
        elif net.cost == "cross_entropy":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
        else:
            a = 1 / (1 + np.exp(-z))
    if net.cost == "quadratic":
        return 0.5 * np.square(a - Y).sum() / len(X)
    return -(Y * np.log(a)).sum() / len(X)


@pytest.mark.parametrize(
    "sizes,activation,cost",
    [
        ((5, 4, 3), "sigmoid", "quadratic"),
        ((5, 6, 4, 3, 3), "sigmoid", "quadratic"),
        ((5, 6, 4, 3), "relu", "cross_entropy"),
        ((5, 7, 3), "sigmoid", "cross_entropy"),
        ((5, 3), "sigmoid", "quadratic"),
    ],
)
def test_backprop_matches_finite_differences(sizes, activation, cost):
    net = btf.Graph(sizes, activation=activation, cost=cost, seed=1)
    # float64 so the finite differences are precise; relu inputs kept away from the kink.
    for layer in net.layers:
        w, b = layer.params
        layer.params = [w.astype(np.float64), b.astype(np.float64) + 0.1]
    rng = np.random.default_rng(2)
    X = rng.random((7, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], 7)]
    grads = net.backprop(X, Y)
    params = [p for layer in net.layers for p in layer.params]
    assert len(grads) == len(params) == 2 * (len(sizes) - 1)
    for p, g in zip(params, grads):
        numeric = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            numeric[idx] = central_difference(p, idx, lambda: _oracle_cost(net, X, Y, activation))
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-8)


def test_training_learns_and_counts_epochs(blobs):
    train, val = blobs
    net = btf.Graph((12, 8, 3), learning_rate=1.0, batch_size=16, cost="cross_entropy", seed=0)
    net.feed(train, val)
    before = net.accuracy()
    history = net.run(epochs=10, progress=False, log=None)
    assert net.epochs == 10 and len(history) == 10
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert net.accuracy() > 0.9 > before
    assert net.validate() == round(net.accuracy() * len(val[1]))
    assert {"seconds", "val_accuracy", "val_loss"} <= set(history[-1])


def test_run_logs_one_line_per_epoch(blobs):
    lines = []
    net = btf.Graph((12, 5, 3), seed=0)
    net.feed(*blobs)
    net.run(3, progress=True, log=lines.append)
    assert len(lines) == 3 and "val acc" in lines[-1]


def test_l2_shrinks_weights(blobs):
    norms = []
    for l2 in (0.0, 0.05):
        net = btf.Graph((12, 8, 3), learning_rate=0.5, batch_size=16, l2=l2, seed=0)
        net.feed(*blobs)
        net.run(5, progress=False, log=None)
        norms.append(sum(float(np.square(w).sum()) for w in _weights(net)))
    assert norms[1] < norms[0]


def test_same_seed_is_bit_identical(blobs):
    nets = []
    for _ in range(2):
        net = btf.Graph((12, 6, 3), batch_size=7, seed=42)
        net.feed(*blobs)
        net.run(2, progress=False, log=None)
        nets.append(net)
    for a, b in zip(nets[0].params, nets[1].params):
        assert a.dtype == np.float32 and np.array_equal(a, b)


def test_predict_single_and_batch(blobs):
    (X, _), _ = blobs
    net = btf.Graph((12, 6, 3), seed=0)
    label, conf = net.predict(X[0])
    assert isinstance(label, int) and conf.shape == (3,) and conf.sum() == pytest.approx(1, abs=1e-5)
    labels, confs = net.predict(X[:5])
    assert labels.shape == (5,) and confs.shape == (5, 3)
    assert labels[0] == label and np.allclose(confs[0], conf)


def test_float32_throughout(blobs):
    net = btf.Graph((12, 6, 3), seed=0)
    net.feed(*blobs)
    net.run(1, progress=False, log=None)
    assert all(p.dtype == np.float32 for p in net.params)


def test_scaled_init_is_default_and_does_not_saturate():
    net = btf.Graph((784, 30, 10), seed=0)
    assert np.std(_weights(net)[0]) == pytest.approx(1 / np.sqrt(784), rel=0.05)
    original = btf.Graph((784, 30, 10), init="normal", seed=0)
    assert np.std(_weights(original)[0]) == pytest.approx(1, rel=0.05)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sizes": (3,)},
        {"sizes": (3, 0, 2)},
        {"sizes": (3, 2), "activation": "tanh"},
        {"sizes": (3, 2), "cost": "hinge"},
        {"sizes": (3, 2), "learning_rate": 0},
        {"sizes": (3, 2), "learning_rate": float("nan")},
        {"sizes": (3, 2), "batch_size": 0},
        {"sizes": (3, 2), "l2": -1},
        {"sizes": (3, 2), "init": "xavier"},
    ],
)
def test_bad_config_is_refused(kwargs):
    with pytest.raises(btf.ConfigError):
        btf.Graph(**kwargs)


@pytest.mark.parametrize(
    "data,match",
    [
        ((np.zeros((4, 5)), np.zeros(4, int)), "shape"),
        ((np.zeros((4, 12)), np.zeros(3, int)), "y must have shape"),
        ((np.zeros((4, 12)), np.full(4, 7)), "labels"),
        ((np.zeros((4, 12)), np.zeros(4)), "labels"),
        ((np.full((4, 12), np.nan), np.zeros(4, int)), "NaN"),
        ((np.zeros((0, 12)), np.zeros(0, int)), "empty"),
        ("nonsense", "pair"),
    ],
)
def test_bad_data_is_refused(data, match):
    net = btf.Graph((12, 3))
    with pytest.raises(btf.DataError, match=match):
        net.feed(data)


def test_run_without_data_explains():
    with pytest.raises(btf.DataError, match="feed"):
        btf.Graph((4, 2)).run(1)


def test_softmax_and_sigmoid_are_stable():
    z = np.array([[1000.0, -1000.0, 0.0]], dtype=np.float32)
    assert np.isfinite(activations.softmax(z.copy())).all()
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is the right answer
        assert np.allclose(activations.sigmoid(z.copy()), [[1, 0, 0.5]])


def test_import_btf_is_lean():
    import subprocess
    import sys

    code = "import sys, btf; print(sorted(m for m in ('boto3','cv2','tqdm','matplotlib','urllib.request') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=str(_root()))
    assert out.stdout.strip() == "[]"


def _root():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]
