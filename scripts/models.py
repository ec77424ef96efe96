"""Manage the versions in a model store: list, show, promote, roll back, delete.

    python -m scripts.models [--store s3://bucket/models/] list
    python -m scripts.models show 4
    python -m scripts.models promote 4 [--why "..."]
    python -m scripts.models rollback [--why "..."]
    python -m scripts.models delete 3

The store defaults to $MODEL_STORE, else .models/ (the trainer's default). Promotions go through
the same conditional write of the alias as the trainer's gate, so two people promoting at once
never lose an update, and each is recorded (who, when, from, to, why). Every error is one line
on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import btf
from btf.store import (
    DEFAULT_STORE,
    MAX_VERSION,
    SHIPPED_MODELS,
    StoreError,
    display_path,
    open_store,
    registry,
    sidecar_for,
)
from scripts.train import OneLineParser, guarded

ROOT = Path(__file__).resolve().parents[1]


def _version(text: str) -> int:
    if (
        not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_VERSION)))
        or not 1 <= int(text) <= MAX_VERSION
    ):
        raise argparse.ArgumentTypeError(f"{text!r} is not a version number (1 to {MAX_VERSION})")
    return int(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = OneLineParser(prog="python -m scripts.models", description=__doc__.split("\n\n")[0])
    p.add_argument("--store", default=os.environ.get("MODEL_STORE") or DEFAULT_STORE)
    p.add_argument("--endpoint-url", help="S3 endpoint (default: botocore's $AWS_ENDPOINT_URL_S3 / $AWS_ENDPOINT_URL)")
    commands = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    commands.add_parser("list", help="every version, newest first, and which one is latest")
    show = commands.add_parser("show", help="a version's metadata and where its report is")
    show.add_argument("version", type=_version)
    promote = commands.add_parser("promote", help="make a version latest")
    promote.add_argument("version", type=_version)
    promote.add_argument("--why", default="promoted by hand", help="recorded in the promotion history")
    rollback = commands.add_parser("rollback", help="back to the version promoted before the current one")
    rollback.add_argument("--why", default="rolled back by hand", help="recorded in the promotion history")
    delete = commands.add_parser("delete", help="delete a version (never the promoted one)")
    delete.add_argument("version", type=_version)
    return p.parse_args(argv)


def _architecture(row: dict) -> str:
    if row.get("layers"):  # as one would type it for --layers: no flatten, no activations
        layers = row["layers"] if isinstance(row["layers"], list) else [str(row["layers"])]
        return ",".join(spec.split(":relu")[0].split(":linear")[0] for spec in layers if spec != "flatten")
    sizes = "-".join(str(s) for s in row.get("sizes") or [])
    return f"{sizes} {row.get('activation') or ''}".strip()


def list_versions(store) -> None:
    objects = store.list_objects()
    latest = registry.latest_version(store)
    versions = sorted(store.versions(), reverse=True)
    if not versions:
        print(f"{store.uri}: no versions published yet")
        return
    print(f"{'':2}{'version':>7}  {'architecture':57} {'test acc':>8} {'size':>9}  created")
    for version in versions:
        try:
            row = registry.summary(store, version, sidecar_for(version) in objects)
        except (btf.CheckpointError, StoreError) as exc:
            print(f"{'':2}{version:>7}  unreadable: {str(exc).split(': ', 1)[-1]}")
            continue
        accuracy = f"{row['test_accuracy']:.2%}" if isinstance(row.get("test_accuracy"), float) else "-"
        mark = "* " if version == latest else "  "
        size = f"{row.get('bytes', 0) / 1e6:.2f} MB"
        print(f"{mark}{version:>7}  {_architecture(row):57} {accuracy:>8} {size:>9}  {row.get('created') or '-'}")
    print("* latest" + ("" if registry.read_alias(store).etag else " (no alias yet: the highest version)"))


def show(store, store_uri: str, version: int) -> None:
    from btf import checkpoint

    blob = store.read(version)
    summary = checkpoint.summary(blob.data)
    report = (Path(store_uri) if not store_uri.startswith("s3://") else ROOT) / "reports" / f"model-v{version}"
    shipped = Path(SHIPPED_MODELS) / "reports" / f"model-v{version}"
    if not report.exists() and Path(store_uri).resolve() == Path(DEFAULT_STORE).resolve() and shipped.exists():
        report = shipped  # the default store was seeded from the shipped models, whose reports stay in git
    print(json.dumps({"version": version, "latest": version == registry.latest_version(store), **summary}, indent=2))
    print(f"report: {display_path(report)}" + ("" if report.exists() else " (not on this machine)"))


def run(args: argparse.Namespace) -> int:
    store = open_store(args.store, endpoint_url=args.endpoint_url, timeout=60.0)
    if args.command == "list":
        list_versions(store)
    elif args.command == "show":
        show(store, args.store, args.version)
    elif args.command == "promote":
        before, _ = registry.promote(store, args.version, why=args.why)
        print(f"promoted v{args.version}: latest was v{before}, is now v{args.version}")
    elif args.command == "rollback":
        alias = registry.read_alias(store)
        target = alias.previous()
        if target is None:
            raise StoreError("nothing to roll back to: the promotion history names no earlier version")
        registry.promote(store, target, why=args.why)
        print(f"rolled back: latest was v{alias.latest}, is now v{target}")
    elif args.command == "delete":
        registry.delete(store, args.version)
        print(f"deleted v{args.version} from {store.uri}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return guarded(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
