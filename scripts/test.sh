#!/usr/bin/env bash
# The one test command: set up .venv (test extras, scripts/setup.sh), .tools (SAM CLI and
# cfn-lint, scripts/tools.sh) and Debian's Chromium for the browser test (apt, as root or with
# sudo); lint the code and the template; then run every test. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export SAM_CLI_TELEMETRY=0
./scripts/setup.sh test

./scripts/tools.sh

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Chromium for the browser test (Debian package 'chromium'; needs root or sudo)"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "error: not root and no sudo: install Chromium by hand (apt-get install chromium)" >&2; exit 1; }
    sudo_cmd="sudo"
  fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.tools/bin/cfn-lint template.yaml
.tools/bin/sam validate --lint >/dev/null
.venv/bin/python -m pytest "$@"
