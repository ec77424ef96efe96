"""Publishing never loses or corrupts a version: racing publishers and SIGKILLed publishers.

Runs real processes against a real local S3 endpoint (moto's ThreadedMotoServer) and
against the folder store.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import btf
from btf.store import open_store

ROOT = Path(__file__).resolve().parents[2]
PUBLISHER = textwrap.dedent(
    """
    import sys, time
    import btf
    from btf.store import open_store
    uri, endpoint, seed, start = sys.argv[1], sys.argv[2] or None, int(sys.argv[3]), float(sys.argv[4])
    blob = btf.Graph((784, 8, 10), seed=seed).to_bytes({"publisher": seed})
    store = open_store(uri, endpoint_url=endpoint)
    time.sleep(max(0.0, start - time.time()))  # all publishers go at the same instant
    print(store.publish(blob))
    """
)


@pytest.fixture
def moto_server(aws_env):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="race")
    yield endpoint
    server.stop()


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _race(uri, endpoint, n=8):
    start = time.time() + 3.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PUBLISHER, uri, endpoint or "", str(i), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for i in range(n)
    ]
    results = {}
    for i, proc in enumerate(procs):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results[i] = int(out.strip())
    return results


def _check_race(results, store):
    assert sorted(results.values()) == list(range(1, 9)), results
    for seed, version in results.items():
        net = btf.Graph.load(store.read(version).data)
        assert net.metadata["publisher"] == seed  # each publisher's own model, intact


def test_eight_racing_publishers_on_s3(moto_server):
    uri = "s3://race/models/"
    _check_race(_race(uri, moto_server), open_store(uri, endpoint_url=moto_server))


def test_eight_racing_publishers_on_a_folder(tmp_path):
    uri = str(tmp_path / "models")
    _check_race(_race(uri, None), open_store(uri))


def _wait_for(proc, text, timeout=60):
    deadline = time.time() + timeout
    seen = ""
    while time.time() < deadline:
        line = proc.stdout.readline()
        seen += line
        if text in line:
            return
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"never saw {text!r}: {seen[-500:]}")


def test_sigkill_during_training_publishes_nothing(idx, tmp_path):
    store = tmp_path / "models"
    proc = subprocess.Popen(
        [sys.executable, "-m", "scripts.train", "--data", str(idx), "--store", str(store), "--epochs", "100000",
         "--no-progress"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
    )  # fmt: skip
    _wait_for(proc, "epoch   2")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert open_store(str(store)).versions() == {}
    assert not list(store.glob("model-v*"))
    assert not (store / "reports").exists()


SLOW_FOLDER_PUBLISH = textwrap.dedent(
    """
    import os, sys, time
    from btf.store import open_store
    real_fsync = os.fsync
    def slow_fsync(fd):
        print("writing", flush=True)
        time.sleep(30)  # killed here: bytes written, not yet linked into place
        real_fsync(fd)
    os.fsync = slow_fsync
    open_store(sys.argv[1]).publish(b"x" * 5_000_000)
    """
)
SLOW_S3_PUBLISH = textwrap.dedent(
    """
    import io, sys, time
    from btf.store import open_store
    store = open_store(sys.argv[1], endpoint_url=sys.argv[2])
    class Slow(io.BytesIO):
        def read(self, n=-1):
            print("uploading", flush=True)
            time.sleep(0.2)
            return super().read(65536 if n is None or n < 0 else min(n, 65536))
    real_put = store.client.put_object
    def slow_put(**kwargs):
        kwargs["Body"] = Slow(kwargs["Body"])
        return real_put(**kwargs)
    store.client.put_object = slow_put
    store.publish(b"x" * 5_000_000)
    """
)


@pytest.mark.parametrize("kind", ["folder", "s3"])
def test_sigkill_during_upload_leaves_nothing_loadable(kind, tmp_path, request):
    if kind == "s3":
        endpoint = request.getfixturevalue("moto_server")
        uri, args, code, marker = "s3://race/killed/", [endpoint], SLOW_S3_PUBLISH, "uploading"
    else:
        endpoint, uri, args, code, marker = None, str(tmp_path / "models"), [], SLOW_FOLDER_PUBLISH, "writing"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, uri, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=_env(),
    )  # fmt: skip
    _wait_for(proc, marker)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    store = open_store(uri, endpoint_url=endpoint)
    assert store.versions() == {}  # nothing half-written is visible, so predict cannot load it
    assert store.publish(btf.Graph((784, 4, 10), seed=0).to_bytes()) == 1  # and the store still works
