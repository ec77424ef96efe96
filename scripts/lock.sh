#!/usr/bin/env bash
# Refresh the locks: resolve the newest releases that pyproject.toml (and the SAM/cfn-lint
# pins in tools.sh) admit, in throwaway venvs, and write them to scripts/constraints.txt and
# scripts/constraints-tools.txt; the Lambda artifact's pins (functions/predict/requirements.txt)
# follow the same versions. setup.sh and test.sh install exactly these, so a release made
# tomorrow changes nothing until someone runs this, runs ./scripts/test.sh, and commits.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

freeze() {  # freeze VENV HEADER OUT: every installed distribution but the project and setuptools
  { echo "# $2"; echo "# Written by ./scripts/lock.sh; install with pip's -c. Do not edit by hand."
    "$1/bin/python" -m pip freeze --all --exclude-editable --disable-pip-version-check |
      grep -v -i -E '^(setuptools|btf)(==| @)' | LC_ALL=C sort -f; } >"$3"
}

echo "resolving btf[test] (newest releases pyproject.toml admits)"
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]"
freeze "$tmp/venv" "The versions ./scripts/setup.sh installs (.venv): btf[test] and everything it pulls in." \
  scripts/constraints.txt

tools=$(sed -n 's/^tools="\(.*\)"$/\1/p' scripts/tools.sh)
echo "resolving $tools"
"$python" -m venv "$tmp/tools"
"$tmp/tools/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
# shellcheck disable=SC2086 # the list is space-separated on purpose
"$tmp/tools/bin/python" -m pip install -q --disable-pip-version-check $tools
freeze "$tmp/tools" "The versions ./scripts/test.sh installs into .tools: $tools and what they pull in." \
  scripts/constraints-tools.txt

# The artifact's direct pins take the locked versions (its other packages follow the lock via -c).
"$tmp/venv/bin/python" - <<'PY'
import re
from pathlib import Path

locked = {}
for line in Path("scripts/constraints.txt").read_text().splitlines():
    if "==" in line and not line.startswith("#"):
        name, version = line.split("==")
        locked[re.sub(r"[-_.]+", "-", name).lower()] = version
path = Path("functions/predict/requirements.txt")
out = []
for line in path.read_text().splitlines():
    match = re.match(r"^([A-Za-z0-9_.-]+)==", line)
    if match:
        line = f"{match[1]}=={locked[re.sub(r'[-_.]+', '-', match[1]).lower()]}"
    out.append(line)
path.write_text("\n".join(out) + "\n")
PY
echo "wrote scripts/constraints.txt, scripts/constraints-tools.txt and functions/predict/requirements.txt;"
echo "now run ./scripts/test.sh and commit them together"
