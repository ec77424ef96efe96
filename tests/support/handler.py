"""Calling the Lambda handler as Lambda does: in process, or through the Docker-free invoke in a fresh process."""

import base64
import json
import subprocess
import sys
from pathlib import Path

from btf.store import open_store, registry
from infra.apigw import LambdaContext

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted((ROOT / "infra" / "events").glob("*.json"))


def invoke(event: dict, handler) -> tuple[int, dict, object]:
    """A Lambda ``handler``'s answer to ``event``: (status, headers, parsed body)."""
    response = handler(event, LambdaContext())
    body = response.get("body", "")
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    ctype = response.get("headers", {}).get("content-type", "")
    return response["statusCode"], response.get("headers", {}), json.loads(body) if "json" in ctype else body


def log_lines(capsys) -> list[dict]:
    """The function's log since the last read: one JSON object per stdout line (how Lambda ships it)."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def run_invoke(*args, python: str = sys.executable):
    """``python -m scripts.invoke ARGS``: (exit code, {event name: response}, the completed process)."""
    argv = [python, "-m", "scripts.invoke", *map(str, args)]
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)  # noqa: S603
    results = {}
    for line in out.stdout.splitlines():
        doc = json.loads(line)
        if "event" in doc:
            results[doc["event"]] = doc["response"]
    return out.returncode, results, out


def check_responses(results: dict) -> None:
    """Every shipped event answered as it should be, against the shipped models and whichever is promoted."""
    shipped = open_store(str(ROOT / "models"))
    latest, versions = registry.latest_version(shipped), sorted(shipped.versions(), reverse=True)
    assert set(results) == {e.name for e in EVENTS}
    for name, response in results.items():
        body = response["body"]
        if name.startswith("predict"):
            doc = json.loads(body)
            first = doc["results"][0] if "results" in doc else doc
            assert response["statusCode"] == 200 and first["label"] == 7, (name, body[:200])
            assert first["is_digit"] is True, (name, body[:200])
            assert doc["model"]["version"] == latest and len(first["predictions"]) == 10
        elif name == "read.json":
            doc = json.loads(body)
            assert response["statusCode"] == 200 and doc["text"] == "42", (name, body[:200])
            assert doc["model"]["version"] == latest and all(
                d["input"].startswith("data:image/png") for d in doc["digits"]
            )
        elif name == "models.json":
            doc = json.loads(body)
            assert doc["latest"] == latest and [m["version"] for m in doc["models"]] == versions
        elif name == "health.json":
            assert json.loads(body)["status"] == "ok"
        elif name == "page.json":
            assert response["statusCode"] == 200 and "<canvas" in body
        elif name == "bad-request.json":
            assert response["statusCode"] == 400 and json.loads(body)["error"]["code"] == "invalid_json"
