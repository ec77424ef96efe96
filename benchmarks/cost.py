"""What a million predictions cost: CPU time per request kind through the handler, priced on Lambda.

    python -m benchmarks.cost [--calls 200]

Each request kind (a canvas PNG, a batch of 16 canvas PNGs, a phone-photo JPEG) goes through
``handler(event, ctx)`` warm, with the shipped latest model, in a fresh process per BLAS
setting: one thread, as the function runs (template.yaml), and OpenBLAS's default. Per call
it records wall time and CPU time (every thread's: OpenBLAS's workers count), and prints the
medians.

The prices are Lambda's and API Gateway's, us-east-1, as published in 2024 (unchanged since
arm64 launched in September 2021); the free tier is left out. Duration is billed per
millisecond, and Lambda gives a function CPU in proportion to its memory: one vCPU at
1769 MB. The function runs one thread, so a request's duration is its one-thread CPU time
divided by the share, min(1, MB / 1769), rounded up to the millisecond. That assumes a
Lambda vCPU as fast as a core of the machine that measured (arm64 unmeasured: the same CPU
time is assumed) and no waiting: the model is cached; a cold start or a model load costs more.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRICES_AS_OF = "2024 (us-east-1, unchanged since September 2021)"
GB_SECOND = {"x86_64": 0.0000166667, "arm64": 0.0000133334}  # USD per GB-second of duration
LAMBDA_REQUEST = 0.20 / 1e6  # USD per request, both architectures
HTTP_API_REQUEST = 1.00 / 1e6  # API Gateway HTTP API, USD per request (first 300 million a month)
MEMORY_MB = (512, 1024, 1769, 3008)
FULL_VCPU_MB = 1769


def photo_jpeg() -> bytes:
    """A 12-megapixel phone photo of a digit on paper: uneven light, sensor noise, JPEG quality 90."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    h, w = 3000, 4000
    light = np.linspace(150, 215, w, dtype=np.float32)[None, :] + np.linspace(0, 25, h, dtype=np.float32)[:, None]
    paper = light[..., None] + rng.normal(0, 6, (h, w, 3)).astype(np.float32)
    img = np.clip(paper, 0, 255).astype(np.uint8)
    cv2.putText(img, "4", (1500, 2100), cv2.FONT_HERSHEY_SIMPLEX, 40, (45, 40, 50), 90, cv2.LINE_AA)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def request_kinds() -> dict[str, tuple[dict, int]]:
    """{name: (API Gateway event, predictions it answers)}."""
    from infra.apigw import http_event, json_event
    from scripts.make_events import canvas_seven

    uri = "data:image/png;base64," + base64.b64encode(canvas_seven()).decode()
    return {
        "canvas PNG 280x280": (json_event("/predict", {"image": uri}), 1),
        "batch of 16 canvas PNGs": (json_event("/predict", {"images": [uri] * 16}), 16),
        "photo JPEG 4000x3000": (http_event("POST", "/predict", body=photo_jpeg(), content_type="image/jpeg"), 1),
    }


