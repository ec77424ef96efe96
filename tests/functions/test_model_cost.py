"""Issue 17, sections 1 and 2, through the handler: a model's cost is bounded at load, and the cache in bytes.

- A stored model over the footprint limits, or one whose layer list a Graph would refuse, is
  503 ``model_invalid`` by number, skipped by ``latest``, remembered for the TTL, and never
  makes the SnapStart hook raise.
- Whatever building or probing a model raises (MemoryError included) is the same 503, never a 500.
- The cache never holds more than its byte budget, and the version ``latest`` serves stays
  cached however many other versions clients ask for, so it keeps serving through a store outage.
"""

import base64

import pytest

import btf
from btf.digits import check_digit_model
from btf.store import StoreUnavailable, open_store
from functions.predict import snapstart
from functions.predict.cache import ModelCache
from functions.predict.entry import resident_bytes
from infra.apigw import json_event
from tests.support.images import canvas_png
from tests.support.models import OVER_LIMITS, layered_model, tiny_model

IMAGE = base64.b64encode(canvas_png()).decode()
HOSTILE = {
    **{name: spec for name, (spec, _) in OVER_LIMITS.items() if name != "thirty-conv64x15"},
    "dropout-last": "flatten,dense16:relu,dense10:linear,dropout0.5",
}


def predict(api, model=None):
    doc = {"image": IMAGE} if model is None else {"image": IMAGE, "model": model}
    status, _, body = api.invoke(json_event("/predict", doc))
    return status, body


def count_reads(cache) -> list[int]:
    store, reads = cache.store(), []
    real = store.read
    store.read = lambda version, etag=None: reads.append(version) or real(version, etag)
    return reads


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_model_over_the_limits_is_invalid_skipped_and_remembered(name, folder_store, api):
    (folder_store / "model-v3.npz").write_bytes(layered_model(HOSTILE[name]))
    reads = count_reads(api.cache)
    status, body = predict(api)
    assert status == 200 and body["model"]["version"] == 2  # latest skips v3
    for _ in range(3):
        status, body = predict(api, 3)
        assert (status, body["error"]["code"]) == (503, "model_invalid")
    assert reads.count(3) == 1  # remembered as invalid: not downloaded again within the TTL
    assert api.cache.known_valid(3) is False
    snapstart.before_snapshot(api.cache)  # must not raise


def test_the_local_server_answers_the_same(client, folder_store):
    (folder_store / "model-v3.npz").write_bytes(layered_model(OVER_LIMITS["conv99999-pool16"][0]))
    response = client.post("/predict", json={"image": IMAGE, "model": 3})
    assert response.status_code == 503 and response.json()["error"]["code"] == "model_invalid"
    response = client.post("/predict", json={"image": IMAGE})
    assert response.status_code == 200 and response.json()["model"]["version"] == 2


def test_a_promoted_model_over_the_limits_falls_back(folder_store, api):
    from btf.store import registry

    store = open_store(str(folder_store))
    store.publish(layered_model(OVER_LIMITS["4096-channels"][0]))
    registry.promote(store, 2, why="test")
    registry.promote(store, 3, why="test")
    status, body = predict(api)
    assert status == 200 and body["model"]["version"] == 2  # the promotion history's last good one


@pytest.mark.parametrize("where", ["load", "validate"])
@pytest.mark.parametrize(
    "exc", [MemoryError(), btf.ConfigError("x"), ValueError("y"), RuntimeError("z")], ids=lambda e: type(e).__name__
)
def test_any_failure_building_a_model_is_a_503_and_remembered(exc, where, folder_store, make_api):
    bad = tiny_model(3, marker="bad")
    (folder_store / "model-v3.npz").write_bytes(bad)

    def load(data):  # the loader fails on this file
        if where == "load" and data == bad:
            raise exc
        return btf.Graph.load(data)

    def validate(graph):  # the cache's contract check fails on this model
        if where == "validate" and graph.metadata.get("marker") == "bad":
            raise exc
        check_digit_model(graph)

    api = make_api(str(folder_store), cache={"load": load, "validate": validate})
    reads = count_reads(api.cache)
    for _ in range(2):
        status, body = predict(api, 3)
        assert (status, body["error"]["code"]) == (503, "model_invalid")
    assert reads.count(3) == 1
    assert predict(api)[1]["model"]["version"] == 2  # latest skipped v3 (remembered, not read again)
    snapstart.before_snapshot(api.cache)


