"""The Docker-free invoke: every event in infra/events/ through handler() in a fresh process, checked."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import invoke

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted((ROOT / "infra" / "events").glob("*.json"))


def run_invoke(*args, python=sys.executable):
    out = subprocess.run(
        [python, "-m", "scripts.invoke", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    results = {}
    for line in out.stdout.splitlines():
        doc = json.loads(line)
        if "event" in doc:
            results[doc["event"]] = doc["response"]
    return out.returncode, results, out


def check_responses(results):
    assert set(results) == {e.name for e in EVENTS}
    for name, response in results.items():
        body = response["body"]
        if name.startswith("predict"):
            doc = json.loads(body)
            first = doc["results"][0] if "results" in doc else doc
            assert response["statusCode"] == 200 and first["label"] == 7, (name, body[:200])
            assert doc["model"]["version"] == 4 and len(first["predictions"]) == 10
        elif name == "models.json":
            doc = json.loads(body)
            assert doc["latest"] == 4 and [m["version"] for m in doc["models"]] == [4, 3, 2, 1]
        elif name == "health.json":
            assert json.loads(body)["status"] == "ok"
        elif name == "page.json":
            assert response["statusCode"] == 200 and "<canvas" in body
        elif name == "bad-request.json":
            assert response["statusCode"] == 400 and json.loads(body)["error"]["code"] == "invalid_json"
        else:
            pytest.fail(f"unchecked event {name}")


def test_every_event_through_the_handler():
    code, results, out = run_invoke(*EVENTS)
    assert code == 0, out.stderr
    check_responses(results)


def test_events_are_valid_http_api_v2():
    for path in EVENTS:
        event = json.loads(path.read_text())
        assert event["version"] == "2.0" and event["routeKey"] == "$default"
        assert event["requestContext"]["http"]["method"] in ("GET", "POST")
        assert event["rawPath"] == event["requestContext"]["http"]["path"]
        if "body" in event:
            assert isinstance(event["isBase64Encoded"], bool)


def test_environment_comes_from_the_template_and_env_file():
    args = invoke.argparse.Namespace(
        template=ROOT / "template.yaml",
        function="PredictFunction",
        env_file=str(ROOT / "infra" / "env.local.json"),
        env=["MAX_BATCH=3"],
    )
    env, props = invoke.function_environment(args)
    assert env["MODEL_STORE"] == str(ROOT / "models")  # env file, anchored at the repo
    assert env["MAX_BATCH"] == "3" and env["MAX_PIXELS"] == "25000000" and env["LATEST_TTL_SECONDS"] == "5"
    assert props["Handler"] == "functions.predict.app.handler"
    args.env_file, args.env = None, []
    env, _ = invoke.function_environment(args)
    assert env["MODEL_STORE"] == "s3://<ModelBucket>/models/" and env["LATEST_TTL_SECONDS"] == "60"


def test_a_malformed_event_is_answered_not_raised(tmp_path):
    event = tmp_path / "broken.json"
    event.write_text(json.dumps({"not": "an api gateway event"}))
    code, results, _ = run_invoke(event)
    response = results["broken.json"]
    assert code == 0 and response["statusCode"] == 400 and "invalid_event" in response["body"]


def test_missing_event_file_is_a_clear_error():
    code, _, out = run_invoke("infra/events/nope.json")
    assert code != 0 and "no event file" in out.stderr
