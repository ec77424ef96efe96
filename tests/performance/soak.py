"""Soak: many warm handler() calls in one process, with RSS sampled along the way.

    python -m tests.performance.soak [--calls 100000]

The same mix of requests as the load test (tests.performance.loadtest), passed straight to the Lambda
handler as API Gateway events. RSS is read after a warm-up and then every tenth of the run;
exits 1 if it grew by 10% or more, or if any answer had an unexpected status.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def events():
    from infra.apigw import http_event, json_event, multipart_event
    from tests.performance.loadtest import request_mix

    out = []
    for kind, kwargs, expected in request_mix():
        if "json" in kwargs:
            event = json_event("/predict", kwargs["json"])
        elif "files" in kwargs:
            _, data, ctype = kwargs["files"]["image"]
            event = multipart_event("/predict", "image", "d.png", data, ctype)
        else:
            event = http_event(
                "POST", "/predict", body=kwargs["content"], content_type=kwargs["headers"]["content-type"]
            )
        out.append((kind, event, expected))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=100_000)
    args = p.parse_args(argv)
    os.environ.setdefault("MODEL_STORE", str(ROOT / "models"))
    from functions.predict.app import handler
    from infra.apigw import LambdaContext
    from tests.performance.loadtest import _rss_mib

    mix = events()
    context = LambdaContext()
    real_stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115 - silence the access log
    unexpected, samples = 0, []
    try:
        for i in range(1000):
            handler(mix[i % len(mix)][1], context)
        start = time.perf_counter()
        samples.append((0, _rss_mib(os.getpid())))
        step = max(1, args.calls // 10)
        for i in range(args.calls):
            kind, event, expected = mix[i % len(mix)]
            if handler(event, context)["statusCode"] != expected:
                unexpected += 1
            if (i + 1) % step == 0:
                samples.append((i + 1, _rss_mib(os.getpid())))
        elapsed = time.perf_counter() - start
    finally:
        sys.stdout = real_stdout
    growth = (samples[-1][1] / samples[0][1] - 1) * 100
    print(json.dumps({"calls": args.calls, "seconds": round(elapsed, 1), "unexpected": unexpected,
                      "rss_mib": [round(r, 1) for _, r in samples], "rss_growth_pct": round(growth, 2)}))  # fmt: skip
    return 0 if unexpected == 0 and growth < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
