"""Fetch the official MNIST IDX files for connected users: mirrors tried in order, SHA-256 verified, cached.

Not imported by ``import btf``; only ``scripts.train --data mnist`` uses it. A file is only
ever moved into the cache after its checksum matches, so an interrupted or tampered
download leaves nothing behind that a later run would trust.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from btf.errors import DataError

MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
DEFAULT_CACHE = Path(os.environ.get("BTF_CACHE", Path.home() / ".cache" / "btf")) / "mnist"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_mnist(
    cache_dir: str | Path = DEFAULT_CACHE,
    mirrors: tuple[str, ...] = MIRRORS,
    files: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Make sure ``cache_dir`` holds every file with its expected SHA-256; return the folder."""
    cache = Path(cache_dir).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    for name, expected in (files or MNIST_SHA256).items():
        target = cache / name
        if target.exists() and sha256_of(target) == expected:
            continue
        errors = []
        for mirror in mirrors:
            try:
                _fetch(mirror.rstrip("/") + "/" + name, target, expected, timeout)
                break
            except (OSError, DataError) as exc:  # URLError is an OSError
                errors.append(f"{mirror}: {exc}")
        else:
            raise DataError(f"could not download {name}: " + "; ".join(errors))
    return cache


def _fetch(url: str, target: Path, expected: str, timeout: float) -> None:
    if not url.startswith(("https://", "http://")):
        raise DataError(f"refusing non-HTTP URL {url}")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            for block in iter(lambda: response.read(1 << 16), b""):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != expected:
            raise DataError(f"SHA-256 mismatch for {url}: got {digest.hexdigest()}, expected {expected}")
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
