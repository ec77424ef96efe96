#!/usr/bin/env bash
# The main job: set up .venv and serve the API and the drawing page on the shipped models
# (the repo's models/ folder; no AWS account needed). Open http://127.0.0.1:8000/
# Pass uvicorn options through, e.g. ./scripts/serve.sh --port 9000
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh serve
# One BLAS thread, as the Lambda function runs (template.yaml says why); an explicit setting wins.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
exec .venv/bin/uvicorn functions.predict.app:app --host 127.0.0.1 --port 8000 --lifespan off --timeout-keep-alive 75 --no-access-log "$@"
