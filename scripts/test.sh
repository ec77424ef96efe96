#!/usr/bin/env bash
# The one test command: set up .venv with the test extras, lint, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
