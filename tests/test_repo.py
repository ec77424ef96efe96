"""Repository hygiene: no credentials, keys or AWS account ids in any tracked file."""

import re
import subprocess
from pathlib import Path


def test_no_secrets_or_account_ids_in_the_repo():
    root = Path(__file__).resolve().parents[1]
    files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()  # noqa: S607
    patterns = {
        "access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
        "secret key": re.compile(r"(?i)aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+]{40}"),
        "account id in an ARN": re.compile(r"arn:aws[\w-]*:[\w-]+:[\w-]*:(?!000000000000)\d{12}:"),
        "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    }
    for name in files:
        path = root / name
        if path.suffix in (".png", ".npz", ".jpg", ".gz") or not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        for what, pattern in patterns.items():
            assert not pattern.search(text), f"{what} in {name}"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pins


def test_the_lock_covers_every_dependency_and_the_artifact_pins_match_it():
    """setup.sh installs scripts/constraints.txt; the Lambda artifact ships the same versions."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    locked = _pins(root / "scripts" / "constraints.txt")
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    names = {re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", d)[0]).lower() for d in wanted} - {"btf"}
    assert names and not names - locked.keys(), f"not in scripts/constraints.txt: {names - locked.keys()}"
    artifact = _pins(root / "functions" / "predict" / "requirements.txt")
    assert artifact and {k: locked.get(k) for k in artifact} == artifact
    for script, lock in [("setup.sh", "$lock"), ("tools.sh", "scripts/constraints-tools.txt")]:
        assert (
            f'-c "{lock}"' in (root / "scripts" / script).read_text()
            or f"-c {lock}" in (root / "scripts" / script).read_text()
        )
    assert '-c "$(ROOT)/scripts/constraints.txt"' in (root / "functions" / "predict" / "Makefile").read_text()


def test_onnx_is_an_optional_extra_that_never_reaches_the_lambda_artifact():
    import tomllib

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert {re.match(r"[a-z]+", d)[0] for d in extras["onnx"]} == {"onnx", "onnxruntime"}
    assert "onnx" not in " ".join(project["dependencies"]) and any("onnx" in d for d in extras["test"])
    shipped = _pins(root / "functions" / "predict" / "requirements.txt")
    assert not {"onnx", "onnxruntime", "protobuf"} & shipped.keys()
    for path in (root / "functions").rglob("*.py"):
        assert "onnx" not in path.read_text(), f"{path} must not use onnx: the function serves NPZ"
