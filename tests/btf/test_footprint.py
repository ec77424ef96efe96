"""A model's cost is known from its description and bounded at load: btf.footprint and the checkpoint reader.

The reported attacks (issue 17) are refused by ``checkpoint.read`` from the layer list, before
any weight is inflated; every rule a Graph checks when built is checked by the reader first;
the footprint is an upper bound of what a forward pass really allocates; and a model that has
predicted keeps nothing of its last batch.
"""

from pathlib import Path

import numpy as np
import pytest

import btf
from btf import checkpoint, footprint, npz
from btf.digits import check_digit_model
from btf.specs import parse_layers
from tests.support.memory import traced_peak
from tests.support.models import OVER_LIMITS, format1_arrays, layered_model, npz_bytes

MODELS = sorted((Path(__file__).resolve().parents[2] / "models").glob("model-v*.npz"))
V5 = "conv32:3,pool2,conv64:3,pool2,dense128,dropout0.3,dense10"
V5_STORED = "conv32:3:relu,pool2,conv64:3:relu,pool2,flatten,dense128:relu,dropout0.3,dense10:linear"  # as a checkpoint lists it

ATTACKS = OVER_LIMITS


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_every_shipped_model_is_well_within_the_limits(path):
    cost = btf.Graph.load(path).footprint
    limits = footprint.LIMITS
    assert limits.problem(cost) is None
    assert cost.parameters * 4 <= limits.parameters and cost.work * 3 <= limits.work
    assert cost.peak_bytes * 4 <= limits.peak_bytes


@pytest.mark.parametrize("spec", [V5, "conv32:3:relu:same,pool2,conv64:3,pool2,dense128,dense10", "dense512,dense10"])
def test_documented_recipes_are_admitted(spec):
    layers = parse_layers(spec)
    assert footprint.LIMITS.problem(footprint.of_layers(layers, (28, 28, 1))) is None


# With their (zero) weights, as a store would hold them, and as layer lists alone (the thirty
# layers' 27 million weights only that way: the verdict never reads them).
@pytest.mark.parametrize(
    "name,weights",
    [(name, weights) for name in ATTACKS for weights in (True, False) if not (weights and name == "thirty-conv64x15")],
)
def test_reported_attacks_are_refused_by_the_reader(name, weights):
    spec, limit = ATTACKS[name]
    blob = layered_model(spec, weights=weights)
    with pytest.raises(btf.CheckpointError, match=f"{limit}.*the limit is"):
        checkpoint.read(blob)


def test_an_oversized_dense_network_is_refused_too():
    # The original format: 784-80000-10 is 63.6 million parameters (issue 17, section 2).
    arrays = format1_arrays(btf.Graph((784, 8, 10), seed=0))
    arrays = {k: v for k, v in arrays.items() if not (k[0] in "Wb" and k[1:].isdigit())}
    arrays["sizes"] = np.array([784, 80000, 10])
    with pytest.raises(btf.CheckpointError, match="parameters"):
        checkpoint.read(npz_bytes(arrays))


def test_no_weight_is_inflated_before_the_cost_is_checked(monkeypatch):
    inflated = []
    real = npz.Archive._inflate

    def record(self, member, entry, *rest):
        inflated.append(entry)
        return real(self, member, entry, *rest)

    monkeypatch.setattr(npz.Archive, "_inflate", record)
    with pytest.raises(btf.CheckpointError, match="the limit is"):
        checkpoint.read(layered_model(ATTACKS["4096-channels"][0]))
    assert inflated and not [e for e in inflated if e[0] == "P"]


def test_custom_limits_are_honoured():
    blob = layered_model(V5_STORED)
    with pytest.raises(btf.CheckpointError, match="parameters"):
        btf.Graph.load(blob, limits=footprint.Limits(parameters=1000))
    assert [layer.spec() for layer in btf.Graph.load(blob).layers] == V5_STORED.split(",")


@pytest.mark.parametrize(
    "spec,shape",
    [
        ("dense8,dropout0.5", (784,)),  # the reported one: last layer must be Dense
        ("conv4:3,pool2,flatten", (28, 28, 1)),
        ("conv4:3,flatten,dense8,conv2:3", (28, 28, 1)),
        ("flatten,dense8,pool2", (28, 28, 1)),
    ],
    ids=["dropout-last", "flatten-last", "conv-last", "pool-last"],
)
def test_every_rule_of_the_stack_is_a_checkpoint_error_from_read(spec, shape):
    blob = layered_model(spec, shape, weights=False)
    with pytest.raises(btf.CheckpointError, match="layers do not fit together"):
        checkpoint.read(blob)
    with pytest.raises(btf.ConfigError):  # the same rule, where a Graph is built
        btf.Graph(parse_layers(spec, activation=None, flatten=False), input_shape=shape)


