"""What the user commands share: one-line argument errors, one-line failures, and the store options.

Every command (``scripts.train``, ``scripts.models``) reports a bad argument as one line and
exit 2, and any btf error as one line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import NoReturn

import btf
from btf.store import BaseStore, open_store, registry

ROOT = Path(__file__).resolve().parents[1]
# The commands' default store: a gitignored folder of the checkout, seeded from the shipped
# models/ on first use, so training and promoting locally never touch tracked files.
DEFAULT_STORE = str(ROOT / ".models")
SHIPPED_MODELS = str(ROOT / "models")


def promoted_shipped_model() -> Path:
    """The checkpoint ``latest`` names in the shipped models/: what the evaluations and benchmarks read by default."""
    return Path(SHIPPED_MODELS) / f"model-v{registry.latest_version(open_store(SHIPPED_MODELS))}.npz"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an argument error is one line (no usage block) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_store_options(parser: argparse.ArgumentParser, *, top: bool = True) -> None:
    """``--store`` and ``--endpoint-url``; on subcommands too (``top=False``), as the AWS CLI takes them anywhere."""
    default = (os.environ.get("MODEL_STORE") or DEFAULT_STORE) if top else argparse.SUPPRESS
    parser.add_argument(
        "--store",
        default=default,
        help="a folder or s3://bucket/prefix/ (default: $MODEL_STORE, else .models/, seeded from models/)",
    )
    parser.add_argument(
        "--endpoint-url",
        default=None if top else argparse.SUPPRESS,
        help="S3 endpoint (default: botocore's $AWS_ENDPOINT_URL_S3 / $AWS_ENDPOINT_URL)",
    )


def guarded(action, args: argparse.Namespace, *, failed: str = "", code: int = 1) -> int:
    """Run a command's ``action(args)``: every btf error is one line on stderr and exit ``code``, never a traceback."""
    try:
        return action(args)
    except btf.BtfError as exc:
        print(f"error: {exc}{'; ' + failed if failed else ''}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print(f"\ninterrupted{': ' + failed if failed else ''}", file=sys.stderr)
        return 130


def open_cli_store(uri: str, endpoint_url: str | None, timeout: float) -> BaseStore:
    """The store a command names; the default one is seeded from the shipped models first."""
    default = not uri.startswith("s3://") and Path(uri).resolve() == Path(DEFAULT_STORE).resolve()
    return open_store(uri, endpoint_url=endpoint_url, timeout=timeout, seed_from=SHIPPED_MODELS if default else None)


def report_root(store_uri: str) -> Path:
    """Where a store's training reports go: ``<folder>/reports``, or ./reports for an S3 store."""
    return ROOT / "reports" if store_uri.startswith("s3://") else Path(store_uri) / "reports"


def report_for(store_uri: str, version: int, created: object) -> Path | None:
    """The report of the model ``created`` at that time as ``version``, or None.

    Reports are folders named by version; a version number reused after a delete must not
    show the old model's report, so the report's own creation time has to match the model's.
    """
    roots = [report_root(store_uri)]
    if Path(store_uri).resolve() == Path(DEFAULT_STORE).resolve():
        roots.append(Path(SHIPPED_MODELS) / "reports")  # the default store was seeded from these
    for root in roots:
        for folder in sorted(root.glob(f"model-v{version}*"), reverse=True):
            if folder.name != f"model-v{version}" and not folder.name.startswith(f"model-v{version}-"):
                continue
            try:
                if json.loads((folder / "metrics.json").read_text()).get("created") == created:
                    return folder
            except (OSError, ValueError, AttributeError):
                continue
    return None


MAX_NUMBERS = 10_000  # numbers per category of scripts.eval_numbers, composed as PNGs before any is read


def number_set_arguments(p: argparse.ArgumentParser, n: int) -> None:
    """The options that choose the model and the numbers it reads (scripts.eval_numbers, benchmarks.number_failures)."""
    p.add_argument("--model", help="a checkpoint (default: the promoted shipped model)")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("-n", type=int, default=n, help=f"numbers per category (1 to {MAX_NUMBERS:,}; default {n})")
    p.add_argument("--seed", type=int, default=0)


def checked_number_set(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse, in one line, a count of numbers that would not fit (each is composed as a PNG before any is read)."""
    if not 1 <= args.n <= MAX_NUMBERS:
        p.error(f"-n must be 1 to {MAX_NUMBERS:,}, not {args.n}")
