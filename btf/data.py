"""MNIST-style data sets: read IDX folders, Nielsen's mnist.pkl.gz and Keras' mnist.npz, and split them.

Every loader returns ``{"train": (X, y), "test": (X, y)}`` (plus ``"val"`` for the pickle,
which ships one) with X float32 in [0, 1] of shape (n, 784) and y int64. Malformed files
raise DataError naming the file and what is wrong. Limits: everything is read into memory,
which is fine for MNIST-sized sets (70k images = 220 MB as float32).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle  # nosec B403 - only through _ArrayUnpickler, which admits numpy arrays alone
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from btf.errors import DataError

Data = tuple[np.ndarray, np.ndarray]
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def scale(images: np.ndarray) -> np.ndarray:
    """uint8 images of any shape (n, ...) -> float32 (n, pixels) in [0, 1]."""
    return (np.asarray(images).reshape(len(images), -1) / np.float32(255.0)).astype(np.float32, copy=False)


def split(X: np.ndarray, y: np.ndarray, fractions=(0.7, 0.2, 0.1), seed: int = 0) -> tuple[Data, ...]:
    """Shuffle with ``seed`` and cut into parts of the given fractions (the original 70/20/10)."""
    if len(X) != len(y):
        raise DataError(f"{len(X)} images but {len(y)} labels")
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) < 0:
        raise DataError(f"split fractions must be non-negative and sum to 1, got {fractions}")
    order = np.random.default_rng(seed).permutation(len(X))
    cuts = np.round(np.cumsum(fractions)[:-1] * len(X)).astype(int)
    return tuple((X[part], y[part]) for part in np.split(order, cuts))


# ------------------------------------------------------------------ IDX
def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gzip or raw), checking its magic number and its length."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt or truncated gzip ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: IDX header is truncated")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"{path}: header says shape {shape} ({expected} bytes) but the file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _find(folder: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).exists():
            return folder / name
    raise DataError(f"{folder}: missing {stem}.gz (expected the four official MNIST IDX files)")


def load_idx_folder(folder: str | Path) -> dict[str, Data]:
    """Load ``train`` and ``test`` from a folder of official MNIST IDX files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    result = {}
    for part, (images_stem, labels_stem) in IDX_FILES.items():
        images_path, labels_path = _find(folder, images_stem), _find(folder, labels_stem)
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise DataError(f"{images_path}: expected uint8 images of 28x28, got {images.dtype} {images.shape[1:]}")
        if labels.ndim != 1:
            raise DataError(f"{labels_path}: expected a 1-D label file, got shape {labels.shape}")
        if len(images) != len(labels):
            raise DataError(
                f"{images_path.name} holds {len(images)} images but {labels_path.name} {len(labels)} labels"
            )
        result[part] = (scale(images), _labels(labels, labels_path))
    return result


def _labels(labels: np.ndarray, source: Any) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu" or (labels.size and (labels.min() < 0 or labels.max() > 9)):
        raise DataError(f"{source}: labels must be integers 0-9")
    return labels.astype(np.int64)


# --------------------------------------------------------------- pickle
class _ArrayUnpickler(pickle.Unpickler):
    """Admits only what numpy arrays are made of; any other class is refused."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        # Protocol-2 pickles written by Python 3 spell raw bytes as _codecs.encode(str, "latin1"):
        # a pure function that returns bytes, so it cannot construct anything else.
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")
        return super().find_class(module, name)


def load_pickle(path: str | Path) -> dict[str, Data]:
    """Load Nielsen's ``mnist.pkl.gz``: a gzipped pickle of (train, val, test) pairs."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
        # encoding="latin1" reads the Python 2 pickle that Nielsen's file is.
        parts = _ArrayUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except pickle.UnpicklingError as exc:
        raise DataError(f"{path}: {exc}") from None
    except (OSError, EOFError, zlib.error, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise DataError(f"{path}: corrupt or truncated mnist.pkl.gz ({exc})") from None
    if not (isinstance(parts, tuple) and len(parts) == 3):
        raise DataError(f"{path}: expected a tuple (train, val, test)")
    result = {}
    for part, pair in zip(("train", "val", "test"), parts):
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(a, np.ndarray) for a in pair)):
            raise DataError(f"{path}: {part} must be a pair of arrays")
        images, labels = pair
        if images.ndim != 2 or images.shape[1] != 784 or images.dtype.kind != "f":
            raise DataError(f"{path}: {part} images must be float (n, 784), got {images.dtype} {images.shape}")
        if len(images) != len(labels):
            raise DataError(f"{path}: {part} has {len(images)} images but {len(labels)} labels")
        result[part] = (images.astype(np.float32), _labels(labels, path))
    return result


