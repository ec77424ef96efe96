"""API fuzzing with schemathesis against the app's own OpenAPI schema: zero 5xx, zero schema violations.

Bounded: a fixed number of generated requests per operation, run against the ASGI app in
process with the shipped models (so successful predictions are exercised too).
"""

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from functions.predict.inputs import ACCEPTED_TYPES, FLAGS
from tests.support.api import Api
from tests.support.images import canvas_png

ROOT = Path(__file__).resolve().parents[2]
# Bytes are bytes: fuzz image/bmp and image/jpg bodies as schemathesis already does octet-stream.
schemathesis.serializer.alias(["image/bmp", "image/jpg"], "application/octet-stream")
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


# One app on the shipped models, built through create_app at collection (cheap: no model is
# loaded until a case needs one), so the schema is generated from the app the cases are sent to.
# (A schema from a fixture, schemathesis.pytest.from_fixture, fails under pytest 9.2.)
SHIPPED = Api.build(str(ROOT / "models"))
schema = schemathesis.openapi.from_asgi("/openapi.json", SHIPPED.app)


@pytest.fixture(autouse=True)
def quiet(capsys):
    yield
    capsys.readouterr()  # drop the access-log lines of a few hundred requests


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    case.call_and_validate(checks=CHECKS)


@pytest.mark.parametrize("path", ["/predict", "/read"])
def test_the_documented_content_types_are_exactly_the_accepted_ones(api, path):
    documented = set(api.app.openapi()["paths"][path]["post"]["requestBody"]["content"])
    assert documented == set(ACCEPTED_TYPES)


@pytest.mark.parametrize("path", ["/predict", "/read"])
def test_the_documented_query_parameters_are_the_parsed_ones(api, path):
    parameters = api.app.openapi()["paths"][path]["post"]["parameters"]
    assert {p["name"] for p in parameters if p["in"] == "query"} == {"model", "explain"}
    explain = next(p for p in parameters if p["name"] == "explain")
    assert set(explain["schema"]["enum"]) == set(FLAGS)


def test_several_multipart_images_are_a_batch(client):
    files = [("image", ("a.png", canvas_png("7"), "image/png")), ("image", ("b.png", canvas_png("1"), "image/png"))]
    body = client.post("/predict", files=files).json()
    assert len(body["results"]) == 2
