"""Checkpoints: bit-identical round trips, and refusal of pickles, corrupt and mis-shaped files."""

import io
import json
import pickle
import zipfile

import numpy as np
import pytest

import btf
from btf import checkpoint, npz
from tests.support.models import format1_arrays


@pytest.fixture
def net(blobs):
    net = btf.Graph((12, 6, 4, 3), learning_rate=0.5, batch_size=8, cost="cross_entropy", l2=1e-4, seed=3)
    net.feed(*blobs)
    net.run(2, progress=False, log=None)
    return net


def _arrays(net, **changes):
    arrays = format1_arrays(net, {"note": "x"})
    arrays.update(changes)
    return {k: v for k, v in arrays.items() if v is not None}


def _npz(arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def test_round_trip_is_bit_identical(net, blobs, tmp_path):
    path = tmp_path / "model-v1.npz"
    net.save(path, metadata={"val_accuracy": 0.9})
    same = btf.Graph.load(path)
    X = blobs[1][0]
    assert np.array_equal(net.predict(X)[1], same.predict(X)[1])
    assert same.sizes == net.sizes and same.cost == "cross_entropy" and same.l2 == net.l2
    assert same.epochs == 2 and same.batch_size == 8 and same.learning_rate == 0.5
    assert same.metadata == {"val_accuracy": 0.9}
    assert btf.Graph.load(path.read_bytes()).sizes == net.sizes
    with open(path, "rb") as f:
        assert btf.Graph.load(f).sizes == net.sizes


def test_every_entry_loads_without_pickle(net, tmp_path):
    path = tmp_path / "m.npz"
    net.save(path)
    with np.load(path, allow_pickle=False) as npz:
        for key in npz.files:
            assert npz[key].dtype.kind in "iufU", key


def test_save_is_atomic_and_leaves_no_temp(net, tmp_path):
    path = tmp_path / "m.npz"
    net.save(path)
    net.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_loaded_model_keeps_training(net, blobs, tmp_path):
    net.save(tmp_path / "m.npz")
    same = btf.Graph.load(tmp_path / "m.npz")
    same.feed(*blobs)
    same.run(1, progress=False, log=None)
    assert same.epochs == 3


def test_original_object_array_format_is_refused(tmp_path, monkeypatch):
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros((3, 2)), np.zeros((2, 1))
    path = tmp_path / "original.npz"
    np.savez(path, weights=ragged, biases=ragged, sizes=np.array([2, 3, 1]))
    called = []
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: called.append(1))
    with pytest.raises(btf.CheckpointError):
        btf.Graph.load(path)
    assert not called


def test_pickle_bearing_entry_in_valid_checkpoint_is_refused(net):
    obj = np.empty(1, dtype=object)
    obj[0] = {"evil": 1}
    with pytest.raises(btf.CheckpointError, match="refusing to unpickle"):
        btf.Graph.load(_npz(_arrays(net, W0=obj)))


def test_a_raw_pickle_file_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(pickle.dumps({"weights": [1, 2]}))
    with pytest.raises(btf.CheckpointError, match="not an .npz"):
        btf.Graph.load(path)


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"W1": np.zeros((5, 4), np.float32)}, "W1 has shape"),
        ({"b0": np.zeros(7, np.float32)}, "b0 has shape"),
        ({"sizes": np.array([12, 6, 4])}, "beyond"),
        ({"W0": None}, "missing entry 'W0'"),
        ({"W0": np.full((12, 6), np.nan, np.float32)}, "NaN"),
        ({"b2": np.array([np.inf, 0, 0], np.float32)}, "NaN or infinite"),
        ({"W0": np.zeros((12, 6), np.int32)}, "floats"),
        ({"format_version": np.array(99)}, "version 99"),
        ({"format": np.array("other")}, "format"),
        ({"activation": np.array("tanh")}, "activation"),
        ({"cost": np.array(3)}, "cost"),
        ({"sizes": np.array([[12, 6]])}, "sizes"),
        ({"sizes": np.array([12, -6, 4, 3])}, "sizes"),
        ({"learning_rate": np.array(np.nan)}, "learning_rate"),
        ({"batch_size": np.array(0)}, "out of range"),
        ({"metadata": np.array("{not json")}, "JSON"),
        ({"metadata": np.array(json.dumps([1, 2]))}, "JSON object"),
    ],
)
def test_invalid_checkpoints_name_the_problem(net, changes, match):
    with pytest.raises(btf.CheckpointError, match=match):
        btf.Graph.load(_npz(_arrays(net, **changes)))


def test_truncated_and_garbage_files(net, tmp_path):
    data = net.to_bytes()
    for blob in (data[: len(data) // 2], b"", b"PK\x03\x04garbage", b"\x00" * 100):
        with pytest.raises(btf.CheckpointError):
            btf.Graph.load(blob)
    with pytest.raises(btf.CheckpointError, match="no such file"):
        btf.Graph.load(tmp_path / "missing.npz")


def test_zip_bomb_is_refused_before_inflating(net, monkeypatch):
    monkeypatch.setattr(npz, "MAX_UNCOMPRESSED_BYTES", 10_000)
    big = _npz(_arrays(net, padding=np.zeros(100_000, np.uint8)))
    assert len(big) < 10_000
    with pytest.raises(btf.CheckpointError, match="inflate"):
        btf.Graph.load(big)


def test_zip_that_is_not_npz(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(btf.CheckpointError, match="not an .npy array"):
        btf.Graph.load(buffer.getvalue())


def test_format_1_files_load_into_the_one_engine(net, blobs):
    """The original format (sizes, activation, W/b) reads into Dense layers, predicts as before, and
    saves back as format 2 with the same weights."""
    same = btf.Graph.load(_npz(_arrays(net)))
    assert [layer.spec() for layer in same.layers] == ["dense6:sigmoid", "dense4:sigmoid", "dense3:linear"]
    assert same.sizes == net.sizes == (12, 6, 4, 3) and same.optimizer.name == "sgd" and same.cost == net.cost
    X = blobs[1][0]
    np.testing.assert_array_equal(same.predict(X)[1], net.predict(X)[1])
    again = btf.Graph.load(same.to_bytes())
    assert int(np.load(io.BytesIO(same.to_bytes()))["format_version"]) == checkpoint.LAYERED_VERSION
    for a, b in zip(again.params, net.params):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_the_shipped_format_1_models_still_load(version):
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "models" / f"model-v{version}.npz"
    graph = btf.Graph.load(path)
    assert int(np.load(path)["format_version"]) == 1 and all(layer.spec().startswith("dense") for layer in graph.layers)
    assert graph.predict(np.zeros(784, np.float32))[1].shape == (10,)


def test_a_loaded_graph_describes_itself_as_a_fresh_one_does(net):
    same = btf.Graph.load(net.to_bytes())
    assert repr(same) == repr(net)
    assert (same.sizes, same.input_shape, same.optimizer.name) == (net.sizes, net.input_shape, net.optimizer.name)
