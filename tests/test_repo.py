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
