"""functions/predict/errors.py: every kind of failure is answered in the one JSON shape, by the handlers it installs."""

import json

import pytest

from btf.images.imageheader import ImageError
from btf.store import SpecialFile, StoreUnavailable
from functions.predict import errors
from functions.predict.cache import InvalidModel, ModelNotFound, NoModel
from infra.apigw import http_event
from tests.support.handler import log_lines

FAILURES = [
    # (what a use case raises, status, code, words the message has)
    (errors.ApiError(400, "invalid_json", "the body is not valid JSON"), 400, "invalid_json", "not valid JSON"),
    (ImageError("image_too_large", "the image is 9000x9000"), 413, "image_too_large", "9000x9000"),
    (ImageError("no_digit", "no digit found"), 422, "no_digit", "no digit"),
    (ImageError("unsupported_format", "send PNG"), 415, "unsupported_format", "PNG"),
    (ImageError("something_new", "odd"), 400, "something_new", "odd"),
    (ModelNotFound(42), 404, "model_not_found", "model version 42 does not exist"),
    (SpecialFile("model-v3.npz in /srv is a folder"), 404, "model_not_found", "that model version does not exist"),
    (InvalidModel(3, "model version 3 is invalid: NaN"), 503, "model_invalid", "model version 3 failed validation"),
    (NoModel("no models published in s3://secret-bucket/"), 503, "no_model", "no valid model"),
    (StoreUnavailable("AccessDenied on s3://secret-bucket/"), 503, "store_unavailable", "unavailable"),
]


@pytest.fixture
def failing(api):
    """The test's app with one more route, which raises whatever the test puts in ``raise_``."""
    raise_ = {}

    async def fail():
        raise raise_["exc"]

    api.app.add_api_route("/fail", fail, methods=["GET"])
    return api, raise_


@pytest.mark.parametrize("exc, status, code, words", FAILURES, ids=[f[2] + "-" + type(f[0]).__name__ for f in FAILURES])
def test_each_kind_of_failure_is_its_status_and_code(failing, exc, status, code, words, capsys):
    api, raise_ = failing
    raise_["exc"] = exc
    got, headers, body = api.invoke(http_event("GET", "/fail"))
    assert (got, body["error"]["code"]) == (status, code) and words in body["error"]["message"]
    assert headers["content-type"] == "application/json" and "secret-bucket" not in json.dumps(body)
    access = [r for r in log_lines(capsys) if r.get("path") == "/fail"]
    assert access[-1]["outcome"] == (code if status < 500 else "error")


def test_a_bug_is_a_json_500_without_its_traceback_and_the_app_keeps_serving(failing, capsys):
    api, raise_ = failing
    raise_["exc"] = RuntimeError("a bug, with internals: s3://secret-bucket/")
    status, headers, body = api.invoke(http_event("GET", "/fail"))
    assert (status, body) == (
        500,
        {"error": {"code": "internal_error", "message": "internal error; it has been logged"}},
    )
    # Headers every answer carries: the 500 is answered inside the middlewares, not around them.
    assert headers["x-request-id"] and headers["x-content-type-options"] == "nosniff"
    out = capsys.readouterr()
    records = [json.loads(line) for line in out.out.splitlines() if line.strip()]  # every line is JSON
    traced = [r for r in records if "Traceback" in r.get("exception", "")]
    assert len(traced) == 1 and traced[0]["request_id"] == headers["x-request-id"]  # once, for operators
    assert "Traceback" not in out.err
    assert [r["outcome"] for r in records if r.get("path") == "/fail"] == ["error"]
    assert api.invoke(http_event("GET", "/health"))[0] == 200


def test_starlettes_own_errors_keep_their_status_and_headers(api):
    status, headers, body = api.invoke(http_event("PUT", "/health"))
    assert (status, body["error"]["code"], headers["allow"]) == (405, "method_not_allowed", "GET")
    status, _, body = api.invoke(http_event("GET", "/no/such/route"))
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_the_lambda_fallback_is_the_same_answer():
    event = errors.event_error(400, "invalid_event", "the request event is malformed")
    response = errors.error_response(400, "invalid_event", "the request event is malformed")
    assert event["statusCode"] == response.status_code and event["body"].encode() == response.body
    assert event["headers"]["content-type"] == response.media_type
    assert json.loads(event["body"]) == {
        "error": {"code": "invalid_event", "message": "the request event is malformed"}
    }
