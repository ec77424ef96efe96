#!/usr/bin/env bash
# Create .venv and install btf with the given extras (default: serve). Re-runs only when
# pyproject.toml changed, so the README's commands are cheap the second time.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-serve}"
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.btf-$extras-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[$extras]"
  touch "$stamp"
fi