def test_a_learning_rate_past_float32_is_refused():
    arrays = checkpoint._arrays(checkpoint.Checkpoint.of(btf.Graph((784, 8, 10), seed=0)))
    with pytest.raises(btf.CheckpointError, match="learning_rate"):
        checkpoint.read(npz_bytes(arrays | {"learning_rate": np.array(1e300)}))


def test_a_failure_building_the_graph_is_a_checkpoint_error(monkeypatch):
    def explode(*_, **__):
        raise ValueError("a rule the reader missed")

    monkeypatch.setattr(btf.Graph, "_assemble", explode)
    with pytest.raises(btf.CheckpointError, match="a rule the reader missed"):
        btf.Graph.load(layered_model(V5_STORED))


@pytest.mark.parametrize(
    "spec,shape",
    [
        (V5, (28, 28, 1)),
        ("conv8:5:same,conv8:15:same,pool3,flatten,dense10", (28, 28, 1)),
        ("conv300:1,pool3,flatten,dense64:sigmoid,dense10", (28, 28, 1)),
        ("conv4:3,conv4:3,conv4:3,conv4:3,flatten,dense10", (20, 17, 2)),
        ("dense1000,dropout0.2,dense10", (784,)),
        ("conv16:3,bn,pool2,conv32:3,bn:sigmoid,pool2,dense64,bn,dense11", (28, 28, 1)),
    ],
    ids=["v5", "same-padding", "cropping-pool", "odd-shape", "dense-stack", "batchnorm"],
)
def test_footprint_bounds_what_a_forward_pass_allocates(spec, shape):
    net = btf.Graph(parse_layers(spec), input_shape=shape, cost="cross_entropy", seed=0)
    cost = net.footprint
    X = np.random.default_rng(0).random((8, int(np.prod(shape))), dtype=np.float32)
    net.feedforward(X)  # warm: BLAS's own buffers are not the model's
    peak = traced_peak(lambda: net.feedforward(X))
    assert peak <= 8 * cost.peak_bytes + 64 * 1024, (peak, cost)


def test_dense_format_footprint_bounds_its_forward_pass():
    net = btf.Graph((784, 300, 100, 10), seed=0)
    X = np.random.default_rng(0).random((8, 784), dtype=np.float32)
    net.feedforward(X)
    peak = traced_peak(lambda: net.feedforward(X))
    assert peak <= 8 * net.footprint.peak_bytes + 64 * 1024


def test_a_batch_runs_in_chunks_that_fit_the_working_memory_budget():
    # 1 MiB per image: chunks of 64 rows within WORK_BYTES, so 100 rows never take 100 MiB at once.
    net = btf.Graph(parse_layers("conv300:1,pool3,flatten,dense10"), cost="cross_entropy", seed=0)
    rows = footprint.rows_per_chunk(net.footprint)
    assert 1 < rows < 100
    X = np.random.default_rng(0).random((100, 784), dtype=np.float32)
    peak = traced_peak(lambda: net.feedforward(X))
    assert peak <= footprint.WORK_BYTES + (1 << 20)


def _buffers(net: btf.Graph) -> dict[str, list[str]]:
    """Every array a layer holds besides its parameters."""
    return {layer.spec(): [k for k, v in vars(layer).items() if isinstance(v, np.ndarray)] for layer in net.layers}


@pytest.mark.parametrize("spec", [V5, "conv32:3,bn,pool2,conv64:3,bn,pool2,dense128,bn,dropout0.3,dense11"])
def test_layers_keep_nothing_of_their_last_batch_outside_training(spec):
    net = btf.Graph(parse_layers(spec), cost="cross_entropy", seed=0)
    X = np.random.default_rng(0).random((16, 784), dtype=np.float32)
    net.feed((X, np.arange(16) % 10))
    net._forward(X, training=True)  # a training forward keeps what backward needs...
    assert any(_buffers(net).values())
    net.predict(X)  # ...which no prediction uses or keeps
    net.train_epoch()  # each backward lets go of what its forward kept: between batches, nothing is held
    assert not any(_buffers(net).values()), _buffers(net)
    net.predict(X)
    assert not any(_buffers(net).values()), _buffers(net)
    check_digit_model(net)
    assert not any(_buffers(net).values())


def test_a_loaded_model_keeps_nothing_after_predicting():
    net = btf.Graph.load(layered_model(V5_STORED))
    net.predict(np.zeros((16, 784), np.float32))
    assert not any(_buffers(net).values())
