"""The Docker-free invoke: every event in infra/events/ through handler() in a fresh process, checked."""

import json
from pathlib import Path

from scripts import invoke
from tests.support.handler import EVENTS, check_responses, run_invoke

ROOT = Path(__file__).resolve().parents[2]


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
    assert env["MAX_BATCH"] == "3" and env["MAX_PIXELS"] == "12600000" and env["LATEST_TTL_SECONDS"] == "5"
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


def test_make_events_writes_exactly_the_committed_files():
    """Regenerating the events leaves the checkout clean: nothing random goes into them."""
    from scripts import make_events

    files = make_events.render()
    assert files and all(path.read_bytes() == content for path, content in files.items())
    assert files == make_events.render()
