"""The store deadline binds the threads doing the work, and a request's calls share one (issue 17 §4).

Against real sockets on 127.0.0.1: an endpoint that trickles a byte every half second, one
that never answers, and a small S3 (tests/support/s3server.py) whose chosen keys hang or are
listed without an ETag. Waits are hang guards, never timing assertions.
"""

import subprocess
import sys
import textwrap
import time

import pytest

from btf.store import StoreUnavailable, deadline, open_store, s3calls
from tests.conftest import ROOT
from tests.support.s3server import FakeS3, SilentServer


@pytest.fixture
def trickle(aws_env):
    server = SilentServer(trickle=True, every=0.5)
    yield server
    server.close()


@pytest.fixture
def fake(aws_env):
    server = FakeS3()
    yield server
    server.close()


def settle(limit: float = 30.0) -> int:
    """Wait (up to a hang guard) for every store call's thread to finish; the number still running."""
    end = time.monotonic() + limit
    while s3calls.in_flight() and time.monotonic() < end:
        time.sleep(0.05)
    return s3calls.in_flight()


def test_a_timed_out_call_frees_its_thread_and_never_retries(trickle):
    store = open_store("s3://btf-models/m/", endpoint_url=trickle.url, timeout=0.5)
    assert store.cuttable  # botocore's session still lets the caller reach the socket
    for _ in range(12):  # the report: 12 uncached requests left all 8 workers stuck for good
        with pytest.raises(StoreUnavailable, match="did not answer"):
            store.read(1)
    assert settle() == 0
    assert len(trickle.conns) == 12  # one connection per call: no retry started after the deadline


def test_many_trickling_calls_never_exhaust_the_threads(trickle, s3):
    slow = open_store("s3://btf-models/m/", endpoint_url=trickle.url, timeout=0.3)
    for _ in range(s3calls.MAX_CALLS + 8):
        with pytest.raises(StoreUnavailable):
            slow.versions()
    assert settle() == 0
    healthy = open_store("s3://btf-models/m/", timeout=2.0)  # moto, in process: S3 has recovered
    assert healthy.publish(b"model") == 1 and healthy.read(1).data == b"model"


def test_a_process_with_a_stuck_call_still_exits(trickle):
    code = textwrap.dedent(
        f"""
        from btf.store import StoreUnavailable, open_store
        store = open_store("s3://btf-models/m/", endpoint_url="{trickle.url}", timeout=0.5)
        try:
            store.read(1)
        except StoreUnavailable as exc:
            print("refused:", exc)
        """
    )
    # The hang guard: before, the non-daemon worker kept the interpreter waiting for the trickle to end.
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)  # noqa: S603
    assert out.returncode == 0 and "refused:" in out.stdout, out.stderr


def test_calls_inside_one_deadline_share_it(fake):
    fake.objects.update({f"m/model-v{v}.json": b"{}" for v in range(1, 7)})
    fake.hang.update(fake.objects)
    store = open_store("s3://btf-models/m/", endpoint_url=fake.url, timeout=1.0)
    started = time.monotonic()
    with deadline(1.0):
        for version in range(1, 7):
            with pytest.raises(StoreUnavailable):
                store.get_object(f"model-v{version}.json")
    print(f"six hanging reads took {time.monotonic() - started:.1f}s")  # for the log; never asserted
    # The first read waited out the deadline; the other five never reached the store.
    assert [r for r in fake.requests if r.startswith("GET")] == ["GET m/model-v1.json"]


def test_an_inner_deadline_cannot_outlast_the_outer_one(fake):
    fake.objects["m/model-v1.json"] = b"{}"
    fake.hang.add("m/model-v1.json")
    store = open_store("s3://btf-models/m/", endpoint_url=fake.url, timeout=5.0)
    with deadline(0.3), deadline(60.0):
        with pytest.raises(StoreUnavailable):
            store.get_object("model-v1.json")
        with pytest.raises(StoreUnavailable, match="no time was left"):
            store.get_object("model-v1.json")


def test_a_listing_or_read_without_an_etag_still_works(fake):
    fake.objects.update({"m/model-v1.npz": b"one", "m/model-v2.npz": b"two"})
    fake.no_etag.add("m/model-v2.npz")
    store = open_store("s3://btf-models/m/", endpoint_url=fake.url, timeout=2.0)
    versions = store.versions()
    assert sorted(versions) == [1, 2] and versions[2] and versions[1] != versions[2]
    blob = store.read(2, etag=versions[2])  # a made-up tag is never sent to S3 to revalidate against
    assert blob is not None and blob.data == b"two" and blob.etag
