#!/usr/bin/env bash
# The one test command: set up .venv (test extras), .tools (SAM CLI, cfn-lint) and Debian's
# Chromium for the browser test; lint the code and the template; then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
export SAM_CLI_TELEMETRY=0
./scripts/setup.sh test

# The SAM CLI pins its own versions of shared packages, so it lives in a venv of its own.
tools="aws-sam-cli==1.170.0 cfn-lint==1.58.0"
# Its versions are locked too (scripts/constraints-tools.txt, refreshed by ./scripts/lock.sh).
stamp=".tools/.stamp-$(echo "$tools" | cat - scripts/constraints-tools.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setting up .tools with $tools (first run only; log in .tools/setup.log)"
  python3 -m venv .tools
  if ! .tools/bin/python -m pip install -q --disable-pip-version-check -c scripts/constraints-tools.txt $tools \
    >.tools/setup.log 2>&1; then
    cat .tools/setup.log >&2
    exit 1
  fi
  touch "$stamp"
fi

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Chromium for the browser test (Debian package 'chromium')"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.tools/bin/cfn-lint template.yaml
.tools/bin/sam validate --lint >/dev/null
.venv/bin/python -m pytest "$@"