def child(calls: int) -> None:
    """Run in a fresh process: per kind, the median wall and CPU ms of a warm handler call, as JSON."""
    os.environ.setdefault("MODEL_STORE", str(ROOT / "models"))
    from functions.predict.app import handler
    from infra.apigw import LambdaContext

    context, results = LambdaContext(), {}
    real_stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115 - the access log
    try:
        for name, (event, predictions) in request_kinds().items():
            answer = handler(event, context)
            if answer["statusCode"] != 200:
                raise SystemExit(f"{name}: the handler answered {answer['statusCode']}: {answer['body'][:200]}")
            runs = max(5, calls // predictions) if predictions > 1 else calls
            runs = max(5, runs // 20) if "photo" in name else runs  # a photo takes tens of ms
            for _ in range(min(runs, 10)):
                handler(event, context)
            wall, cpu = [], []
            for _ in range(runs):
                w, c = time.perf_counter(), time.process_time()
                handler(event, context)
                cpu.append(time.process_time() - c)
                wall.append(time.perf_counter() - w)
            results[name] = {
                "predictions": predictions,
                "wall_ms": statistics.median(wall) * 1000,
                "cpu_ms": statistics.median(cpu) * 1000,
            }
    finally:
        sys.stdout = real_stdout
    print(json.dumps(results))


def measure(threads: str | None, calls: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if threads is not None:
        env["OPENBLAS_NUM_THREADS"] = threads
    env["PYTHONPATH"] = str(ROOT)
    argv = [sys.executable, "-m", "benchmarks.cost", "--child", "--calls", str(calls)]
    out = subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def billed_ms(cpu_ms: float, memory_mb: int) -> int:
    """Lambda's billed duration of a one-thread CPU-bound request at ``memory_mb``."""
    share = min(1.0, memory_mb / FULL_VCPU_MB)
    return max(1, math.ceil(cpu_ms / share))


def per_million(cpu_ms: float, predictions: int, memory_mb: int, arch: str) -> float:
    """USD per million predictions: Lambda's request and duration charges, API Gateway's request charge."""
    per_request = (
        LAMBDA_REQUEST + HTTP_API_REQUEST + memory_mb / 1024 * billed_ms(cpu_ms, memory_mb) / 1000 * GB_SECOND[arch]
    )
    return per_request * 1e6 / predictions


def fastest_at_lowest_price(kinds: dict) -> int:
    """The memory size with the lowest cost for a canvas request; within 5% of it, the fastest (duration only:
    SnapStart's charges, which grow with memory too, are per version and per restore, not per request)."""
    cpu = kinds["canvas PNG 280x280"]["cpu_ms"]
    costs = {mb: per_million(cpu, 1, mb, "arm64") for mb in MEMORY_MB}
    cheapest = min(costs.values())
    return min((mb for mb in MEMORY_MB if costs[mb] <= cheapest * 1.05), key=lambda mb: (billed_ms(cpu, mb), mb))


def report(one: dict, default: dict) -> None:
    print("warm handler calls, medians (shared machine: compare CPU time, not wall time):")
    print(f"  {'request':26} {'1 BLAS thread: wall':>20} {'CPU':>8}   {'BLAS default: wall':>19} {'CPU':>8}")
    for name, row in one.items():
        d = default[name]
        print(f"  {name:26} {row['wall_ms']:17.2f} ms {row['cpu_ms']:5.2f} ms   "
              f"{d['wall_ms']:16.2f} ms {d['cpu_ms']:5.2f} ms")  # fmt: skip
    print(f"\nUSD per million predictions, 1 BLAS thread (Lambda + HTTP API; prices as published {PRICES_AS_OF}):")
    header = "".join(f"{f'{mb} MB {arch}':>16}" for mb in MEMORY_MB for arch in ("x86", "arm"))
    print(f"  {'request':26}{header}")
    for name, row in one.items():
        cells = "".join(
            f"{per_million(row['cpu_ms'], row['predictions'], mb, arch):16.2f}"
            for mb in MEMORY_MB
            for arch in GB_SECOND
        )
        print(f"  {name:26}{cells}")
    durations = ", ".join(f"{mb} MB {billed_ms(one['canvas PNG 280x280']['cpu_ms'], mb)} ms" for mb in MEMORY_MB)
    print(f"  (each request: ${HTTP_API_REQUEST * 1e6:.2f} per million to API Gateway and ${LAMBDA_REQUEST * 1e6:.2f} to"
          " Lambda; the rest is duration)")  # fmt: skip
    print(f"\nbilled duration of a canvas request: {durations}")
    print(f"fastest at the lowest price per prediction (within 5%): {fastest_at_lowest_price(one)} MB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="warm calls per request kind (fewer for photos)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.calls)
        return
    report(measure("1", args.calls), measure(None, args.calls))


if __name__ == "__main__":
    main()
