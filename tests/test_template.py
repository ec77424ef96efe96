"""The SAM template keeps the cloud behaving like the tests: one catch-all route, throttling, alarms, one endpoint variable."""

from pathlib import Path

import yaml

from scripts.invoke import _yaml_loader

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = yaml.load((ROOT / "template.yaml").read_text(), Loader=_yaml_loader())  # noqa: S506 (a SafeLoader subclass)
RESOURCES = TEMPLATE["Resources"]
FUNCTION = RESOURCES["PredictFunction"]["Properties"]


def test_every_path_and_method_reaches_the_app():
    events = FUNCTION["Events"]
    assert len(events) == 1
    (route,) = events.values()
    assert route["Type"] == "HttpApi" and "Path" not in route["Properties"] and "Method" not in route["Properties"]


def test_the_stage_is_throttled_and_concurrency_can_be_capped():
    settings = RESOURCES["PredictApi"]["Properties"]["DefaultRouteSettings"]
    assert settings == {
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
    }
    params = TEMPLATE["Parameters"]
    assert params["ThrottlingRateLimit"]["Default"] >= 1 and params["ThrottlingBurstLimit"]["Default"] >= 1
    assert "ReservedConcurrentExecutions" in FUNCTION


def test_alarms_cover_5xx_errors_throttles_and_p99():
    alarms = {
        r["Properties"]["MetricName"]: r["Properties"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert {"5xx", "Errors", "Throttles", "Duration"} <= set(alarms)
    assert alarms["Duration"]["ExtendedStatistic"] == "p99"
    assert RESOURCES["AlarmTopic"]["Condition"] == "HasAlarmEmail"


def test_snapstart_is_a_parameter():
    assert TEMPLATE["Parameters"]["EnableSnapStart"]["AllowedValues"] == ["true", "false"]
    assert "Fn::If" in FUNCTION["SnapStart"]


def test_one_endpoint_variable_everywhere():
    variables = FUNCTION["Environment"]["Variables"]
    assert "AWS_ENDPOINT_URL_S3" in variables and "S3_ENDPOINT_URL" not in variables
    for path in [ROOT / "template.yaml", *(ROOT / "infra").glob("*.json"), *(ROOT / "functions").rglob("*.py")]:
        assert "S3_ENDPOINT_URL" not in path.read_text().replace("AWS_ENDPOINT_URL_S3", ""), path


def test_the_body_limit_fits_lambdas_payload_once_base64_encoded():
    body = int(FUNCTION["Environment"]["Variables"]["MAX_BODY_BYTES"])
    assert body * 4 / 3 + 64 * 1024 < 6 * 1024 * 1024


def test_a_dashboard_and_json_logs():
    import json
    import re

    body = re.sub(r"\$\{[^}]+\}", "X", RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"])
    titles = " ".join(w["properties"]["title"] for w in json.loads(body)["widgets"])
    for words in ("outcome", "5xx", "p99", "Low-confidence", "Model version"):
        assert words in titles
    assert FUNCTION["LoggingConfig"]["LogFormat"] == "JSON"


def test_the_template_and_the_readme_state_the_defaults_the_code_uses(monkeypatch):
    """One source for each setting's default (functions/predict/config.py); the other two agree with it."""
    import re

    from functions.predict.config import Settings

    numeric = {
        "MAX_BODY_BYTES": "max_body_bytes",
        "MAX_PIXELS": "max_pixels",
        "MAX_BATCH": "max_batch",
        "LATEST_TTL_SECONDS": "latest_ttl",
        "STORE_TIMEOUT_SECONDS": "store_timeout",
        "MAX_CACHED_MODELS": "max_models",
    }
    for name in [*numeric, "MODEL_CACHE_MB", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]:
        monkeypatch.delenv(name, raising=False)
    defaults = Settings.from_env()
    function = TEMPLATE["Resources"]["PredictFunction"]["Properties"]
    variables = function["Environment"]["Variables"]
    readme = (ROOT / "README.md").read_text()
    for name, attr in numeric.items():
        value = variables[name]
        if isinstance(value, dict):  # a !Ref to a parameter: its default
            value = TEMPLATE["Parameters"][value["Ref"]]["Default"]
        assert float(value) == getattr(defaults, attr), name
        row = re.search(rf"^\| `{name}` \| ([^|]+) \|", readme, re.M)
        assert row and float(row[1].strip()) == getattr(defaults, attr), name
    assert variables["MODEL_CACHE_MB"] == "" and defaults.model_cache_mb == function.get("MemorySize", 1024) // 4


def test_the_architecture_is_a_parameter_the_makefile_follows():
    assert TEMPLATE["Parameters"]["Architecture"]["AllowedValues"] == ["x86_64", "arm64"]
    assert TEMPLATE["Parameters"]["Architecture"]["Default"] == "x86_64"
    assert FUNCTION["Architectures"] == [{"Ref": "Architecture"}]
    makefile = (ROOT / "functions" / "predict" / "Makefile").read_text()
    assert "ARCHITECTURE ?= x86_64" in makefile and "manylinux2014_$(MACHINE)" in makefile
