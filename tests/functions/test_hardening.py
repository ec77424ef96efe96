"""What one hostile request, one broken model file or one slow store could do to the service, pinned.

Each class of the hardening issue is reproduced here through the real handler: broken or
misfitting model files, numbers past Python's digit limit, silent and trickling S3 endpoints,
special files in the folder store, and malformed Lambda events.
"""

import asyncio
import base64
import json
import os
import threading
import time
import tracemalloc

import numpy as np
import pytest

import btf
from btf.store import MAX_OBJECT_BYTES, open_store
from functions.predict import snapstart
from infra.apigw import http_event, json_event
from tests.support.handler import log_lines
from tests.support.images import canvas_png
from tests.support.models import metadata_member, rebuild, tiny_model
from tests.support.s3server import FakeS3, SilentServer

IMAGE = base64.b64encode(canvas_png()).decode()


def predict(api, model=None):
    doc = {"image": IMAGE} if model is None else {"image": IMAGE, "model": model}
    return api.invoke(json_event("/predict", doc))


def hostile_files() -> dict[str, bytes]:
    good = tiny_model(5)
    encrypted = bytearray(good)
    at = encrypted.find(b"PK\x01\x02")
    while at >= 0:
        encrypted[at + 8] |= 1
        at = encrypted.find(b"PK\x01\x02", at + 4)
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000), }"
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    huge = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    return {
        "encrypted": bytes(encrypted),
        "huge-shape": rebuild(good, lambda n, d: (n, huge if n == "P0.npy" else d)),
        "no-magic": rebuild(good, lambda n, d: (n, b"garbage" if n == "P1.npy" else d)),
        "nested-json": rebuild(good, metadata_member("[" * 50_000 + "]" * 50_000)),
        "100-inputs": btf.Graph((100, 16, 10), seed=0).to_bytes({}),
        "20-outputs": btf.Graph((784, 16, 20), cost="cross_entropy", seed=0).to_bytes({}),
        "not-finite": _overflowing_model(),
    }


def _overflowing_model() -> bytes:
    net = btf.Graph((784, 16, 10), cost="cross_entropy", seed=0)
    for w in (layer.params[0] for layer in net.layers):
        w[:] = 3e38  # finite weights whose sums overflow to inf, then NaN in the softmax
    return net.to_bytes({})


@pytest.mark.parametrize("kind", list(hostile_files()))
def test_a_broken_or_misfitting_version_is_invalid_and_skipped(kind, folder_store, api):
    (folder_store / "model-v3.npz").write_bytes(hostile_files()[kind])
    status, _, body = predict(api)
    assert status == 200 and body["model"]["version"] == 2  # latest skips v3
    status, _, body = predict(api, 3)
    assert (status, body["error"]["code"]) == (503, "model_invalid")
    status, _, body = api.invoke(http_event("GET", "/models"))
    assert status == 200
    snapstart.before_snapshot(api.cache)  # must not raise either


def test_an_invalid_version_is_not_downloaded_again_within_the_ttl(folder_store, api, clock):
    (folder_store / "model-v3.npz").write_bytes(hostile_files()["no-magic"])
    store = api.cache.store()
    reads = []
    real = store.read
    store.read = lambda version, etag=None: reads.append((version, etag)) or real(version, etag)
    for _ in range(5):
        assert predict(api, 3)[0] == 503
    assert len(reads) == 1
    clock.now += 61
    assert predict(api, 3)[0] == 503
    assert len(reads) == 2 and reads[1][1] is not None  # revalidated by etag, not downloaded blind


@pytest.mark.parametrize("where", ["json", "query", "multipart"])
def test_numbers_past_the_digit_limit_are_400(where, client):
    huge = "9" * 4301
    if where == "json":
        response = client.post("/predict", json={"image": IMAGE, "model": huge})
    elif where == "query":
        response = client.post(f"/predict?model={huge}", content=canvas_png(), headers={"content-type": "image/png"})
    else:
        response = client.post("/predict", files={"image": ("d.png", canvas_png(), "image/png")}, data={"model": huge})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_model"
    assert "..." in response.json()["error"]["message"]  # the echo is shortened, not 4,301 digits


def test_a_huge_content_length_header_is_400(api):
    event = http_event("POST", "/predict", body=canvas_png(), content_type="image/png")
    event["headers"]["content-length"] = "9" * 5000
    status, _, body = api.invoke(event)
    assert (status, body["error"]["code"]) == (400, "invalid_header")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda e: e.update(body="!!!not base64"),
        lambda e: e.pop("requestContext"),
        lambda e: e["requestContext"].pop("http"),
        lambda e: e.update(headers=None),
        lambda e: e.update(body=5),
        lambda e: e.clear(),
    ],
    ids=["bad-base64", "no-context", "no-http", "null-headers", "int-body", "empty"],
)
def test_malformed_lambda_events_are_a_json_400(mangle, api):
    event = http_event("POST", "/predict", body=canvas_png(), content_type="image/png")
    mangle(event)
    status, headers, body = api.invoke(event)
    assert (status, body["error"]["code"]) == (400, "invalid_event")
    assert headers["x-content-type-options"] == "nosniff"


def test_nan_in_metadata_still_answers_valid_json(folder_store, api):
    (folder_store / "model-v3.npz").write_bytes(rebuild(tiny_model(3), metadata_member('{"test_accuracy": NaN}')))
    status, _, body = predict(api, 3)  # invoke() parses the body with the strict json module
    assert status == 200 and body["model"]["test_accuracy"] is None


