"""btf.layers and btf.optimizers against independent float64 oracles: finite differences, update rules, checkpoints."""

import io

import numpy as np
import pytest

import btf
from btf import checkpoint
from btf.batchnorm import BatchNorm
from btf.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D
from btf.specs import parse_layers
from tests.support.gradcheck import central_difference


# ----------------------------------------------------------------------- the oracle
def _act(name, z):
    if name == "relu":
        return np.maximum(z, 0)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    return z


def _oracle_batchnorm(layer, x, training):
    """Per channel, in float64: the batch's own statistics while training, the running ones otherwise."""
    gamma, beta, running_mean, running_var = (np.asarray(p, np.float64) for p in layer.params)
    out = np.empty(x.shape)
    for ch in range(x.shape[-1]):
        values = x[..., ch]
        mean, var = (values.mean(), values.var()) if training else (running_mean[ch], running_var[ch])
        out[..., ch] = gamma[ch] * (values - mean) / np.sqrt(var + 1e-5) + beta[ch]
    return _act(layer.activation, out)


def _oracle_forward(layers, x, training=False):
    """Loops over positions and channels, written without btf's im2col, reshapes or masks."""
    for layer in layers:
        if isinstance(layer, BatchNorm):
            x = _oracle_batchnorm(layer, x, training)
        if isinstance(layer, Conv2D):
            k, (w, b) = layer.kernel_size, layer.params
            if layer.padding == "same":
                lo = (k - 1) // 2
                x = np.pad(x, ((0, 0), (lo, k - 1 - lo), (lo, k - 1 - lo), (0, 0)))
            n, h, wd, c = x.shape
            kernel = w.reshape(k, k, c, -1)
            out = np.zeros((n, h - k + 1, wd - k + 1, kernel.shape[-1]))
            for i in range(h - k + 1):
                for j in range(wd - k + 1):
                    patch = x[:, i : i + k, j : j + k, :]
                    out[:, i, j, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2])) + b
            x = _act(layer.activation, out)
        elif isinstance(layer, MaxPool2D):
            p = layer.pool_size
            n, h, wd, c = x.shape
            out = np.zeros((n, h // p, wd // p, c))
            for i in range(h // p):
                for j in range(wd // p):
                    out[:, i, j, :] = x[:, i * p : i * p + p, j * p : j * p + p, :].max(axis=(1, 2))
            x = out
        elif isinstance(layer, Flatten):
            x = x.reshape(len(x), -1)
        elif isinstance(layer, Dense):
            x = _act(layer.activation, x @ layer.params[0] + layer.params[1])
    return x


def _oracle_cost(net, X, Y):
    z = _oracle_forward(net.layers, X.reshape(len(X), *net.input_shape), training=True)
    if net.cost == "cross_entropy":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return -(Y * np.log(e / e.sum(axis=1, keepdims=True))).sum() / len(X)
    return 0.5 * np.square(1 / (1 + np.exp(-z)) - Y).sum() / len(X)


CHAINS = {
    "conv-pool-dense": ("conv3:3:relu,pool2,dense4", (8, 8, 1), "cross_entropy"),
    "pool-leftover": ("conv2:3,pool2,dense3", (9, 9, 1), "cross_entropy"),  # 7x7 pooled: a row and column left
    "odd-sizes-two-convs": ("conv2:2:sigmoid,conv3:3:relu,pool2,dense3", (9, 7, 2), "cross_entropy"),
    "same-padding-quadratic": ("conv2:3:relu:same,pool3,dense5:sigmoid,dense3", (6, 6, 1), "quadratic"),
    # Convolutions after another, so their input gradients (a padded one's cropped back) are checked too. The
    # first is sigmoid: a relu's zeros would make exact ties for the max-pool, which finite differences cannot follow.
    "same-padding-inner-odd": ("conv2:2:sigmoid,conv3:3:relu:same,pool2,dense3", (7, 6, 1), "cross_entropy"),
    "same-padding-inner-even": ("conv2:3:sigmoid,conv3:2:relu:same,pool2,dense3", (7, 7, 2), "cross_entropy"),
    "kernel-one-inner": ("conv2:3:sigmoid,conv3:1:relu,pool2,dense3", (7, 7, 2), "cross_entropy"),
    "dense-only": ("dense6:relu,dense4:sigmoid,dense3", (5,), "cross_entropy"),
    "activated-last-layer": ("dense6:relu,dense3:relu", (5,), "quadratic"),  # the cost's sigmoid after a relu
    "activated-last-layer-softmax": ("dense6:sigmoid,dense3:sigmoid", (5,), "cross_entropy"),
    "conv-batchnorm-relu": ("conv3:3,bn,pool2,dense4,bn,dense3", (8, 8, 2), "cross_entropy"),
    "batchnorm-sigmoid-quadratic": ("conv2:3:linear,bn:sigmoid,dense5:relu,bn:linear,dense3", (6, 5, 1), "quadratic"),
}


@pytest.mark.parametrize("name", list(CHAINS))
def test_every_layer_matches_finite_differences(name):
    spec, shape, cost = CHAINS[name]
    net = btf.Graph(parse_layers(spec), cost=cost, input_shape=shape, seed=3)
    rng = np.random.default_rng(5)
    for layer in net.layers:  # float64, so the differences are precise; biases off the relu kink
        layer.params = [p.astype(np.float64) + (0.05 if p.ndim == 1 else 0) for p in layer.params]
        if isinstance(layer, BatchNorm):  # gamma and beta away from their start, so every term counts
            layer.params[0] = rng.uniform(0.5, 1.5, layer.params[0].shape)
            layer.params[1] = rng.uniform(-0.3, 0.3, layer.params[1].shape)
    rng = np.random.default_rng(4)
    X = rng.random((5, int(np.prod(shape))))
    Y = np.eye(net.sizes[-1])[rng.integers(0, net.sizes[-1], 5)]
    grads = net.backprop(X, Y)
    trainable = [p for layer in net.layers for p in layer.trainable]  # the float64 copies
    assert len(grads) == len(trainable)
    for p, g in zip(trainable, grads):
        assert g.shape == p.shape
        for idx in list(np.ndindex(p.shape))[:: max(1, p.size // 25)]:
            numeric = central_difference(p, idx, lambda: _oracle_cost(net, X, Y))
            assert g[idx] == pytest.approx(numeric, rel=1e-4, abs=1e-7), (name, idx)


def test_the_forward_pass_matches_the_oracle():
    net = btf.Graph(parse_layers("conv4:3,pool2,conv3:2:sigmoid:same,dense5,dense3"), input_shape=(10, 10, 2), seed=0)
    X = np.random.default_rng(0).random((4, 200), dtype=np.float32)
    ours = net.feedforward(X)
    theirs = 1 / (1 + np.exp(-_oracle_forward(net.layers, X.reshape(4, 10, 10, 2).astype(np.float64))))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rate", [0.3, 1e-5, 0.1234564, 0.0, 0.999999])
def test_dropout_rates_round_trip_through_their_spec(rate):
    layers = parse_layers(f"dense4,{Dropout(rate).spec()},dense3", flatten=False)
    assert layers[1].rate == pytest.approx(rate, abs=5e-7) and layers[1].spec() == Dropout(rate).spec()
    net = btf.Graph(layers, input_shape=(5,), seed=0)
    assert [layer.spec() for layer in btf.Graph.load(net.to_bytes()).layers] == [layer.spec() for layer in net.layers]


def test_dropout_trains_only_and_backprops_through_its_mask():
    layer = Dropout(0.5)
    layer.build((1000,), np.random.default_rng(0))
    x = np.ones((4, 1000), np.float32)
    assert layer.forward(x, training=False) is x
    out = layer.forward(x, training=True)
    kept = out != 0
    assert 0.4 < kept.mean() < 0.6 and np.all(out[kept] == 2.0)
    grad, _ = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(grad, out)


def test_a_conv_graph_learns_and_reports_the_minibatch_loss(blobs):
    (X, y), (Xv, yv) = blobs
    net = btf.Graph(
        parse_layers("conv8:1,dense3"),
        input_shape=(3, 4, 1),
        learning_rate=0.01,
        batch_size=16,
        cost="cross_entropy",
        optimizer="adam",
        seed=0,
    )
    net.feed((X, y), (Xv, yv))
    history = net.run(15, progress=False, log=None)
    assert history[-1]["train_loss"] < history[0]["train_loss"] and net.accuracy() > 0.9


# ----------------------------------------------------------------------- checkpoints
def test_layered_checkpoints_round_trip_bit_identically(tmp_path):
    net = btf.Graph(
        parse_layers("conv3:3,pool2,dense8,dropout0.2,dense4"),
        input_shape=(8, 8, 1),
        optimizer="adam",
        cost="cross_entropy",
        seed=1,
    )
    path = tmp_path / "m.npz"
    net.save(path, {"note": "x"})
    same = btf.Graph.load(path)
    X = np.random.default_rng(0).random((6, 64), dtype=np.float32)
    np.testing.assert_array_equal(net.predict(X)[1], same.predict(X)[1])
    assert (
        [layer.spec() for layer in same.layers] == [layer.spec() for layer in net.layers]
        and same.optimizer.name == "adam"
        and same.sizes == (64, 8, 4)
    )
    assert checkpoint.describe(path.read_bytes())["layers"] == [layer.spec() for layer in net.layers]


def test_layered_checkpoints_are_validated(tmp_path):
    net = btf.Graph(parse_layers("conv3:3,pool2,dense4"), input_shape=(8, 8, 1), seed=1)
    arrays = checkpoint._arrays(checkpoint.Checkpoint.of(net))
    for change, message in [
        ({"P0": np.zeros((5, 3), np.float32)}, "P0 has shape"),
        ({"layers": np.array(["conv3:3:relu", "pool2", "bogus"])}, "layers do not fit"),
        ({"layers": np.array(["conv3:3:relu", "dense4:linear"])}, "layers do not fit"),
        ({"input_shape": np.array([8, 8, 0])}, "input_shape"),
        ({"P9": np.zeros(3, np.float32)}, "beyond"),
        ({"optimizer": np.array("rmsprop")}, "optimizer"),
    ]:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **{**arrays, **change})
        blob = buffer.getvalue()
        with pytest.raises(btf.CheckpointError, match=message):
            btf.Graph.load(blob)


def test_layer_specs_parse_and_refuse_clearly():
    layers = parse_layers("conv32:3,pool2,conv64:3,pool2,dense128,dropout0.3,dense10")
    assert [type(layer).__name__ for layer in layers] == [
        "Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Flatten", "Dense", "Dropout", "Dense",
    ]  # fmt: skip
    assert layers[-1].activation is None and layers[0].activation == "relu"
    for bad in ["", "conv32", "dense", "pool99", "dropout1.5", "conv3:3:tanh", "x" * 100]:
        with pytest.raises(btf.ConfigError):
            parse_layers(bad)
    with pytest.raises(btf.ConfigError, match="last layer must be Dense"):
        btf.Graph(parse_layers("dense4,dropout0.5"), input_shape=(4,))


# ----------------------------------------------------------------------- batch normalisation
def _trained_bn_net(seed=0):
    net = btf.Graph(
        parse_layers("conv3:3,bn,pool2,dense6,bn,dense3"),
        input_shape=(8, 8, 1),
        learning_rate=0.01,
        batch_size=8,
        cost="cross_entropy",
        optimizer="adam",
        seed=seed,
    )
    rng = np.random.default_rng(seed)
    X, y = rng.random((40, 64), dtype=np.float32) * 2 + 1, rng.integers(0, 3, 40)
    net.feed((X, y))
    net.run(2, progress=False, log=None)
    return net, X


def test_batchnorm_predicts_with_its_running_statistics_not_the_batch():
    net, X = _trained_bn_net()
    bns = [layer for layer in net.layers if isinstance(layer, BatchNorm)]
    # The inputs' mean is near 2, so the running means moved away from their start at zero.
    assert all(np.abs(layer.params[2]).max() > 0.1 for layer in bns)
    ours = net.feedforward(X[:5])
    z = _oracle_forward(net.layers, X[:5].reshape(5, 8, 8, 1).astype(np.float64))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(ours, e / e.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
    # One image alone gets the same answer as in a batch: nothing depends on its neighbours.
    np.testing.assert_allclose(net.feedforward(X[:1]), ours[:1], rtol=1e-5, atol=1e-7)


def test_batchnorm_checkpoints_round_trip_with_their_running_statistics(tmp_path):
    net, X = _trained_bn_net()
    path = tmp_path / "bn.npz"
    net.save(path)
    same = btf.Graph.load(path)
    assert [layer.spec() for layer in same.layers] == [layer.spec() for layer in net.layers] == [
        "conv3:3:linear", "bn:relu", "pool2", "flatten", "dense6:linear", "bn:relu", "dense3:linear",
    ]  # fmt: skip
    for got, want in zip(same.params, net.params):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(same.predict(X)[1], net.predict(X)[1])
    arrays = dict(np.load(path))
    assert len([k for k in arrays if k.startswith("P")]) == len(net.params) == 14  # 4 arrays per bn
    arrays["P3"] = np.ones(4, np.float32)  # the first bn's running mean with the wrong channel count
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    with pytest.raises(btf.CheckpointError, match="P3 has shape"):
        btf.Graph.load(buffer.getvalue())


def test_batchnorm_in_the_layer_grammar():
    conv, bn = parse_layers("conv8:3,bn,dense10")[:2]
    assert conv.activation is None and isinstance(bn, BatchNorm) and bn.activation == "relu"
    kept = parse_layers("conv8:3:sigmoid,batchnorm,dense4,bn:linear,dense10")
    assert kept[0].activation == "sigmoid" and kept[1].activation is None
    assert kept[3].activation == "relu" and kept[4].activation is None
    assert parse_layers("dense4,bn:sigmoid,dense2", flatten=False)[1].spec() == "bn:sigmoid"
    with pytest.raises(btf.ConfigError, match="BatchNorm takes"):
        BatchNorm().shapes((4, 4))
    with pytest.raises(btf.ConfigError, match="unknown layer"):
        parse_layers("bn:tanh,dense3")


def test_the_layers_answer_an_empty_batch_with_an_empty_one():
    net = btf.Graph(parse_layers("conv4:3,pool2,conv2:3:relu:same,flatten,dense5"), input_shape=(9, 9, 1), seed=0)
    assert net._forward(np.zeros((0, 81), np.float32), training=False).shape == (0, 5)
