"""download_mnist against a local HTTP server the test starts: verified, cached, mirror fallback."""

import gzip
import hashlib
import http.server
import threading
from functools import partial

import pytest

from btf.data import load_idx_folder
from btf.download import download_mnist
from btf.errors import DataError
from tests.support.idx import write_idx


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            hits.append(self.path)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", root, hits
    httpd.shutdown()


def _publish(root):
    import numpy as np

    files = {}
    for prefix, n in (("train", 6), ("t10k", 4)):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", np.zeros((n, 28, 28)))
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n))
    for p in root.iterdir():
        files[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
    return files


def test_downloads_verifies_and_caches(server, tmp_path):
    url, root, hits = server
    files = _publish(root)
    cache = download_mnist(tmp_path / "cache", mirrors=(url,), files=files)
    assert load_idx_folder(cache)["train"][0].shape == (6, 784)
    count = len(hits)
    download_mnist(tmp_path / "cache", mirrors=(url,), files=files)
    assert len(hits) == count  # cached: no second request


def test_checksum_mismatch_keeps_nothing(server, tmp_path):
    url, root, _ = server
    files = _publish(root)
    files["t10k-labels-idx1-ubyte.gz"] = "0" * 64
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        download_mnist(tmp_path / "cache", mirrors=(url,), files=files)
    assert not (tmp_path / "cache" / "t10k-labels-idx1-ubyte.gz").exists()
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.endswith(".part")]


def test_falls_back_to_next_mirror(server, tmp_path):
    url, root, _ = server
    files = _publish(root)
    dead = "http://127.0.0.1:9/"  # discard port: nothing listens
    assert download_mnist(tmp_path / "c", mirrors=(dead, url), files=files, timeout=2).is_dir()


def test_corrupted_cache_is_replaced(server, tmp_path):
    url, root, _ = server
    files = _publish(root)
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"tampered"))
    download_mnist(cache, mirrors=(url,), files=files)
    assert load_idx_folder(cache)["train"][1].tolist() == list(range(6))


def test_all_mirrors_down(tmp_path):
    with pytest.raises(DataError, match="could not download"):
        download_mnist(tmp_path, mirrors=("http://127.0.0.1:9/",), files={"x.gz": "0" * 64}, timeout=2)
