"""Benchmark the predict function: warm handler() calls against the bare pipeline, and cold start.

    python -m benchmarks.bench_predict [--calls 2000] [--cold-runs 5] [--cold-only] [--python PATH]

Warm: a 280x280 canvas PNG (black ink on transparent) as a JSON data-URI API Gateway
event, ``handler(event, ctx)`` against ``graph.predict(image_to_input(png))`` in the
same process, interleaved in blocks so machine noise hits both alike; wall time per call and
CPU time per call (every thread's, so BLAS workers count). Run it with OPENBLAS_NUM_THREADS=1
to measure what the function runs (template.yaml sets it); benchmarks/cost.py compares both.

Cold: a fresh Python process up to its first answer, with the model coming from a local
moto_server S3, against a fresh process that only imports numpy and cv2 (the child programs
are benchmarks/cold_child.py). The import-time breakdown comes from ``python -X importtime``.
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from scripts.make_events import canvas_seven

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("numpy", "cv2", "fastapi", "mangum", "btf", "functions", "boto3")


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = np.array(samples) * 1000
    return float(np.median(ms)), float(np.percentile(ms, 99))


def warm(calls: int) -> None:
    os.environ.setdefault("MODEL_STORE", str(ROOT / "models"))
    from btf.images.vision import image_to_input
    from functions.predict.app import cache, handler
    from infra.apigw import LambdaContext, json_event

    png = canvas_seven()
    event = json_event("/predict", {"image": "data:image/png;base64," + base64.b64encode(png).decode()})
    context = LambdaContext()
    graph = cache.latest().graph
    sink = open(os.devnull, "w")  # noqa: SIM115 - the access log would otherwise flood the terminal
    real_stdout, sys.stdout = sys.stdout, sink
    bare, full, bare_cpu, full_cpu = [], [], [], []
    try:
        for _ in range(50):
            handler(event, context)
            graph.predict(image_to_input(png))
        for _ in range(calls // 100):
            for samples, cpu, call in ((bare, bare_cpu, lambda: graph.predict(image_to_input(png))),
                                       (full, full_cpu, lambda: handler(event, context))):  # fmt: skip
                # CPU time of the block (every thread of the process, so BLAS workers count), per call.
                cpu_start = time.process_time()
                for _ in range(100):
                    start = time.perf_counter()
                    call()
                    samples.append(time.perf_counter() - start)
                cpu.append((time.process_time() - cpu_start) / 100)
    finally:
        sys.stdout = real_stdout
    decode = []
    for _ in range(500):
        start = time.perf_counter()
        cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
        decode.append(time.perf_counter() - start)
    b, f, d = percentiles(bare), percentiles(full), percentiles(decode)
    bc, fc = statistics.median(bare_cpu) * 1000, statistics.median(full_cpu) * 1000
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "OpenBLAS default")
    print(f"warm, {len(full)} calls, 280x280 canvas PNG ({len(png)} bytes), model v{cache.latest().version},"
          f" BLAS threads: {threads}:")  # fmt: skip
    print(f"  PNG decode alone        median {d[0]:.3f} ms  p99 {d[1]:.3f} ms")
    print(f"  bare pipeline           median {b[0]:.3f} ms  p99 {b[1]:.3f} ms  CPU {bc:.3f} ms per call")
    print(f"  handler(event, ctx)     median {f[0]:.3f} ms  p99 {f[1]:.3f} ms  CPU {fc:.3f} ms per call")
    print(f"  handler / bare (median) {f[0] / b[0]:.2f}x  (target <= 1.5x)")


def _child(args: list[str], env: dict, python: str = sys.executable) -> list[float]:
    """Run ``benchmarks.cold_child ARGS`` in a fresh ``python``; it prints ms since spawn (then any phases).

    Timing stops at the answer, not at exit: interpreter teardown is not part of a cold start.
    """
    argv = [python, "-m", "benchmarks.cold_child", args[0], repr(time.time()), *args[1:]]
    out = subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True, text=True)  # noqa: S603
    return [float(x) for x in out.stdout.strip().splitlines()[-1].split()]


def cold(runs: int, python: str = sys.executable) -> None:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per S3 request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": endpoint,
        "MODEL_STORE": "s3://btf-bench/models/",
        "PYTHONPATH": str(ROOT),
    }
    import boto3

    # moto_server accepts any credentials; these never leave the machine.
    os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")})
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket="btf-bench")
    for path in sorted([*(ROOT / "models").glob("model-v*"), ROOT / "models" / "latest.json"]):
        s3.put_object(Bucket="btf-bench", Key=f"models/{path.name}", Body=path.read_bytes())
    png_file = ROOT / ".bench-canvas.b64"
    png_file.write_text(base64.b64encode(canvas_seven()).decode())
    try:
        runs_of = {"base": [], "floor": [], "cold": []}
        for _ in range(runs):
            for kind in runs_of:
                runs_of[kind].append(_child([kind, str(png_file)] if kind == "cold" else [kind], env, python))
        _print_cold(runs, runs_of)
        restores = _child(["snapstart", str(png_file), str(runs)], env, python)
        print(f"  emulated SnapStart restore      {statistics.median(restores):.0f} ms "
              "(fork of an initialised process, after-restore hook, first answer)")  # fmt: skip
        importtime(env, python)
    finally:
        png_file.unlink(missing_ok=True)
        server.stop()


def _print_cold(runs: int, runs_of: dict[str, list[list[float]]]) -> None:
    """The medians: each child prints ms since spawn first; the cold one then its import and first-answer phases."""
    b, floor = (statistics.median(r[0] for r in runs_of[k]) for k in ("base", "floor"))
    f, imports, first = (statistics.median(r[i] for r in runs_of["cold"]) for i in range(3))
    print(f"cold start, median of {runs} fresh processes, latest model from moto_server S3 (spawn to answer):")
    print(f"  import numpy, cv2 only          {b:.0f} ms")
    print(f"  import app + first answer       {f:.0f} ms")
    print(f"  difference                      {f - b:.0f} ms  (target <= 400 ms)")
    print(f"    of which: import the app      {imports:.0f} ms")
    print(f"              first answer        {first:.0f} ms (boto3, S3 client, list, get, load)")
    print(
        f"  the libraries alone             +{floor - b:.0f} ms over numpy, cv2, a lower bound"
        " (import fastapi, mangum, boto3; an S3 client; no app code)"
    )


def importtime(env: dict, python: str = sys.executable) -> None:
    code = "from functions.predict.app import handler; import btf.store.s3"
    out = subprocess.run(  # noqa: S603 - our own interpreter
        [python, "-X", "importtime", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stderr
    first_seen: dict[str, int] = {}
    for line in out.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)", line)
        if match and match.group(2) in PACKAGES:
            first_seen.setdefault(match.group(2), int(match.group(1)))
    print("  import time of each package where it is first imported (python -X importtime, cumulative):")
    for name in PACKAGES:
        if name in first_seen:
            print(f"    {name:<10} {first_seen[name] / 1000:7.1f} ms")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--cold-only", action="store_true", help="skip the warm figures")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the interpreter of the cold-start children (default: this one), e.g. a venv of the template's"
        " runtime with functions/predict/requirements.txt and boto3 installed",
    )
    args = parser.parse_args(argv)
    if not args.cold_only:
        warm(args.calls)
    cold(args.cold_runs, args.python)


if __name__ == "__main__":
    main()
