#!/usr/bin/env bash
# Create .venv and install btf with the given extras (default: serve), at exactly the versions
# in scripts/constraints.txt (what the tests last passed with; ./scripts/lock.sh refreshes it).
# Re-runs only when pyproject.toml or the lock changed, so the README's commands are cheap the
# second time.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-serve}"
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
lock=scripts/constraints.txt
stamp=".venv/.btf-$extras-$(cat pyproject.toml "$lock" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setting up .venv with btf[$extras] (first run only; log in .venv/setup.log)"
  # pip and the build backend are chatty even with -q; keep their output unless it fails.
  if ! { .venv/bin/python -m pip install -q --disable-pip-version-check -c "$lock" --upgrade pip &&
         .venv/bin/python -m pip install -q --disable-pip-version-check -c "$lock" -e ".[$extras]"; } >.venv/setup.log 2>&1; then
    cat .venv/setup.log >&2
    exit 1
  fi
  touch "$stamp"
fi
