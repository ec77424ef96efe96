"""Preprocessing cost over the decode, and the CPU time of the dearest requests the function accepts.

    .venv/bin/python -m benchmarks.bench_preprocess [--requests-only]

Per image: the median time of OpenCV's decode alone (the reference, measured in the same
process), the median time of everything btf does on top of it (strip reduction, background,
stroke normalisation, centring), their ratio, and the peak memory over the decoded image
(tracemalloc, in a separate run). The budget is 50 ms and 64 MB over the decode for any image
within MAX_PIXELS.

Per request: the CPU time (``time.process_time``, all threads) of one ``handler(event)`` call,
the least of five, for the largest image of each family that one request may send
(benchmarks/costly_images.py), a batch sharing the budget, and the refused cases of issue 17.
The aim: no accepted request costs more than 300 ms of CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

from btf.images import imagefile, vision
from btf.images.vision import ImageError

REPEATS = 5
ROOT = Path(__file__).resolve().parents[1]


def _png(img: np.ndarray) -> bytes:
    return cv2.imencode(".png", img)[1].tobytes()


def cases() -> dict[str, bytes]:
    """The families that once took seconds and gigabytes, at the largest size MAX_PIXELS now admits."""
    square = np.full((3500, 3500), 255, np.uint8)
    square[10:-10, 10:-10] = 0
    rgba = np.zeros((3000, 3000, 4), np.uint8)
    cv2.putText(rgba, "7", (700, 2350), cv2.FONT_HERSHEY_SIMPLEX, 60, (0, 0, 0, 255), 180)
    photo = np.full((3000, 4000, 3), 200, np.uint8)
    cv2.putText(photo, "3", (1300, 2200), cv2.FONT_HERSHEY_SIMPLEX, 45, (40, 40, 40), 90)
    noise = np.random.default_rng(0).integers(0, 256, (3500, 3500), dtype=np.uint8)
    return {
        "solid square 3500x3500 (621 B family)": _png(square),
        "sliver 1x20000": _png(
            np.zeros((20_000, 1), np.uint8) + 255 * (np.arange(20_000) % 2)[:, None].astype(np.uint8)
        ),
        "canvas RGBA 3000x3000": _png(rgba),
        "photo JPEG 4000x3000": cv2.imencode(".jpg", photo)[1].tobytes(),
        "noise 3500x3500": _png(noise),
        "MNIST-size 28x28": _png(np.pad(np.full((20, 20), 255, np.uint8), 4)),
    }


def _btf(header, image, data: bytes) -> None:
    with contextlib.suppress(ImageError):
        vision.to_input(imagefile.working_gray(header, image, data))


def _timed(data: bytes) -> tuple[float, float]:
    """(decode ms, btf-over-the-decode ms) for one image."""
    start = time.perf_counter()
    header, image = imagefile.decode(data)
    decoded = time.perf_counter()
    _btf(header, image, data)
    return (decoded - start) * 1000, (time.perf_counter() - decoded) * 1000


def _peak(data: bytes) -> int:
    """Peak bytes btf allocates over the decoded image (tracemalloc, measured apart from the timings)."""
    header, image = imagefile.decode(data)
    tracemalloc.start()
    _btf(header, image, data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def _request_cpu(handler, event: dict) -> tuple[int, float]:
    """(status, CPU ms) of one handler call: the least of five (the least disturbed by other work), the log to /dev/null."""
    from infra.apigw import LambdaContext

    real, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115 - closed below
    try:
        runs = []
        for _ in range(5):
            start = time.process_time()
            status = handler(event, LambdaContext())["statusCode"]
            runs.append((time.process_time() - start) * 1000)
    finally:
        sys.stdout.close()
        sys.stdout = real
    return status, min(runs)


def per_request() -> None:
    os.environ.setdefault("MODEL_STORE", str(ROOT / "models"))
    from benchmarks import costly_images as costly
    from functions.predict.app import handler, settings
    from infra.apigw import http_event, json_event
    from tests.support.images import data_uri

    def raw(data: bytes) -> dict:
        return http_event("POST", "/predict", body=data, content_type="application/octet-stream")

    limit = settings.max_pixels
    events = {name: raw(costly.largest(make, limit)) for name, make in costly.FAMILIES.items()}
    batch = costly.batch_at_budget(limit)
    events[f"{len(batch)} canvas PNGs, JSON batch"] = json_event("/predict", {"images": list(map(data_uri, batch))})
    refused = {f"refused: {name}": raw(data) for name, data in costly.refused(limit).items()}
    _request_cpu(handler, events["PNG 8-bit gray"])  # warm the model cache and OpenCV
    print(f"per request, MAX_PIXELS={limit:,} (CPU ms of all threads, best of 5):")
    print(f"{'request':44} {'body KB':>8} {'status':>6} {'CPU ms':>7}")
    worst = 0.0
    for name, event in {**events, **refused}.items():
        status, ms = _request_cpu(handler, event)
        worst = max(worst, ms) if status != 413 else worst  # a 422 (no digit) was decoded in full too
        print(f"{name:44} {len(event['body']) * 3 / 4 / 1024:8.0f} {status:6d} {ms:7.1f}")
    print(f"worst accepted request: {worst:.0f} ms of CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests-only", action="store_true", help="only the per-request table")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # as the function runs
    if not args.requests_only:
        per_image()
        print()
    per_request()


def per_image() -> None:
    _timed(next(iter(cases().values())))  # warm OpenCV's lazy initialisation
    print(f"{'image':40} {'decode ms':>10} {'btf over it ms':>15} {'ratio':>7} {'peak over decode MB':>20}")
    for name, data in cases().items():
        runs = [_timed(data) for _ in range(REPEATS)]
        decode = statistics.median(r[0] for r in runs)
        over = statistics.median(r[1] for r in runs)
        peak = _peak(data)
        print(f"{name:40} {decode:10.1f} {over:15.1f} {over / max(decode, 1e-3):7.2f} {peak / 2**20:20.1f}")


if __name__ == "__main__":
    main()
