"""The model cache (functions/predict/cache.py) through the handler: S3 via moto, ETag revalidation, latest TTL, faults, concurrency."""

import base64
import io
import threading

import numpy as np
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

from btf.store import ObjectInfo, open_store
from btf.store.s3 import S3Store
from infra.apigw import http_event, json_event
from tests.support.images import canvas_png
from tests.support.models import tiny_model

REQUEST = json_event("/predict", {"image": base64.b64encode(canvas_png()).decode()})
URI = "s3://btf-models/prod/"


def put(s3, version, data):
    s3.put_object(Bucket="btf-models", Key=f"prod/model-v{version}.npz", Body=data)


@pytest.fixture
def s3_api(s3, make_api):
    """The app serving an S3 prefix (moto) holding v1 and v2."""
    put(s3, 1, tiny_model(1))
    put(s3, 2, tiny_model(2))
    return make_api(URI)


def predict(api, model=None):
    doc = {"image": base64.b64encode(canvas_png()).decode()}
    if model is not None:
        doc["model"] = model
    status, _, body = api.invoke(json_event("/predict", doc))
    return status, body


def count_downloads(store):
    """Wrap ``store``'s read so the test can count real downloads (not 304s)."""
    real = store.read
    counts = {"downloads": 0, "not_modified": 0}

    def read(version, etag=None):
        blob = real(version, etag)
        counts["downloads" if blob else "not_modified"] += 1
        return blob

    store.read = read
    return counts


def test_serves_from_s3_and_caches(s3_api):
    counts = count_downloads(s3_api.cache.store())
    assert predict(s3_api)[1]["model"]["version"] == 2
    assert predict(s3_api, 1)[1]["model"]["version"] == 1
    assert predict(s3_api)[0] == 200 and predict(s3_api, 1)[0] == 200
    assert counts == {"downloads": 2, "not_modified": 0}


def test_revalidation_by_etag_downloads_nothing_when_unchanged(s3_api, clock):
    counts = count_downloads(s3_api.cache.store())
    predict(s3_api, 1)
    clock.now += 61
    predict(s3_api, 1)
    assert counts == {"downloads": 1, "not_modified": 1}


def test_changed_object_is_reloaded_after_ttl(s3, s3_api, clock):
    before = predict(s3_api, 1)[1]["predictions"]
    put(s3, 1, tiny_model(99))
    assert predict(s3_api, 1)[1]["predictions"] == before  # within ttl: cached
    clock.now += 61
    assert predict(s3_api, 1)[1]["predictions"] != before


def test_latest_is_reresolved_after_ttl(s3, s3_api, clock):
    assert predict(s3_api)[1]["model"]["version"] == 2
    put(s3, 3, tiny_model(3))
    assert predict(s3_api)[1]["model"]["version"] == 2
    clock.now += 61
    assert predict(s3_api)[1]["model"]["version"] == 3


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
def test_invalid_newest_version_is_skipped_by_latest(s3, s3_api, kind):
    put(s3, 3, _corrupt(kind))
    status, body = predict(s3_api)
    assert status == 200 and body["model"]["version"] == 2
    status, body = predict(s3_api, 3)
    assert status == 503 and body["error"]["code"] == "model_invalid"
    models = s3_api.invoke(http_event("GET", "/models"))[2]
    newest = models["models"][0]
    assert models["latest"] == 2 and newest["version"] == 3 and newest["valid"] is False


def test_deleted_between_list_and_get(s3, make_api):
    put(s3, 1, tiny_model(1))
    put(s3, 2, tiny_model(2))

    def listing_a_ghost():
        """The store as a listing sees it just before v7 is deleted: listed, then not there to read."""
        store = open_store(URI)
        real = store.list_objects
        store.list_objects = lambda: {**real(), "model-v7.npz": ObjectInfo('"gone"', 10)}
        return store

    api = make_api(URI, cache={"open_store": listing_a_ghost})
    status, body = predict(api)
    assert status == 200 and body["model"]["version"] == 2
    status, body = predict(api, 7)
    assert status == 404 and body["error"]["code"] == "model_not_found"


def _fault(name):
    if name == "connect_timeout":
        return ConnectTimeoutError(endpoint_url="https://s3.amazonaws.com")
    if name == "read_timeout":
        return ReadTimeoutError(endpoint_url="https://s3.amazonaws.com")
    code = {"denied": "AccessDenied", "throttled": "SlowDown", "missing_bucket": "NoSuchBucket"}[name]
    return ClientError({"Error": {"Code": code, "Message": name}}, "GetObject")


