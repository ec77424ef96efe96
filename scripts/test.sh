#!/usr/bin/env bash
# The one test command: set up .venv with the test extras (and Debian's Chromium for the
# browser test), lint, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh test
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Chromium for the browser test (Debian package 'chromium')"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