@pytest.mark.parametrize(
    "exc", [MemoryError(), RuntimeError("boom"), btf.ConfigError("x")], ids=lambda e: type(e).__name__
)
def test_before_snapshot_never_raises(exc, capsys):
    def explode():
        raise exc

    snapstart.before_snapshot(ModelCache(explode))  # the store cannot even be opened
    assert any("no model in the snapshot" in line for line in capsys.readouterr().out.splitlines())


# ------------------------------------------------------------------ section 2: the cache
def big_dense_model(seed: int) -> bytes:
    """A valid 784-1250-10 network (993,760 parameters: 3.8 MiB resident), zero weights so the file is small."""
    net = btf.Graph((784, 1250, 10), cost="cross_entropy", seed=seed)
    for p in net.params:
        p[...] = 0
    return net.to_bytes({"seed": seed})


def big_size() -> int:
    return resident_bytes(btf.Graph.load(big_dense_model(1)))


@pytest.fixture
def nine_big(tmp_path, make_api):
    """``nine_big(**cache)``: an app on a store of nine big models, its cache built with ``cache``."""
    folder = tmp_path / "big"
    folder.mkdir()
    store = open_store(str(folder))
    for seed in range(1, 10):
        store.publish(big_dense_model(seed))
    return lambda **cache: make_api(str(folder), cache=cache)


def test_nine_big_models_never_exceed_the_byte_budget(nine_big):
    api = nine_big(max_bytes=3 * big_size() + big_size() // 2)  # room for three
    cache = api.cache
    assert predict(api)[1]["model"]["version"] == 9
    for version in range(1, 10):
        status, body = predict(api, version)
        assert status == 200 and body["model"]["version"] == version
        assert cache.cached_bytes() <= cache.max_bytes
        assert len(cache.cached_versions()) <= 3 and 9 in cache.cached_versions()
    assert cache.cached_versions() == [7, 8, 9]


def test_a_model_that_does_not_fit_beside_latest_is_served_but_not_kept(nine_big):
    api = nine_big(max_bytes=big_size() * 3 // 2)
    cache = api.cache
    assert predict(api)[1]["model"]["version"] == 9
    status, body = predict(api, 4)
    assert status == 200 and body["model"]["version"] == 4
    assert cache.cached_versions() == [9] and cache.cached_bytes() <= cache.max_bytes


def test_latest_stays_cached_when_clients_ask_for_eight_other_versions(nine_big, clock, monkeypatch):
    api = nine_big()
    cache = api.cache
    assert cache.max_models == 8
    assert predict(api)[1]["model"]["version"] == 9
    for version in range(1, 9):
        assert predict(api, version)[0] == 200
    assert 9 in cache.cached_versions() and len(cache.cached_versions()) == 8
    # The store goes down: latest is still served from the cache, before and after the TTL.
    store = cache.store()

    def down(*_args, **_kwargs):
        raise StoreUnavailable("S3 is down")

    for method in ("read", "list_objects", "read_object", "versions"):
        if hasattr(store, method):
            monkeypatch.setattr(store, method, down)
    assert predict(api)[1]["model"]["version"] == 9
    clock.now += 61
    status, body = predict(api)
    assert status == 200 and body["model"]["version"] == 9


def test_a_model_is_charged_its_parameters_and_metadata():
    small = btf.Graph.load(tiny_model(1))
    talkative = btf.Graph.load(tiny_model(1, notes="x" * 100_000))
    assert resident_bytes(small) >= 4 * (784 * 16 + 16 + 16 * 10 + 10)
    assert resident_bytes(talkative) >= resident_bytes(small) + 100_000
