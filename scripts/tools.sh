#!/usr/bin/env bash
# Set up .tools/: the SAM CLI and cfn-lint, in a venv of their own (the SAM CLI pins its own
# versions of shared packages), at the versions locked in scripts/constraints-tools.txt
# (./scripts/lock.sh refreshes it). test.sh runs this; so does anyone deploying, before
# `.tools/bin/sam build`. Re-runs only when the pins or the lock changed.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="aws-sam-cli==1.170.0 cfn-lint==1.58.0"
stamp=".tools/.stamp-$(echo "$tools" | cat - scripts/constraints-tools.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setting up .tools with $tools (first run only; log in .tools/setup.log)"
  python3 -m venv .tools
  # shellcheck disable=SC2086 # the list is space-separated on purpose
  if ! .tools/bin/python -m pip install -q --disable-pip-version-check -c scripts/constraints-tools.txt $tools \
    >.tools/setup.log 2>&1; then
    cat .tools/setup.log >&2
    exit 1
  fi
  touch "$stamp"
fi
