"""The function runs one BLAS thread (template.yaml sets it, so does the local server); the trainer keeps every core."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.test_template import FUNCTION

ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter, as Lambda starts one: the variable only counts before numpy is loaded.
_CHILD = """
import base64, json, os, sys, threading
from functions.predict.app import handler
from infra.apigw import LambdaContext, json_event
from tests.support.images import canvas_png
event = json_event("/predict", {"image": "data:image/png;base64," + base64.b64encode(canvas_png()).decode()})
sys.stdout, real = open(os.devnull, "w"), sys.stdout
answer = [handler(event, LambdaContext()) for _ in range(3)][-1]
sys.stdout = real
# Threads Python did not start (OpenBLAS's workers, OpenCV's pool), plus the main one; the app's
# own worker threads (anyio's, for CPU work off the event loop) are Python threads. A Python
# thread that is ending leaves threading's list a moment before /proc: the fewest over a
# second is the count that stays (OpenBLAS's workers never leave).
import time
native = []
for _ in range(20):
    native.append(len(os.listdir("/proc/self/task")) - threading.active_count() + 1)
    time.sleep(0.05)
print(json.dumps({"status": answer["statusCode"], "threads": min(native)}))
"""


def _run(env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_function_answers_on_one_thread_with_the_templates_environment():
    variables = FUNCTION["Environment"]["Variables"]
    assert variables["OPENBLAS_NUM_THREADS"] == "1"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS", "OMP_"))}
    env.update(OPENBLAS_NUM_THREADS=variables["OPENBLAS_NUM_THREADS"], MODEL_STORE=str(ROOT / "models"))
    env["PYTHONPATH"] = str(ROOT)
    # Every native thread counts: OpenBLAS's workers, OpenCV's pool (the app sets one).
    assert _run(env) == {"status": 200, "threads": 1}


def test_the_local_server_sets_it_and_the_trainer_does_not():
    serve = (ROOT / "scripts" / "serve.sh").read_text()
    assert serve.index('export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"') < serve.index("exec ")
    for path in [*(ROOT / "btf").rglob("*.py"), *(ROOT / "scripts").glob("*.py"), ROOT / "scripts" / "setup.sh"]:
        assert "OPENBLAS_NUM_THREADS" not in path.read_text(), path


def test_under_lambda_a_use_case_runs_inline_and_under_a_server_off_the_event_loop(api, monkeypatch):
    # Lambda serves one event per container at a time: a thread hop there only costs. Under an ASGI
    # server the use case leaves the event loop, so /health answers while a predict works.
    import base64
    import threading

    from functions.predict.service import Service
    from infra.apigw import json_event
    from tests.support.images import canvas_png

    seen = []
    real = Service.predict

    def predict(self, parsed, state):
        seen.append(threading.current_thread())
        return real(self, parsed, state)

    monkeypatch.setattr(Service, "predict", predict)
    image = base64.b64encode(canvas_png()).decode()
    status, _, _ = api.invoke(json_event("/predict", {"image": image}))
    assert status == 200 and seen[-1] is threading.current_thread()
    assert api.client.post("/predict", json={"image": image}).status_code == 200
    assert seen[-1].name.startswith("AnyIO worker thread")  # a worker, not the loop's thread
