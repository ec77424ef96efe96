"""Data loaders: IDX, Nielsen's pickle and Keras' npz, on small files the tests write themselves."""

import gzip
import os
import pickle

import numpy as np
import pytest

from btf import costs, data
from btf.errors import DataError
from tests.support.idx import write_idx


@pytest.fixture
def idx_folder(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 10)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
    return tmp_path


def test_idx_folder_loads_scaled(idx_folder):
    d = data.load(idx_folder)
    X, y = d["train"]
    assert X.shape == (30, 784) and X.dtype == np.float32 and X.min() >= 0 and X.max() <= 1
    assert y.dtype == np.int64 and d["test"][0].shape == (10, 784)


def test_idx_raw_files_work_too(idx_folder):
    for p in idx_folder.iterdir():
        (idx_folder / p.name[:-3]).write_bytes(gzip.decompress(p.read_bytes()))
        p.unlink()
    assert data.load(idx_folder)["train"][0].shape == (30, 784)


def test_truncated_gzip_names_the_file(idx_folder):
    p = idx_folder / "train-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: corrupt or truncated gzip"):
        data.load(idx_folder)


def test_wrong_magic(idx_folder):
    write_idx(idx_folder / "train-labels-idx1-ubyte.gz", np.zeros(30), magic=b"\x12\x34\x08\x01")
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: not an IDX file"):
        data.load(idx_folder)


def test_counts_differ(idx_folder):
    write_idx(idx_folder / "t10k-labels-idx1-ubyte.gz", np.zeros(9))
    with pytest.raises(DataError, match="10 images but t10k-labels-idx1-ubyte.gz 9 labels"):
        data.load(idx_folder)


def test_wrong_image_size(idx_folder):
    write_idx(idx_folder / "train-images-idx3-ubyte.gz", np.zeros((30, 32, 32)))
    with pytest.raises(DataError, match="28x28"):
        data.load(idx_folder)


def test_body_shorter_than_header_says(idx_folder):
    p = idx_folder / "train-images-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:-5]))
    with pytest.raises(DataError, match="header says shape"):
        data.load(idx_folder)


def test_missing_file(idx_folder):
    (idx_folder / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing t10k-images"):
        data.load(idx_folder)


def _nielsen(path, parts):
    with gzip.open(path, "wb") as f:
        pickle.dump(parts, f, protocol=2)


def test_nielsen_pickle(tmp_path):
    rng = np.random.default_rng(0)
    parts = tuple((rng.random((n, 784)).astype(np.float32), rng.integers(0, 10, n)) for n in (7, 3, 2))
    _nielsen(tmp_path / "mnist.pkl.gz", parts)
    d = data.load(tmp_path / "mnist.pkl.gz")
    assert [len(d[k][1]) for k in ("train", "val", "test")] == [7, 3, 2]
    assert np.array_equal(d["train"][0], parts[0][0])


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/btf-pwned",))


def test_pickle_with_arbitrary_class_is_refused(tmp_path):
    _nielsen(tmp_path / "evil.pkl.gz", (Evil(), None, None))
    with pytest.raises(DataError, match="refusing to load"):
        data.load(tmp_path / "evil.pkl.gz")
    assert not os.path.exists("/tmp/btf-pwned")


def test_pickle_with_wrong_shapes(tmp_path):
    _nielsen(tmp_path / "m.pkl.gz", tuple((np.zeros((3, 10), np.float32), np.zeros(3, int)) for _ in range(3)))
    with pytest.raises(DataError, match=r"\(n, 784\)"):
        data.load(tmp_path / "m.pkl.gz")


def test_keras_npz(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 5).astype(np.uint8),
        "x_test": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 2).astype(np.uint8),
    }
    np.savez(tmp_path / "mnist.npz", **arrays)
    d = data.load(tmp_path / "mnist.npz")
    assert d["train"][0].shape == (5, 784) and d["test"][1].dtype == np.int64
    del arrays["y_test"]
    np.savez(tmp_path / "broken.npz", **arrays)
    with pytest.raises(DataError, match="missing array"):
        data.load(tmp_path / "broken.npz")


def test_unknown_format_and_missing(tmp_path):
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(DataError, match="unknown data format"):
        data.load(tmp_path / "x.csv")
    with pytest.raises(DataError, match="no such"):
        data.load(tmp_path / "nothing.npz")


def test_split_is_70_20_10_and_seeded():
    X, y = np.arange(100).reshape(100, 1), np.arange(100)
    a = data.split(X, y, seed=1)
    b = data.split(X, y, seed=1)
    assert [len(p[1]) for p in a] == [70, 20, 10]
    assert all(np.array_equal(p[1], q[1]) for p, q in zip(a, b))
    assert sorted(np.concatenate([p[1] for p in a]).tolist()) == list(range(100))
    assert not np.array_equal(a[0][1], data.split(X, y, seed=2)[0][1])


def test_one_hot_and_scale():
    assert costs.one_hot(np.array([2, 0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]
    with pytest.raises(DataError):
        costs.one_hot(np.array([5]), 3)
    s = data.scale(np.full((2, 28, 28), 255, np.uint8))
    assert s.shape == (2, 784) and s.dtype == np.float32 and s.max() == 1.0
