"""Model loading from the store: S3 via moto, ETag revalidation, latest TTL, faults, concurrency."""

import base64
import io
import threading

import numpy as np
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

import btf
from btf.store import ObjectInfo
from btf.store.s3 import S3Store
from functions.predict import app as app_module
from infra.apigw import http_event, json_event
from tests.support.handler import invoke
from tests.support.images import canvas_png
from tests.support.models import tiny_model

REQUEST = json_event("/predict", {"image": base64.b64encode(canvas_png()).decode()})
URI = "s3://btf-models/prod/"


def put(s3, version, data):
    s3.put_object(Bucket="btf-models", Key=f"prod/model-v{version}.npz", Body=data)


@pytest.fixture
def s3_store(s3, use_store):
    put(s3, 1, tiny_model(1))
    put(s3, 2, tiny_model(2))
    return use_store(URI)


def predict(model=None):
    doc = {"image": base64.b64encode(canvas_png()).decode()}
    if model is not None:
        doc["model"] = model
    status, _, body = invoke(json_event("/predict", doc))
    return status, body


def count_downloads(cache):
    """Wrap the store's read so the test can count real downloads (not 304s)."""
    store = cache.store()
    real = store.read
    counts = {"downloads": 0, "not_modified": 0}

    def read(version, etag=None):
        blob = real(version, etag)
        counts["downloads" if blob else "not_modified"] += 1
        return blob

    store.read = read
    return counts


def test_serves_from_s3_and_caches(s3_store):
    counts = count_downloads(s3_store)
    assert predict()[1]["model"]["version"] == 2
    assert predict(1)[1]["model"]["version"] == 1
    assert predict()[0] == 200 and predict(1)[0] == 200
    assert counts == {"downloads": 2, "not_modified": 0}


def test_revalidation_by_etag_downloads_nothing_when_unchanged(s3_store, clock):
    counts = count_downloads(s3_store)
    predict(1)
    clock.now += 61
    predict(1)
    assert counts == {"downloads": 1, "not_modified": 1}


def test_changed_object_is_reloaded_after_ttl(s3, s3_store, clock):
    before = predict(1)[1]["predictions"]
    put(s3, 1, tiny_model(99))
    assert predict(1)[1]["predictions"] == before  # within ttl: cached
    clock.now += 61
    assert predict(1)[1]["predictions"] != before


def test_latest_is_reresolved_after_ttl(s3, s3_store, clock):
    assert predict()[1]["model"]["version"] == 2
    put(s3, 3, tiny_model(3))
    assert predict()[1]["model"]["version"] == 2
    clock.now += 61
    assert predict()[1]["model"]["version"] == 3


def _corrupt(kind):
    if kind == "truncated":
        return tiny_model(5)[:500]
    arrays = dict(np.load(io.BytesIO(tiny_model(5))))
    if kind == "nan":
        arrays["P0"] = np.full_like(arrays["P0"], np.nan)
    else:
        arrays["W1"] = np.zeros((3, 10), np.float32)  # shapes don't chain
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["truncated", "nan", "shapes"])
def test_invalid_newest_version_is_skipped_by_latest(s3, s3_store, kind):
    put(s3, 3, _corrupt(kind))
    status, body = predict()
    assert status == 200 and body["model"]["version"] == 2
    status, body = predict(3)
    assert status == 503 and body["error"]["code"] == "model_invalid"
    models = invoke(http_event("GET", "/models"))[2]
    newest = models["models"][0]
    assert models["latest"] == 2 and newest["version"] == 3 and newest["valid"] is False


def test_deleted_between_list_and_get(s3, s3_store, monkeypatch):
    real = S3Store.list_objects
    ghost = ObjectInfo('"gone"', 10)
    monkeypatch.setattr(S3Store, "list_objects", lambda self: {**real(self), "model-v7.npz": ghost})
    status, body = predict()
    assert status == 200 and body["model"]["version"] == 2
    status, body = predict(7)
    assert status == 404 and body["error"]["code"] == "model_not_found"


def _fault(name):
    if name == "connect_timeout":
        return ConnectTimeoutError(endpoint_url="https://s3.amazonaws.com")
    if name == "read_timeout":
        return ReadTimeoutError(endpoint_url="https://s3.amazonaws.com")
    code = {"denied": "AccessDenied", "throttled": "SlowDown", "missing_bucket": "NoSuchBucket"}[name]
    return ClientError({"Error": {"Code": code, "Message": name}}, "GetObject")


