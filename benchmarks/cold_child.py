"""The child programs of benchmarks.bench_predict, each run in a fresh interpreter.

    python -m benchmarks.cold_child base SPAWN_TIME
    python -m benchmarks.cold_child floor SPAWN_TIME
    python -m benchmarks.cold_child cold SPAWN_TIME PNG_BASE64_FILE
    python -m benchmarks.cold_child snapstart SPAWN_TIME PNG_BASE64_FILE RUNS

Each prints its figures (milliseconds) on one line. Imports happen inside the functions,
after the clock starts, because their cost is what is being measured.
"""

from __future__ import annotations

import os
import sys
import time


def base(spawned: float) -> None:
    """A fresh process that only imports numpy and cv2: the floor a cold start is compared with."""
    import cv2  # noqa: F401
    import numpy  # noqa: F401

    print(f"{(time.time() - spawned) * 1000:.1f}")


def floor(spawned: float) -> None:
    """numpy and cv2, then what the stack costs before any of the app's code: FastAPI, Mangum, boto3 and an S3
    client (which the first answer needs to read the model). No app can start faster with these libraries."""
    import boto3
    import cv2  # noqa: F401
    import fastapi  # noqa: F401
    import mangum  # noqa: F401
    import numpy  # noqa: F401

    boto3.client("s3")
    print(f"{(time.time() - spawned) * 1000:.1f}")


def cold(spawned: float, png_file: str) -> None:
    """Spawn to first answer: import the app, then answer one predict event (model from the store)."""
    start = time.perf_counter()
    from functions.predict.app import handler

    imported = time.perf_counter()
    from infra.apigw import LambdaContext, json_event

    with open(png_file) as f:
        event = json_event("/predict", {"image": "data:image/png;base64," + f.read()})
    before_call = time.perf_counter()
    response = handler(event, LambdaContext())
    done = time.perf_counter()
    answered = time.time()
    if response["statusCode"] != 200:
        raise SystemExit(f"cold start answered {response}")
    print(f"{(answered - spawned) * 1000:.1f} {(imported - start) * 1000:.1f} {(done - before_call) * 1000:.1f}")


def snapstart(png_file: str, runs: int) -> None:
    """SnapStart, emulated: initialise once (imports, before-snapshot hook), then fork; each fork is
    a restored copy of that memory, timed from fork through the after-restore hook to its first answer."""
    from functions.predict import snapstart as hooks
    from functions.predict.app import cache, handler
    from infra.apigw import LambdaContext, json_event

    hooks.before_snapshot(cache)
    with open(png_file) as f:
        event = json_event("/predict", {"image": "data:image/png;base64," + f.read()})
    times = []
    for _ in range(runs):
        read, write = os.pipe()
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            hooks.after_restore(cache)
            response = handler(event, LambdaContext())
            os.write(write, f"{(time.perf_counter() - start) * 1000:.1f} {response['statusCode']}".encode())
            os._exit(0)
        os.waitpid(pid, 0)
        ms, status = os.read(read, 100).decode().split()
        if status != "200":
            raise SystemExit(f"a restored copy answered {status}")
        times.append(float(ms))
    print(" ".join(map(str, times)))


if __name__ == "__main__":
    kind, spawned = sys.argv[1], float(sys.argv[2])
    if kind == "base":
        base(spawned)
    elif kind == "floor":
        floor(spawned)
    elif kind == "cold":
        cold(spawned, sys.argv[3])
    else:
        snapstart(sys.argv[3], int(sys.argv[4]))
