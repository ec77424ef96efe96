"""Manage the versions in a model store: list, show, promote, roll back, delete.

    python -m scripts.models [--store s3://bucket/models/] list
    python -m scripts.models show 4
    python -m scripts.models promote 4 [--why "..."]
    python -m scripts.models rollback [--why "..."]
    python -m scripts.models delete 3
    python -m scripts.models export 5 --onnx model.onnx [--force]

The store defaults to $MODEL_STORE, else .models/ (the trainer's default). Promotions go through
the same conditional write of the alias as the trainer's gate, so two people promoting at once
never lose an update, and each is recorded (who, when, from, to, why). ``export`` writes a
version as ONNX (btf.onnx; needs ``pip install 'btf[onnx]'``) and never replaces an existing
file without --force. Every error is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import btf
from btf import digits
from btf.store import (
    MAX_VERSION,
    StoreError,
    display_path,
    registry,
    sidecar_for,
)
from scripts.cli import OneLineParser, add_store_options, guarded, open_cli_store, report_for, report_root


def _version(text: str) -> int:
    if (
        not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_VERSION)))
        or not 1 <= int(text) <= MAX_VERSION
    ):
        raise argparse.ArgumentTypeError(f"{text!r} is not a version number (1 to {MAX_VERSION})")
    return int(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = OneLineParser(prog="python -m scripts.models", description=__doc__.split("\n\n")[0])
    add_store_options(p)
    commands = p.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    list_ = commands.add_parser("list", help="every version, newest first, and which one is latest")
    show = commands.add_parser("show", help="a version's metadata and where its report is")
    show.add_argument("version", type=_version)
    promote = commands.add_parser("promote", help="make a version latest")
    promote.add_argument("version", type=_version)
    promote.add_argument("--why", default="promoted by hand", help="recorded in the promotion history")
    rollback = commands.add_parser("rollback", help="back to the version promoted before the current one")
    rollback.add_argument("--why", default="rolled back by hand", help="recorded in the promotion history")
    delete = commands.add_parser("delete", help="delete a version (never the promoted one) and its report")
    delete.add_argument("version", type=_version)
    export = commands.add_parser("export", help="write a version as an ONNX file (needs btf[onnx])")
    export.add_argument("version", type=_version)
    export.add_argument("--onnx", required=True, metavar="PATH", help="the .onnx file to write")
    export.add_argument("--force", action="store_true", help="replace PATH if it exists")
    for command in (list_, show, promote, rollback, delete, export):
        add_store_options(command, top=False)
    return p.parse_args(argv)


def _architecture(row: dict) -> str:
    """As one would type it: ``--sizes`` and the activation for a dense network, else ``--layers``."""
    layers = row.get("layers") or []
    layers = layers if isinstance(layers, list) else [str(layers)]
    activation = row.get("activation")
    if all(str(spec).startswith("dense") for spec in layers):  # the original's form (format 1 or 2)
        if len(layers) > 1:
            activation = str(layers[0]).partition(":")[2]
        sizes = "-".join(str(s) for s in row.get("sizes") or [])
        return f"{sizes} {activation or ''}".strip()
    return ",".join(spec.split(":relu")[0].split(":linear")[0] for spec in layers if spec != "flatten")


_ARCH_WIDTH = 80  # the widest architecture column: wider entries end in an ellipsis


def list_versions(store) -> None:
    objects = store.list_objects()
    latest = registry.latest_version(store)
    versions = sorted(store.versions(), reverse=True)
    if not versions:
        print(f"{store.uri}: no versions published yet")
        return
    lines: list[tuple] = []  # a row of six cells, or (version, why it is unreadable)
    for version in versions:
        try:
            row = registry.listing_row(store, version, sidecar_for(version) in objects)
        except (btf.CheckpointError, StoreError) as exc:
            lines.append((version, str(exc).split(": ", 1)[-1]))
            continue
        accuracy = f"{row['test_accuracy']:.2%}" if isinstance(row.get("test_accuracy"), float) else "-"
        size = f"{row.get('bytes', 0) / 1e6:.2f} MB"
        mark = "* " if version == latest else "  "
        arch = _architecture(row)
        arch = arch if len(arch) <= _ARCH_WIDTH else arch[: _ARCH_WIDTH - 1] + "…"  # a sidecar may say anything
        lines.append((mark, version, arch, accuracy, size, row.get("created") or "-"))
    width = max([len("architecture")] + [len(line[2]) for line in lines if len(line) == 6])  # as wide as the widest
    print(f"{'':2}{'version':>7}  {'architecture':{width}} {'test acc':>8} {'size':>9}  created")
    for line in lines:
        if len(line) == 2:
            print(f"{'':2}{line[0]:>7}  unreadable: {line[1]}")
        else:
            mark, version, arch, accuracy, size, created = line
            print(f"{mark}{version:>7}  {arch:{width}} {accuracy:>8} {size:>9}  {created}")
    alias = registry.read_alias(store)
    if alias.problem is not None:
        print(f"* latest (the alias cannot be used: {alias.problem}; `promote N` replaces it)")
    else:
        print("* latest" + ("" if alias.latest is not None else " (no alias yet: the highest version)"))


def show(store, store_uri: str, version: int) -> None:
    from btf import checkpoint

    summary = checkpoint.describe(store.read(version).data)
    print(json.dumps({"version": version, "latest": version == registry.latest_version(store), **summary}, indent=2))
    report = report_for(store_uri, version, (summary.get("metadata") or {}).get("created"))
    print(f"report: {display_path(report)}" if report else "report: none on this machine")


def delete(store, store_uri: str, version: int) -> None:
    registry.delete(store, version)
    print(f"deleted v{version} from {store.uri}")
    if not store_uri.startswith("s3://"):  # an S3 store's reports are on whichever machine trained it
        for folder in report_root(store_uri).glob(f"model-v{version}"):
            shutil.rmtree(folder, ignore_errors=True)
            print(f"deleted its report {display_path(folder)}")


# What follows the ten digit outputs, by the model's output count (btf.digits.OUTPUTS).
_more_outputs = {11: ", then not a digit", 111: ", then not a digit, then touching pairs 00-99 (10 * left + right)"}


def export_onnx(store, version: int, path: str, force: bool) -> None:
    from btf.onnx import OPSET, export

    if os.path.isdir(path):
        raise btf.ConfigError(f"{path} is a folder; give a file name such as model.onnx")
    graph = btf.Graph.load(store.read(version).data)
    decision = digits.rule(graph)  # how /predict reads the outputs: the file says it too
    props = {
        "btf_outputs": "digits 0-9" + _more_outputs.get(graph.sizes[-1], ""),
        "btf_not_digit_temperature": repr(decision.temperature),
        "btf_not_digit_threshold": repr(decision.threshold),
    }
    try:
        size = export(graph, path, overwrite=force, props=props)
    except FileExistsError:
        raise btf.ConfigError(f"{path} exists; pass --force to replace it") from None
    except OSError as exc:  # a missing folder, no permission, a full disk: nothing was written
        raise btf.ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"exported v{version} to {display_path(path)} ({size / 1e6:.2f} MB, ONNX opset {OPSET})")


def _named(version: int | None) -> str:
    return f"v{version}" if version is not None else "not set"


def run(args: argparse.Namespace) -> int:
    store = open_cli_store(args.store, args.endpoint_url, 60.0)
    if args.command == "list":
        list_versions(store)
    elif args.command == "show":
        show(store, args.store, args.version)
    elif args.command == "promote":
        before, _ = registry.promote(store, args.version, why=args.why)
        print(f"promoted v{args.version}: latest was {_named(before)}, is now v{args.version}")
    elif args.command == "rollback":
        before, alias = registry.rollback(store, why=args.why)
        print(f"rolled back: latest was {_named(before)}, is now v{alias.latest}")
    elif args.command == "delete":
        delete(store, args.store, args.version)
    elif args.command == "export":
        export_onnx(store, args.version, args.onnx, args.force)
    return 0


def main(argv: list[str] | None = None) -> int:
    return guarded(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
