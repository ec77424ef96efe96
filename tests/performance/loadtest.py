"""Load test: the app served by uvicorn on 127.0.0.1, hit with a realistic mix of requests.

    python -m tests.performance.loadtest [--requests 10000] [--concurrency 32]

The mix: canvas PNGs as JSON data URIs (50%), raw JPEG bodies (20%), batches of 4 (10%),
multipart uploads (10%) and bad requests that must be refused with a 4xx (10%). Reports
throughput, p50/p99 latency, unexpected answers (any 5xx, or a status other than the one
each request should get) and the server's RSS before and after. Exits 1 if any answer was
unexpected or RSS grew by 10% or more. Only ever talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _digit(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros((280, 280, 4), np.uint8)
    pts = (rng.integers(40, 240, (4, 2))).astype(np.int32)
    cv2.polylines(img, [pts], False, (0, 0, 0, 255), int(rng.integers(10, 24)), cv2.LINE_AA)
    return img


def request_mix(n_variants: int = 16) -> list[tuple[str, dict, int]]:
    """(kind, httpx request kwargs, expected status) for each kind of request, in mix proportions."""
    pngs = [cv2.imencode(".png", _digit(i))[1].tobytes() for i in range(n_variants)]
    jpgs = [cv2.imencode(".jpg", 255 - _digit(i)[:, :, 3])[1].tobytes() for i in range(n_variants)]
    uri = ["data:image/png;base64," + base64.b64encode(p).decode() for p in pngs]
    blank = (
        "data:image/png;base64," + base64.b64encode(cv2.imencode(".png", np.zeros((280, 280, 4), np.uint8))[1]).decode()
    )
    mix = []
    for i in range(n_variants):
        mix += [("png-json", {"json": {"image": uri[i]}}, 200)] * 5
        mix += [("jpeg-raw", {"content": jpgs[i], "headers": {"content-type": "image/jpeg"}}, 200)] * 2
        mix += [("batch", {"json": {"images": uri[i : i + 4] or uri[:4]}}, 200)]
        mix += [("multipart", {"files": {"image": ("d.png", pngs[i], "image/png")}}, 200)]
        bad = [
            ("bad-base64", {"json": {"image": "%%%"}}, 400),
            ("blank", {"json": {"image": blank}}, 422),
            ("unknown-model", {"json": {"image": uri[i], "model": 999}}, 404),
            ("bad-json", {"content": b"{", "headers": {"content-type": "application/json"}}, 400),
        ]
        mix.append(bad[i % len(bad)])
    return mix


async def _run(base: str, mix, total: int, concurrency: int):
    latencies, unexpected, counts = [], [], {}
    queue = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(mix[i % len(mix)])

    async def worker(client: httpx.AsyncClient):
        while not queue.empty():
            kind, kwargs, expected = queue.get_nowait()
            start = time.perf_counter()
            try:
                response = await client.post(base + "/predict", **kwargs)
                status = response.status_code
            except httpx.HTTPError as exc:
                status = f"{type(exc).__name__}"
            latencies.append(time.perf_counter() - start)
            counts[status] = counts.get(status, 0) + 1
            if status != expected:
                unexpected.append((kind, expected, status))

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2.0)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return latencies, unexpected, counts, elapsed


def serve(port: int) -> subprocess.Popen:
    env = {**os.environ, "MODEL_STORE": os.environ.get("MODEL_STORE", str(ROOT / "models"))}
    # The server keeps idle connections longer than the client does (75 s against 2 s), so
    # the client never reuses a connection at the instant the server closes it.
    cmd = [sys.executable, "-m", "uvicorn", "functions.predict.app:app", "--host", "127.0.0.1", "--port", str(port),
           "--lifespan", "off", "--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "75"]  # fmt: skip
    # The app's own JSON access log goes to /dev/null: 10k lines would only slow the run.
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)  # noqa: S603 - our own argv


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = p.parse_args(argv)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = serve(port)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(base + "/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        mix = request_mix()
        asyncio.run(_run(base, mix, min(300, args.requests), 8))  # warm-up: models cached, allocator settled
        rss_before = _rss_mib(server.pid)
        latencies, unexpected, counts, elapsed = asyncio.run(_run(base, mix, args.requests, args.concurrency))
        rss_after = _rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(10)
    ms = np.array(latencies) * 1000
    figures = {
        "requests": len(latencies),
        "concurrency": args.concurrency,
        "seconds": round(elapsed, 2),
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "status_counts": {str(k): v for k, v in sorted(counts.items(), key=str)},
        "unexpected": len(unexpected),
        "rss_before_mib": round(rss_before, 1),
        "rss_after_mib": round(rss_after, 1),
        "rss_growth_pct": round((rss_after / rss_before - 1) * 100, 2),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>16}: {value}")
        for kind, expected, status in unexpected[:10]:
            print(f"  unexpected: {kind} expected {expected}, got {status}")
    return 0 if not unexpected and figures["rss_growth_pct"] < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
