"""Observability: every log line is JSON with the request id, and /predict and /read emit valid CloudWatch EMF."""

import base64

from functions.predict import observe
from infra.apigw import http_event, json_event
from tests.support.handler import log_lines as lines
from tests.support.images import canvas_png

IMAGE = base64.b64encode(canvas_png()).decode()


def assert_valid_emf(record: dict) -> dict:
    """The EMF specification's rules: every declared metric and dimension is a field of the record."""
    meta = record["_aws"]
    assert isinstance(meta["Timestamp"], int)
    (directive,) = meta["CloudWatchMetrics"]
    assert directive["Namespace"] == "btf"
    for dimension_set in directive["Dimensions"]:
        assert all(isinstance(record[d], str) for d in dimension_set)
    metrics = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert all(isinstance(record[name], (int, float)) for name in metrics)
    return metrics


def test_a_prediction_emits_latency_outcome_version_and_confidence(api, capsys):
    capsys.readouterr()
    status, _, body = api.invoke(json_event("/predict", {"images": [IMAGE, IMAGE]}))
    (record,) = [r for r in lines(capsys) if r.get("path") == "/predict"]
    metrics = assert_valid_emf(record)
    assert metrics == {
        "Requests": "Count",
        "Latency": "Milliseconds",
        "Answers": "Count",
        "Confidence": "None",
        "LowConfidence": "Count",
        "NotDigit": "Count",
    }
    assert record["Outcome"] == "ok" and record["ModelVersion"] == str(body["model"]["version"])
    assert record["Answers"] == 2 and 0 <= record["Confidence"] <= 1
    assert record["LowConfidence"] == 2 * (body["results"][0]["confidence"] < observe.LOW_CONFIDENCE)
    assert record["NotDigit"] == 2 * (body["results"][0]["is_digit"] is False)
    assert ["Service", "ModelVersion"] in record["_aws"]["CloudWatchMetrics"][0]["Dimensions"]


def test_a_failed_prediction_counts_by_its_error_code(api, capsys):
    capsys.readouterr()
    api.invoke(json_event("/predict", {"image": "!!!"}))
    (record,) = [r for r in lines(capsys) if r.get("path") == "/predict"]
    metrics = assert_valid_emf(record)
    assert set(metrics) == {"Requests", "Latency"} and record["Outcome"] == "invalid_base64"
    assert ["Service", "ModelVersion"] not in record["_aws"]["CloudWatchMetrics"][0]["Dimensions"]


def test_every_line_is_json_with_the_lambda_request_id(folder_store, api, capsys):
    capsys.readouterr()
    (folder_store / "model-v3.npz").write_bytes(b"junk")  # makes the cache log a warning
    event = json_event("/predict", {"image": IMAGE, "model": 3})
    api.invoke(event)
    records = lines(capsys)
    assert len(records) >= 2 and {r["level"] for r in records} == {"WARNING", "ERROR"}  # a 503 is an ERROR line
    ids = {r["request_id"] for r in records}
    assert len(ids) == 1 and None not in ids  # the warning carries the request it was logged for
    api.invoke(http_event("GET", "/health"))
    (health,) = lines(capsys)
    assert "_aws" not in health and health["path"] == "/health"


def test_a_number_read_emits_its_metrics_under_its_own_service(api, capsys):
    from scripts.make_events import canvas_number

    capsys.readouterr()
    status, _, body = api.invoke(json_event("/read", {"image": base64.b64encode(canvas_number()).decode()}))
    assert status == 200
    (record,) = [r for r in lines(capsys) if r.get("path") == "/read"]
    metrics = assert_valid_emf(record)
    assert {"Requests", "Latency", "Answers", "Confidence", "NotDigit"} <= set(metrics)
    assert record["Service"] == "read" and record["Answers"] == len(body["digits"])
    assert record["NotDigit"] == sum(not d["is_digit"] for d in body["digits"])