@pytest.mark.parametrize("fault", ["denied", "throttled", "connect_timeout", "read_timeout", "missing_bucket"])
def test_store_fault_cached_model_keeps_serving_then_recovers(s3_store, clock, monkeypatch, fault):
    assert predict()[0] == 200  # v2 cached
    client = s3_store.store().client
    broken = {"on": True}
    real_get, real_list = client.get_object, client.list_objects_v2

    def maybe_fail(real):
        def call(**kwargs):
            if broken["on"]:
                raise _fault(fault)
            return real(**kwargs)

        return call

    monkeypatch.setattr(client, "get_object", maybe_fail(real_get))
    monkeypatch.setattr(client, "list_objects_v2", maybe_fail(real_list))
    clock.now += 61
    status, body = predict()
    assert status == 200 and body["model"]["version"] == 2  # cached copy serves through the fault
    status, body = predict(1)  # never cached: nothing to serve
    assert status == 503 and body["error"]["code"] == "store_unavailable"
    assert "btf-models" not in body["error"]["message"]  # no internals leak to clients
    broken["on"] = False
    clock.now += 61
    assert predict(1)[0] == 200  # recovered on its own


def test_missing_bucket_with_nothing_cached_is_503(s3, use_store):
    use_store("s3://no-such-bucket/models/")
    status, body = predict()
    assert status == 503 and body["error"]["code"] == "store_unavailable"
    status, _, body = invoke(http_event("GET", "/models"))
    assert status == 503


def test_empty_store_is_503_no_model(tmp_path, use_store):
    use_store(str(tmp_path))
    status, body = predict()
    assert status == 503 and body["error"]["code"] == "no_model"


def test_unreachable_endpoint_is_503(aws_env, use_store, monkeypatch):
    cache = use_store(URI)
    monkeypatch.setattr(cache, "open_store", lambda: S3Store(URI, endpoint_url="http://127.0.0.1:9", timeout=0.3))
    status, body = predict()
    assert status == 503 and body["error"]["code"] == "store_unavailable"


def test_concurrent_requests_load_each_model_once(folder_store, monkeypatch):
    loads = []
    real = btf.Graph.load.__func__

    def slow_load(cls, source):
        loads.append(1)
        threading.Event().wait(0.05)
        return real(cls, source)

    monkeypatch.setattr(btf.Graph, "load", classmethod(slow_load))
    results = []
    threads = [threading.Thread(target=lambda: results.append(app_module.cache.resolve(1).version)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1] * 8 and len(loads) == 1


@pytest.mark.parametrize("fault", ["truncated", "nan", "shapes", "deleted"])
def test_cached_version_keeps_serving_when_its_object_goes_bad(s3, s3_store, clock, fault):
    before = predict(2)[1]["predictions"]
    if fault == "deleted":
        s3.delete_object(Bucket="btf-models", Key="prod/model-v2.npz")
    else:
        put(s3, 2, _corrupt(fault))
    clock.now += 61
    status, body = predict(2)
    assert status == 200 and body["predictions"] == before


def test_invalid_version_recovers_once_fixed(s3, s3_store, clock):
    put(s3, 3, _corrupt("nan"))
    assert predict(3)[0] == 503
    put(s3, 3, tiny_model(3))
    assert predict(3)[0] == 503  # the failure is remembered for the ttl, not re-downloaded per request
    clock.now += 61
    status, body = predict(3)
    assert status == 200 and body["model"]["version"] == 3
    assert predict()[1]["model"]["version"] == 3  # and latest moves to it


def test_models_listing_is_cached_and_survives_a_fault(s3_store, clock, monkeypatch):
    status, _, body = invoke(http_event("GET", "/models"))
    assert status == 200 and [m["version"] for m in body["models"]] == [2, 1]
    client = s3_store.store().client
    calls = []
    real_list = client.list_objects_v2
    monkeypatch.setattr(client, "list_objects_v2", lambda **kw: calls.append(1) or real_list(**kw))
    invoke(http_event("GET", "/models"))
    assert calls == []  # within the ttl: no S3 list per request

    def down(**kwargs):
        raise _fault("throttled")

    monkeypatch.setattr(client, "list_objects_v2", down)
    clock.now += 61
    status, _, body = invoke(http_event("GET", "/models"))
    assert status == 200 and [m["version"] for m in body["models"]] == [2, 1]