def test_store_metadata_is_served_bounded(folder_store, api):
    huge = json.dumps({"created": "c" * 1_000_000, "test_accuracy": "high", "val_accuracy": 0.5})
    (folder_store / "model-v3.npz").write_bytes(rebuild(tiny_model(3), metadata_member(huge)))
    (folder_store / "model-v3.json").write_text(json.dumps({"created": "c" * 1_000_000, "layers": [1, "x" * 10**5]}))
    status, _, body = predict(api, 3)
    assert status == 200 and len(json.dumps(body)) < 5_000 and body["model"]["test_accuracy"] is None
    assert body["model"]["val_accuracy"] == 0.5 and len(body["model"]["created"]) <= 200
    status, _, listing = api.invoke(http_event("GET", "/models"))
    assert status == 200 and len(json.dumps(listing)) < 10_000


# ---------------------------------------------------------------- folder store special files
def test_special_files_are_not_versions(folder_store, api):
    os.symlink("/dev/zero", folder_store / "model-v3.npz")
    os.mkfifo(folder_store / "model-v4.npz")
    (folder_store / "model-v5.npz").mkdir()
    for version in (3, 4, 5):
        status, _, body = run_with_limit(lambda v=version: predict(api, v))
        assert (status, body["error"]["code"]) == (404, "model_not_found"), version
    assert predict(api)[2]["model"]["version"] == 2


def test_an_oversized_file_is_invalid_without_being_read(folder_store, api):
    with open(folder_store / "model-v3.npz", "wb") as f:
        f.truncate(MAX_OBJECT_BYTES + 1)  # sparse: the size without the bytes
    tracemalloc.start()
    status, _, body = predict(api, 3)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (status, body["error"]["code"]) == (503, "model_invalid")
    assert peak < MAX_OBJECT_BYTES // 4  # refused from its size: never read
    assert predict(api)[2]["model"]["version"] == 2


def test_an_oversized_s3_object_is_invalid(aws_env, monkeypatch, make_api):
    fake = FakeS3()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", fake.url)
    fake.objects.update({"m/model-v1.npz": tiny_model(1), "m/model-v2.npz": b"\0" * 1000})
    fake.claimed["m/model-v2.npz"] = MAX_OBJECT_BYTES + 1  # what its headers say; refused from them
    try:
        api = make_api("s3://btf-models/m/")
        assert predict(api, 2)[2]["error"]["code"] == "model_invalid"
        assert predict(api)[2]["model"]["version"] == 1
    finally:
        fake.close()


# ---------------------------------------------------------------- slow S3
def run_with_limit(call, limit=30.0):
    """Run ``call`` in a thread; fail (rather than hang the suite) if it never returns."""
    result = {}

    def run():
        asyncio.set_event_loop(asyncio.new_event_loop())  # Mangum wants one, as Lambda's main thread has
        result["value"] = call()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert "value" in result, "the call never returned"
    return result["value"]


@pytest.fixture(params=[False, True], ids=["silent", "trickle"])
def slow_endpoint(request, aws_env, monkeypatch):
    server = SilentServer(trickle=request.param)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{server.port}")
    yield server
    server.close()


def test_a_slow_store_answers_503_within_the_deadline(slow_endpoint, make_api):
    api = make_api("s3://btf-models/m/", store_timeout=1.0)
    start = time.monotonic()
    status, _, body = run_with_limit(lambda: predict(api))
    assert (status, body["error"]["code"]) == (503, "store_unavailable")
    print(f"answered in {time.monotonic() - start:.1f}s")  # for the log; never asserted


def test_a_cached_model_keeps_serving_when_the_store_goes_slow(folder_store, slow_endpoint, make_api):
    store = {"uri": str(folder_store)}
    api = make_api(
        str(folder_store), store_timeout=1.0, cache={"open_store": lambda: open_store(store["uri"], timeout=1.0)}
    )
    assert predict(api)[0] == 200
    # The store turns into a silent S3 endpoint after the model was cached; the cache opens it
    # afresh and treats what it holds as stale, as after a SnapStart restore.
    store["uri"] = "s3://btf-models/m/"
    api.cache.expire(drop_store=True)
    for selector in (None, 2):
        start = time.monotonic()
        status, _, body = run_with_limit(lambda s=selector: predict(api, s))
        assert status == 200 and body["model"]["version"] == 2
        print(f"served the cached model in {time.monotonic() - start:.1f}s")  # for the log; never asserted


def test_security_headers(client):
    page = client.get("/")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    for response in (page, client.get("/health"), client.get("/nope"), client.post("/predict", content=b"{")):
        assert response.headers["x-content-type-options"] == "nosniff"


def test_probe_inputs_cover_the_model_contract():
    from btf.digits import _probes

    probes = _probes()
    assert probes.shape[1] == 784 and probes.min() == 0 and probes.max() == 1
    assert np.isfinite(probes).all()


def test_a_client_that_disconnects_mid_body_is_logged_as_an_abort_not_an_error(api, capsys):
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/predict",
        "raw_path": b"/predict",
        "query_string": b"",
        "headers": [(b"content-type", b"image/png"), (b"content-length", b"100000")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("test", 80),
        "client": ("192.0.2.1", 1),
    }
    messages = iter([{"type": "http.request", "body": b"\x89PNG", "more_body": True}, {"type": "http.disconnect"}])

    async def receive():
        return next(messages)

    async def send(message):
        pass

    asyncio.run(api.app(scope, receive, send))
    records = log_lines(capsys)
    assert records[-1]["outcome"] == "client_disconnected" and records[-1]["status"] == 400
    assert [r["level"] for r in records] == ["INFO"] * len(records), records
