"""The load test (10,000 requests at concurrency 32 against uvicorn) and a short soak, as CI checks.

They assert correctness and memory only (zero unexpected answers, RSS growth under 10%);
their figures are shown in the run's closing summary (conftest.py), never asserted on timing.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.perf

ROOT = Path(__file__).resolve().parents[2]


def _run(module, *args, timeout=900):
    out = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    return out.returncode, json.loads(out.stdout.strip().splitlines()[-1]), out


def test_load_10000_requests_at_concurrency_32(report_figures):
    code, figures, out = _run("tests.performance.loadtest", "--requests", "10000", "--concurrency", "32", "--json")
    report_figures("load", figures)
    assert figures["requests"] == 10000 and figures["unexpected"] == 0, out.stdout
    assert figures["rss_growth_pct"] < 10
    assert set(figures["status_counts"]) == {"200", "400", "404", "422"}
    assert code == 0


def test_short_soak_keeps_rss_flat(report_figures):
    code, figures, out = _run("tests.performance.soak", "--calls", "3000")
    report_figures("soak", figures)
    assert figures["unexpected"] == 0 and figures["rss_growth_pct"] < 10 and code == 0, out.stderr[-2000:]
