"""IDX files (MNIST's format) for tests: a writer, and a tiny learnable digit set."""

import gzip
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array, gz: bool = True, magic: bytes | None = None) -> None:
    array = np.asarray(array, dtype=np.uint8)
    header = magic if magic is not None else struct.pack(">BBBB", 0, 0, 8, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    raw = header + array.tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def learnable_digits(folder: Path) -> Path:
    """300 training and 60 test digits: class k has a bright bar in row band k."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 300), ("t10k", 60)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 40, (n, 28, 28))
        for i, k in enumerate(labels):
            images[i, 2 + 2 * k : 4 + 2 * k, 4:24] = 255
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder
