"""POST /read (a whole number) and ?explain=1 (what the model saw), through API Gateway v2 events into handler()."""

import base64
import json

import cv2
import numpy as np
import pytest

from infra.apigw import http_event, json_event, multipart_event
from tests.support.handler import ROOT
from tests.support.images import canvas_png
from tests.support.numbers import pen_number, png

NUMBER = png(pen_number("-3.14"))
URI = "data:image/png;base64," + base64.b64encode(NUMBER).decode()


# ``shipped`` (tests/functions/conftest.py) serves the shipped models, so readings mean something.


def check_reading(body: dict, text: str) -> None:
    assert set(body) == {"text", "confidence", "digits", "marks", "model"}
    assert body["text"] == text
    digits = [c for c in text if c.isdigit()]
    assert [d["label"] for d in body["digits"]] == [int(c) for c in digits]
    assert body["confidence"] == pytest.approx(np.prod([d["confidence"] for d in body["digits"]]), rel=1e-4)
    for digit in body["digits"]:
        assert digit["is_digit"] is True and len(digit["box"]) == 4 and len(digit["predictions"]) == 10
        assert digit["confidence"] == digit["predictions"][digit["label"]]["confidence"]
        assert "input" not in digit
    assert [m["text"] for m in body["marks"]] == [c for c in text if c in ".-"]


def decoded_input(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    image = cv2.imdecode(np.frombuffer(base64.b64decode(uri.split(",", 1)[1]), np.uint8), cv2.IMREAD_UNCHANGED)
    assert image.shape == (28, 28) and image.dtype == np.uint8
    return image


def test_json_data_uri(shipped):
    status, headers, body = shipped.invoke(json_event("/read", {"image": URI}))
    assert status == 200 and headers["content-type"] == "application/json"
    check_reading(body, "-3.14")
    assert body["model"]["version"] >= 5


@pytest.mark.parametrize(
    "event",
    [
        http_event("POST", "/read", body=NUMBER, content_type="image/png"),
        multipart_event("/read", "image", "number.png", NUMBER),
        json_event("/read", {"image": base64.b64encode(NUMBER).decode(), "pretrained": "latest"}),
    ],
    ids=["raw-png", "multipart", "bare-base64-pretrained"],
)
def test_every_input_form_of_predict(shipped, event):
    status, _, body = shipped.invoke(event)
    assert status == 200, body
    check_reading(body, "-3.14")


def test_model_selection_as_for_predict(api):
    for event, version in (
        (json_event("/read", {"image": URI, "model": 1}), 1),
        (http_event("POST", "/read", body=NUMBER, content_type="image/png", query="model=2"), 2),
    ):
        status, _, body = api.invoke(event)
        assert status == 200 and body["model"]["version"] == version and body["model"]["sizes"] == [784, 16, 10]
    status, _, body = api.invoke(json_event("/read", {"image": URI, "model": 9}))
    assert status == 404 and body["error"]["code"] == "model_not_found"


def test_boxes_point_at_the_digits(shipped):
    status, _, body = shipped.invoke(json_event("/read", {"image": URI}))
    xs = [d["box"][0] for d in body["digits"]]
    assert status == 200 and xs == sorted(xs)
    point = next(m["box"] for m in body["marks"] if m["text"] == ".")
    assert body["digits"][0]["box"][0] < point[0] < body["digits"][1]["box"][0]


@pytest.mark.parametrize(
    "event",
    [
        json_event("/read", {"image": URI, "explain": True}),
        http_event("POST", "/read", body=NUMBER, content_type="image/png", query="explain=1"),
    ],
    ids=["json-field", "query"],
)
def test_explain_returns_each_digits_28x28_input(shipped, event):
    status, _, body = shipped.invoke(event)
    assert status == 200 and body["text"] == "-3.14"
    for digit in body["digits"]:
        image = decoded_input(digit["input"])
        assert image.max() >= 200 and image[0].max() == 0  # white ink, centred on black


def test_predict_explains_too_single_and_batch(shipped):
    seven = "data:image/png;base64," + base64.b64encode(canvas_png("7")).decode()
    status, _, body = shipped.invoke(json_event("/predict", {"image": seven, "explain": True}))
    assert status == 200 and body["label"] == 7 and decoded_input(body["input"]).max() >= 200
    event = json_event("/predict", {"images": [seven, seven]})
    event["rawQueryString"], event["queryStringParameters"] = "explain=1", {"explain": "1"}
    status, _, body = shipped.invoke(event)
    assert status == 200 and all("input" in r for r in body["results"])
    status, _, body = shipped.invoke(json_event("/predict", {"image": seven}))
    assert "input" not in body


@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        (
            json_event("/read", {"image": base64.b64encode(png(np.full((80, 200), 255, np.uint8))).decode()}),
            422,
            "no_digit",
        ),
        (
            json_event("/read", {"image": base64.b64encode(png(pen_number("1234567890123"))).decode()}),
            422,
            "too_many_digits",
        ),
        (json_event("/read", {"images": [URI, URI]}), 400, "invalid_field"),
        (json_event("/read", {"image": URI, "explain": "maybe"}), 400, "invalid_field"),
        (http_event("POST", "/read", body=NUMBER, content_type="image/png", query="explain=2"), 400, "invalid_field"),
        (json_event("/read", {"image": "not base64!"}), 400, "invalid_base64"),
        (json_event("/read", {"image": URI, "model": "v5"}), 400, "invalid_model"),
        (http_event("POST", "/read", body=b"GIF89a....", content_type="image/png"), 415, "unsupported_format"),
        (http_event("POST", "/read", body="x", content_type="text/plain"), 415, "unsupported_media_type"),
        (http_event("GET", "/read"), 405, "method_not_allowed"),
    ],
    ids=["blank", "13-digits", "batch", "explain-json", "explain-query", "base64", "model", "gif", "text", "get"],
)
def test_bad_input_gets_the_same_json_errors_as_predict(shipped, event, status, code):
    got, headers, body = shipped.invoke(event)
    assert got == status and headers["content-type"] == "application/json", body
    assert body["error"]["code"] == code and body["error"]["message"]


def test_the_same_limits_as_predict(make_api):
    api = make_api(str(ROOT / "models"), max_pixels=10_000)
    status, _, body = api.invoke(json_event("/read", {"image": URI}))
    assert status == 413 and body["error"]["code"] == "image_too_large"
    api = make_api(str(ROOT / "models"), max_body_bytes=1_000)
    status, _, body = api.invoke(json_event("/read", {"image": URI}))
    assert status == 413 and body["error"]["code"] == "body_too_large"


def test_an_image_error_comes_before_the_store(make_api, tmp_path):
    api = make_api(str(tmp_path / "empty"))  # no model anywhere
    blank = base64.b64encode(png(np.full((80, 200), 255, np.uint8))).decode()
    status, _, body = api.invoke(json_event("/read", {"image": blank}))
    assert status == 422 and body["error"]["code"] == "no_digit"
    status, _, body = api.invoke(json_event("/read", {"image": URI}))
    assert status == 503 and body["error"]["code"] == "no_model"


def test_the_answer_is_strict_json_and_logged(shipped, capsys):
    status, _, body = shipped.invoke(json_event("/read", {"image": URI}))
    assert status == 200 and json.loads(json.dumps(body, allow_nan=False)) == body
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("path") == "/read"]
    assert access and access[-1]["status"] == 200 and access[-1]["model_version"] == body["model"]["version"]


def test_explain_as_a_form_field(client):
    files = {"image": ("number.png", NUMBER, "image/png")}
    body = client.post("/read", files=files, data={"explain": "1", "model": "1"}).json()
    assert body["model"]["version"] == 1 and all("input" in d for d in body["digits"])
    answer = client.post("/predict", files=files, data={"explain": "true"}).json()
    assert "input" in answer
    refused = client.post("/read", files=files, data={"explain": "yes"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_field"
