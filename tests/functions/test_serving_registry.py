"""The function serves what the registry promotes: the alias, its fallbacks, listing without loading, a bounded cache."""

import base64
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import btf
from btf.store import open_store, registry
from infra.apigw import http_event, json_event
from tests.support.handler import log_lines
from tests.support.images import canvas_png
from tests.support.models import rebuild, tiny_model

IMAGE = base64.b64encode(canvas_png()).decode()


def predict(api, model=None):
    doc = {"image": IMAGE} if model is None else {"image": IMAGE, "model": model}
    status, _, body = api.invoke(json_event("/predict", doc))
    return status, body


def served(api):
    status, body = predict(api)
    assert status == 200, body
    return body["model"]["version"]


@pytest.fixture
def store(store_uri):
    """A store with v1, v2, v3 (no alias yet)."""
    store = open_store(store_uri)
    for seed in (1, 2, 3):
        store.publish(tiny_model(seed))
    return store


@pytest.fixture
def api(store, make_api):
    """The app serving ``store``."""
    return make_api(store.uri)


def test_without_an_alias_latest_is_the_highest_version(api):
    assert served(api) == 3


def test_latest_follows_promotions_after_the_ttl(store, api, clock):
    assert served(api) == 3
    registry.promote(store, 2, why="test")
    assert served(api) == 3  # within the ttl: cached
    clock.now += 61
    assert served(api) == 2
    store.publish(tiny_model(9))  # published, not promoted
    clock.now += 61
    assert served(api) == 2


def test_a_promoted_version_that_cannot_serve_keeps_the_last_good_one(store, api, clock, capsys):
    registry.promote(store, 2, why="good")
    assert served(api) == 2
    broken = rebuild(tiny_model(4), lambda n, d: (n, b"junk" if n == "P0.npy" else d))
    version = store.publish(broken)
    registry.promote(store, version, why="oops")
    clock.now += 61
    assert served(api) == 2
    warnings = [r["message"] for r in log_lines(capsys) if r["level"] == "WARNING"]
    assert any("cannot serve" in m and f"v{version}" in m for m in warnings), warnings


def test_a_cold_function_falls_back_through_the_promotion_history(store, make_api):
    registry.promote(store, 1, why="good")
    broken = rebuild(tiny_model(4), lambda n, d: (n, b"junk" if n == "P1.npy" else d))
    registry.promote(store, store.publish(broken), why="bad")
    api = make_api(store.uri)  # a fresh container: nothing served yet
    assert served(api) == 1  # the previous promotion, never an unpromoted v2 or v3


def test_models_shows_latest_promotions_and_rows_without_loading(store, api):
    registry.promote(store, 2, why="because")
    status, _, body = api.invoke(http_event("GET", "/models"))
    assert status == 200 and body["latest"] == 2 and body["promoted"] == 2
    assert body["history"][-1]["to"] == 2 and body["history"][-1]["why"] == "because"
    assert [row["version"] for row in body["models"]] == [3, 2, 1]
    assert body["models"][0]["sizes"] == [784, 16, 10] and body["models"][0]["test_accuracy"] == 0.5
    assert api.cache.cached_versions() == [2]  # only latest was loaded, to answer "latest"


def test_models_lists_many_large_versions_without_keeping_them(tmp_path, make_api):
    folder = tmp_path / "big"
    store = open_store(str(folder))
    rng = np.random.default_rng(0)
    for _ in range(4):
        net = btf.Graph((784, 1500, 10), cost="cross_entropy", seed=0)
        net.params[0][:] = rng.standard_normal(net.params[0].shape, dtype=np.float32)  # incompressible
        store.publish(net.to_bytes({"test_accuracy": 0.5}))  # no sidecars: the fallback path
    size = max(p.stat().st_size for p in folder.glob("model-v*.npz"))
    api = make_api(str(folder))
    api.cache.latest()  # what a serving container has loaded anyway
    tracemalloc.start()
    status, _, body = api.invoke(http_event("GET", "/models"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert status == 200 and len(body["models"]) == 4 and all(r["sizes"] == [784, 1500, 10] for r in body["models"])
    assert api.cache.cached_versions() == [4]  # listing loaded nothing more
    assert peak < 2 * size, f"listing peaked at {peak / 1e6:.1f} MB for {size / 1e6:.1f} MB versions"


def test_the_cache_keeps_at_most_max_models(store, make_api):
    api = make_api(store.uri, max_models=2)
    for version in (1, 2, 3, 1, 2, 3):
        assert predict(api, version)[0] == 200
        assert len(api.cache.cached_versions()) <= 2
    assert api.cache.cached_versions() == [2, 3]  # v1 was the least recently used


def test_hostile_sidecars_and_alias_history_still_list_as_valid_json(store, api):
    store.put_object(
        "model-v1.json", b'{"test_accuracy": NaN, "sizes": [784, "x", 10], "junk": "' + b"y" * 1000 + b'"}'
    )
    store.put_object("model-v2.json", b"[" * 100_000)
    registry.promote(store, 2, why="test")
    status, _, body = api.invoke(http_event("GET", "/models"))  # invoke parses with the strict json module
    rows = {row["version"]: row for row in body["models"]}
    assert status == 200 and "junk" not in rows[1] and rows[1].get("test_accuracy") is None
    assert rows[2]["sizes"] == [784, 16, 10]  # an unreadable sidecar falls back to the checkpoint


@pytest.mark.parametrize("broken", [b"{not json", b'{"latest": "v2"}', b'{"latest": 2, "history": 5}', "folder"])
def test_a_broken_alias_serves_the_newest_valid_version_and_says_why(store, store_uri, api, capsys, broken):
    if broken == "folder":
        if store_uri.startswith("s3://"):
            pytest.skip("S3 has no folders")
        (Path(store_uri) / registry.ALIAS).mkdir()
    else:
        store.put_object(registry.ALIAS, broken)
    capsys.readouterr()
    assert served(api) == 3
    warnings = [r["message"] for r in log_lines(capsys) if r["level"] == "WARNING"]
    assert any("alias cannot be used" in m for m in warnings), warnings
    status, _, body = api.invoke(http_event("GET", "/models"))
    assert status == 200 and body["latest"] == 3 and body["promoted"] is None
