"""btf.onnx: every shipped model and every layer kind, run in onnxruntime, answers as Graph.predict does.

On 1,000 digits (MNIST's test set when it is on disk, random images otherwise): the same label
wherever btf's answer is not a near-tie, and confidences within 1e-4.
"""

import sys

import numpy as np
import onnx  # the test extra installs btf[onnx]
import onnxruntime as ort
import pytest

import btf
from btf.errors import ConfigError
from btf.specs import parse_layers
from tests.conftest import ROOT, SHARED_MNIST

SHIPPED = sorted((ROOT / "models").glob("model-v*.npz"))


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    if SHARED_MNIST.is_dir():
        from btf.data import load_idx_folder

        return load_idx_folder(SHARED_MNIST)["test"][0][:1000]
    return np.random.default_rng(0).random((1000, 784), dtype=np.float32)


def run_onnx(graph: btf.Graph, X: np.ndarray) -> np.ndarray:
    from btf.onnx import to_onnx

    session = ort.InferenceSession(to_onnx(graph).SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["confidences"], {"input": X})[0]


def assert_same_answers(graph: btf.Graph, X: np.ndarray) -> None:
    labels, expected = graph.predict(X)
    got = run_onnx(graph, X)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.abs(got - expected).max() <= 1e-4
    top2 = np.sort(expected, axis=1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > 1e-5  # a near-tie may fall either way in another runtime's rounding
    assert decided.mean() > 0.99 and (got.argmax(axis=1) == labels)[decided].all()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_model_answers_as_btf_does(path, digits):
    assert len(SHIPPED) >= 5
    assert_same_answers(btf.Graph.load(path), digits)


def _randomised(graph: btf.Graph, seed: int) -> btf.Graph:
    """Every weight and bias drawn at random: zero biases would not show a bias wired to the wrong place."""
    rng = np.random.default_rng(seed)
    params = graph.params
    for p in params:
        scale = 1.5 / np.sqrt(p.shape[0]) if p.ndim > 1 else 0.3
        p[...] = rng.standard_normal(p.shape).astype(np.float32) * np.float32(scale)
    for layer in graph.layers:
        if layer.spec().startswith("bn"):  # a running variance is positive
            layer.params[3][...] = np.abs(layer.params[3]) + np.float32(0.5)
    return graph


# Each layer kind, each activation, both paddings, a pool that drops leftovers, both costs, and
# input shapes whose height, width and channels differ (a transposed axis would show).
STACKS = [
    ("conv8:3,pool2,dense10", (28, 28, 1), "cross_entropy"),
    ("conv6:5:sigmoid:same,pool3,flatten,dense32:sigmoid,dense10", (28, 28, 1), "cross_entropy"),
    ("conv4:3:linear,conv5:2:relu:same,pool2,dropout0.3,dense16,dropout0.2,dense10", (28, 28, 1), "quadratic"),
    ("conv3:3:same,pool2,dense10:linear", (7, 112, 1), "cross_entropy"),
    ("conv5:3,conv4:1:sigmoid,pool2,flatten,dense10", (14, 28, 2), "quadratic"),
    ("dense64,dropout0.5,dense32:sigmoid,dense10", (784,), "cross_entropy"),
    ("dense10", (784,), "quadratic"),
    ("conv6:3,bn,pool2,conv5:3:sigmoid,bn:linear,dense16,bn,dense11", (14, 28, 2), "cross_entropy"),
]


@pytest.mark.parametrize("spec,shape,cost", STACKS, ids=[s[0] for s in STACKS])
def test_every_layer_kind_answers_as_btf_does(spec, shape, cost, digits):
    graph = btf.Graph(parse_layers(spec), input_shape=shape, cost=cost, optimizer="adam", seed=1)
    assert_same_answers(_randomised(graph, len(spec)), digits)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy"])
def test_the_dense_only_format_answers_as_btf_does(activation, cost, digits):
    graph = btf.Graph((784, 24, 16, 10), activation=activation, cost=cost, seed=2)
    assert_same_answers(_randomised(graph, 3), digits)


def test_any_batch_size_and_the_model_says_what_it_is(digits):
    from btf.onnx import to_onnx

    graph = btf.Graph.load(SHIPPED[-1])
    for n in (1, 7):
        assert_same_answers(graph, digits[:n])
    props = {p.key: p.value for p in to_onnx(graph).metadata_props}
    assert (
        props["btf_architecture"] == ",".join(layer.spec() for layer in graph.layers)
        and props["btf_cost"] == graph.cost
    )


def test_export_writes_atomically_and_keeps_an_existing_file(tmp_path):
    from btf.onnx import export

    graph, path = btf.Graph.load(SHIPPED[0]), tmp_path / "model.onnx"
    size = export(graph, path)
    assert path.stat().st_size == size and onnx.load(str(path)).graph.output[0].name == "confidences"
    path.write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        export(graph, path)
    assert path.read_bytes() == b"mine" and [p.name for p in tmp_path.iterdir()] == ["model.onnx"]
    export(graph, path, overwrite=True)
    assert path.stat().st_size == size


def test_without_onnx_the_error_says_what_to_install(monkeypatch):
    from btf.onnx import to_onnx

    monkeypatch.setitem(sys.modules, "onnx", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'btf\[onnx\]'"):
        to_onnx(btf.Graph.load(SHIPPED[0]))


def test_import_btf_loads_no_onnx():
    import subprocess

    code = (
        "import sys, btf, btf.onnx; print(sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'onnxruntime')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
