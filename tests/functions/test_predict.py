"""The predict function's contract, through real API Gateway v2 events into handler() and through TestClient."""

import base64
import dataclasses
import json

import pytest

from infra.apigw import http_event, json_event, multipart_event
from tests.support.api import Api
from tests.support.images import canvas_png

PNG = canvas_png()
DATA_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()


def _check_result(body, version):
    assert set(body) >= {"label", "confidence", "is_digit", "predictions", "model"}
    assert type(body["is_digit"]) is bool
    assert isinstance(body["label"], int) and 0 <= body["label"] <= 9
    assert [p["label"] for p in body["predictions"]] == list(range(10))
    assert all(type(p["confidence"]) is float for p in body["predictions"])
    assert sum(p["confidence"] for p in body["predictions"]) == pytest.approx(1, abs=1e-4)
    assert body["confidence"] == body["predictions"][body["label"]]["confidence"]
    assert body["model"]["version"] == version and body["model"]["sizes"] == [784, 16, 10]


def test_json_data_uri_event_uses_latest(api):
    status, headers, body = api.invoke(json_event("/predict", {"image": DATA_URI}))
    assert status == 200 and headers["content-type"] == "application/json"
    _check_result(body, 2)


def test_bare_base64_and_explicit_model_and_pretrained_alias(api):
    bare = base64.b64encode(PNG).decode()
    for doc, version in (
        ({"image": bare, "model": 1}, 1),
        ({"image": bare, "pretrained": 1}, 1),
        ({"image": DATA_URI, "model": "latest"}, 2),
        ({"image": DATA_URI, "model": "2"}, 2),
    ):
        status, _, body = api.invoke(json_event("/predict", doc))
        assert status == 200, body
        _check_result(body, version)


def test_binary_png_body_event(api):
    status, _, body = api.invoke(http_event("POST", "/predict", body=PNG, content_type="image/png", query="model=1"))
    assert status == 200, body
    _check_result(body, 1)


def test_multipart_event(api):
    status, _, body = api.invoke(multipart_event("/predict", "image", "digit.png", PNG))
    assert status == 200, body
    _check_result(body, 2)


def test_batch_answers_each_image_in_order(shipped):  # the shipped models, so the labels mean something
    one = "data:image/png;base64," + base64.b64encode(canvas_png("1")).decode()
    status, _, body = shipped.invoke(json_event("/predict", {"images": [DATA_URI, one, DATA_URI]}))
    assert status == 200 and len(body["results"]) == 3
    assert [r["label"] for r in body["results"]] == [7, 1, 7]
    assert body["results"][0]["predictions"] == body["results"][2]["predictions"]
    assert body["results"][0]["predictions"] != body["results"][1]["predictions"]


def test_models_endpoint(api):
    status, _, body = api.invoke(http_event("GET", "/models"))
    assert status == 200
    assert body["latest"] == 2
    assert [m["version"] for m in body["models"]] == [2, 1]
    assert body["models"][0]["test_accuracy"] == 0.5 and body["models"][0]["created"].startswith("2026")


def test_health_lists_cached_versions(api):
    api.invoke(json_event("/predict", {"image": DATA_URI, "model": 1}))
    status, _, body = api.invoke(http_event("GET", "/health"))
    assert status == 200 and body["status"] == "ok" and body["cached_models"] == [1]


def test_docs_and_openapi(client):
    docs = client.get("/docs")
    assert docs.status_code == 200 and 'href="openapi.json"' in docs.text and "cannot reach" in docs.text
    spec = client.get("/openapi.json").json()
    assert {"/predict", "/models", "/health"} <= set(spec["paths"])
    content = spec["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert {"application/json", "image/png", "image/jpeg", "multipart/form-data"} <= set(content)


def test_testclient_paths_agree(client):
    r = client.post("/predict", json={"image": DATA_URI})
    assert r.status_code == 200 and r.json()["model"]["version"] == 2
    r = client.post("/predict?model=1", content=PNG, headers={"content-type": "image/png"})
    assert r.json()["model"]["version"] == 1
    r = client.post("/predict", files={"image": ("d.png", PNG, "image/png")}, data={"model": "1"})
    assert r.status_code == 200 and r.json()["model"]["version"] == 1


def test_one_json_log_line_per_request(api, capsys):
    capsys.readouterr()
    api.invoke(json_event("/predict", {"image": DATA_URI}))
    api.invoke(json_event("/predict", {"image": "%%%"}))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(lines) == 2
    ok, bad = lines
    assert ok["status"] == 200 and ok["outcome"] == "ok" and ok["model_version"] == 2
    assert bad["status"] == 400 and bad["outcome"] == "invalid_base64"
    assert ok["request_id"] != bad["request_id"] and ok["latency_ms"] > 0
    assert ok["method"] == "POST" and ok["path"] == "/predict"


def test_cors_headers_only_when_configured(api):
    preflight = {"origin": "http://localhost:3000", "access-control-request-method": "POST"}
    assert "access-control-allow-origin" not in api.client.options("/predict", headers=preflight).headers
    with_cors = Api.serving(dataclasses.replace(api.settings, cors_origins=("http://localhost:3000",)), api.cache)
    response = with_cors.client.options("/predict", headers=preflight)
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"


def _urlsafe(data: bytes, pad: bool) -> str:
    text = base64.urlsafe_b64encode(data).decode()
    return text if pad else text.rstrip("=")


def test_the_original_apis_clients_are_understood(api):
    """Compatibility rules for clients of the original server (docs/deployment.md#the-original-api)."""
    png = PNG + b"\0"  # trailing bytes after IEND, so the standard encoding needs padding
    assert {"-", "_"} <= set(base64.urlsafe_b64encode(png).decode()) and base64.b64encode(png).endswith(b"=")
    for doc, version in (
        ({"image": _urlsafe(png, pad=True)}, 2),
        ({"image": _urlsafe(png, pad=False), "pretrained": 1}, 1),
        ({"image": "data:image/png;base64," + _urlsafe(png, pad=False)}, 2),
        ({"image": DATA_URI, "pretrained": 0}, 2),
        ({"image": DATA_URI, "pretrained": -3}, 2),
        ({"image": DATA_URI, "pretrained": 1.0}, 1),
        ({"image": DATA_URI, "pretrained": 1.0, "model": 1}, 1),
    ):
        status, _, body = api.invoke(json_event("/predict", doc))
        assert status == 200, (doc.get("pretrained"), body)
        _check_result(body, version)


@pytest.mark.parametrize("value", [1.5, float("inf"), 1e300, "0", True, [1]])
def test_pretrained_is_lenient_only_where_the_original_was(api, value):
    status, _, body = api.invoke(json_event("/predict", {"image": DATA_URI, "pretrained": value}))
    assert (status, body["error"]["code"]) == (400, "invalid_model") and "pretrained" in body["error"]["message"]
    status, _, body = api.invoke(json_event("/predict", {"image": DATA_URI, "model": 1.0}))
    assert (status, body["error"]["code"]) == (400, "invalid_model")  # model stays strict