@pytest.mark.parametrize("fault", ["denied", "throttled", "connect_timeout", "read_timeout", "missing_bucket"])
def test_store_fault_cached_model_keeps_serving_then_recovers(s3_api, clock, monkeypatch, fault):
    assert predict(s3_api)[0] == 200  # v2 cached
    client = s3_api.cache.store().client
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
    status, body = predict(s3_api)
    assert status == 200 and body["model"]["version"] == 2  # cached copy serves through the fault
    status, body = predict(s3_api, 1)  # never cached: nothing to serve
    assert status == 503 and body["error"]["code"] == "store_unavailable"
    assert "btf-models" not in body["error"]["message"]  # no internals leak to clients
    broken["on"] = False
    clock.now += 61
    assert predict(s3_api, 1)[0] == 200  # recovered on its own


def test_missing_bucket_with_nothing_cached_is_503(s3, make_api):
    api = make_api("s3://no-such-bucket/models/")
    status, body = predict(api)
    assert status == 503 and body["error"]["code"] == "store_unavailable"
    status, _, body = api.invoke(http_event("GET", "/models"))
    assert status == 503


def test_empty_store_is_503_no_model(tmp_path, make_api):
    status, body = predict(make_api(str(tmp_path)))
    assert status == 503 and body["error"]["code"] == "no_model"


def test_unreachable_endpoint_is_503(aws_env, make_api):
    api = make_api(URI, cache={"open_store": lambda: S3Store(URI, endpoint_url="http://127.0.0.1:9", timeout=0.3)})
    status, body = predict(api)
    assert status == 503 and body["error"]["code"] == "store_unavailable"


def test_concurrent_requests_load_each_model_once(folder_store, make_api):
    reads = []

    def slow_store():
        store = open_store(str(folder_store))
        real = store.read

        def read(version, etag=None):
            reads.append(version)
            threading.Event().wait(0.05)  # long enough for the other threads to ask meanwhile
            return real(version, etag)

        store.read = read
        return store

    cache = make_api(str(folder_store), cache={"open_store": slow_store}).cache
    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.resolve(1).version)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1] * 8 and reads == [1]


@pytest.mark.parametrize("fault", ["truncated", "nan", "shapes", "deleted"])
def test_cached_version_keeps_serving_when_its_object_goes_bad(s3, s3_api, clock, fault):
    before = predict(s3_api, 2)[1]["predictions"]
    if fault == "deleted":
        s3.delete_object(Bucket="btf-models", Key="prod/model-v2.npz")
    else:
        put(s3, 2, _corrupt(fault))
    clock.now += 61
    status, body = predict(s3_api, 2)
    assert status == 200 and body["predictions"] == before


def test_invalid_version_recovers_once_fixed(s3, s3_api, clock):
    put(s3, 3, _corrupt("nan"))
    assert predict(s3_api, 3)[0] == 503
    put(s3, 3, tiny_model(3))
    assert predict(s3_api, 3)[0] == 503  # the failure is remembered for the ttl, not re-downloaded per request
    clock.now += 61
    status, body = predict(s3_api, 3)
    assert status == 200 and body["model"]["version"] == 3
    assert predict(s3_api)[1]["model"]["version"] == 3  # and latest moves to it


def test_models_listing_is_cached_and_survives_a_fault(s3_api, clock, monkeypatch):
    status, _, body = s3_api.invoke(http_event("GET", "/models"))
    assert status == 200 and [m["version"] for m in body["models"]] == [2, 1]
    client = s3_api.cache.store().client
    calls = []
    real_list = client.list_objects_v2
    monkeypatch.setattr(client, "list_objects_v2", lambda **kw: calls.append(1) or real_list(**kw))
    s3_api.invoke(http_event("GET", "/models"))
    assert calls == []  # within the ttl: no S3 list per request

    def down(**kwargs):
        raise _fault("throttled")

    monkeypatch.setattr(client, "list_objects_v2", down)
    clock.now += 61
    status, _, body = s3_api.invoke(http_event("GET", "/models"))
    assert status == 200 and [m["version"] for m in body["models"]] == [2, 1]