# ------------------------------------------------------------------ npz
def load_keras_npz(path: str | Path) -> dict[str, Data]:
    """Load Keras' ``mnist.npz`` (x_train, y_train, x_test, y_test), never unpickling."""
    path = Path(path)
    result = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for part in ("train", "test"):
                images, labels = npz[f"x_{part}"], npz[f"y_{part}"]
                if images.ndim != 3 or images.shape[1:] != (28, 28):
                    raise DataError(f"{path}: x_{part} must be (n, 28, 28), got {images.shape}")
                if len(images) != len(labels):
                    raise DataError(f"{path}: x_{part} has {len(images)} images but y_{part} {len(labels)} labels")
                result[part] = (scale(images), _labels(labels, path))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except KeyError as exc:
        raise DataError(f"{path}: missing array {exc} (expected x_train, y_train, x_test, y_test)") from None
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a readable mnist.npz ({exc})") from None
    return result


def load(source: str | Path) -> dict[str, Data]:
    """Load any supported format, chosen by what ``source`` is: a folder, ``.pkl.gz`` or ``.npz``."""
    path = Path(source)
    if path.is_dir():
        return load_idx_folder(path)
    if path.name.endswith((".pkl.gz", ".pkl")):
        return load_pickle(path)
    if path.suffix == ".npz":
        return load_keras_npz(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    raise DataError(f"{path}: unknown data format (use an IDX folder, mnist.pkl.gz or mnist.npz)")


def fingerprint(source: str | Path) -> str:
    """SHA-256 of a data file, or of a folder's files (names and bytes, sorted by name)."""
    source = Path(source)
    digest = hashlib.sha256()
    files = sorted(p for p in source.iterdir() if p.is_file()) if source.is_dir() else [source]
    for path in files:
        if source.is_dir():
            digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda f=f: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def training_splits(
    source: str | Path, *, limit: int | None = None, val_fraction: float = 0.1, seed: int = 0
) -> tuple[dict[str, Data], dict[str, Any]]:
    """Train, validation and test sets from ``source``, and a description of them (path, SHA-256, sizes).

    The first ``limit`` training digits are kept if given; without a validation set of its own,
    ``val_fraction`` of them is held out (seeded, so runs are repeatable).
    """
    sets = load(source)
    train = sets["train"]
    if limit:
        train = (train[0][:limit], train[1][:limit])
    if "val" in sets:
        val = sets["val"]
    else:
        if not 0 < val_fraction < 1:
            raise DataError(f"the validation share must be between 0 and 1, got {val_fraction}")
        train, val, _ = split(*train, fractions=(1 - val_fraction, val_fraction, 0.0), seed=seed)
    splits = {"train": train, "val": val, "test": sets["test"]}
    description = {
        "source": str(source),
        "sha256": fingerprint(source),
        **{f"{name}_size": len(pair[1]) for name, pair in splits.items()},
    }
    return splits, description


def check_pair(data: Data, inputs: int, classes: int, name: str) -> Data:
    """``(X, y)`` as float32 (n, inputs) rows and int64 labels in [0, classes), or a DataError naming ``name``."""
    try:
        X, y = data
    except (TypeError, ValueError):
        raise DataError(f"{name} data must be a pair (X, y)") from None
    X = np.ascontiguousarray(X, dtype=np.float32)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != inputs:
        raise DataError(f"{name} X must have shape (n, {inputs}), got {X.shape}")
    if y.shape != (len(X),):
        raise DataError(f"{name} y must have shape ({len(X)},), got {y.shape}")
    if len(X) == 0:
        raise DataError(f"{name} data is empty")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= classes:
        raise DataError(f"{name} labels must be integers in [0, {classes - 1}]")
    if not np.isfinite(X).all():
        raise DataError(f"{name} X holds NaN or infinite values")
    return X, y.astype(np.int64, copy=False)
