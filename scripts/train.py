"""Train a btf Graph, evaluate it on held-out data, write a report, and publish the next model-vN.npz.

    python -m scripts.train --data ../shared/data/mnist [--store s3://bucket/models/] [--promote if-better] [--dry-run]

The store defaults to $MODEL_STORE, else .models/ (gitignored, seeded from the shipped models/).
Publishing is not promoting: the candidate becomes latest only if the gate says so (--promote). Every failure (bad data,
no credentials, missing bucket, unreachable endpoint, Ctrl-C) prints one clear line and
exits non-zero with nothing published and no report left behind. The store is checked
before training, so an S3 mistake costs seconds, not a training run.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import btf
from btf import data as btf_data
from btf.digits import evaluation
from btf.digits.report import confusion_matrix, write_report
from btf.specs import parse_layers
from btf.store import display_path, registry
from btf.store import publish as publishing
from scripts.cli import guarded, open_cli_store, report_root
from scripts.train_options import CONFIG_KEYS, DIGIT_SHAPE, STORE_TIMEOUT, parse_args

ROOT = Path(__file__).resolve().parents[1]


def load_splits(args: argparse.Namespace) -> tuple[dict[str, tuple], dict[str, Any]]:
    if not args.data:
        raise btf.DataError(
            "no data: pass --data PATH, MNIST as a folder of its four IDX files, mnist.pkl.gz or mnist.npz "
            "(or set BTF_DATA), or --data mnist to download the official files when online"
        )
    if args.data == "mnist":
        from btf.download import download_mnist

        source = download_mnist()
    else:
        source = Path(args.data).expanduser()
        if not source.exists():
            raise btf.DataError(
                f"{args.data}: no such file or folder. --data wants MNIST: a folder of the four IDX files "
                "(train-images-idx3-ubyte.gz, ...), mnist.pkl.gz or mnist.npz; --data mnist downloads the "
                "official IDX files into ~/.cache/btf/mnist when online"
            )
    return btf_data.training_splits(source, limit=args.limit, val_fraction=args.val_fraction, seed=args.seed)


def git_commit() -> str | None:
    try:
        # Fixed argv, no shell; git from PATH is the user's own git.
        argv = ["git", "rev-parse", "HEAD"]
        out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=5, check=True)  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def train(args: argparse.Namespace) -> int:
    store = None if args.dry_run else open_cli_store(args.store, args.endpoint_url, STORE_TIMEOUT)
    if store is not None:
        existing = store.versions()  # fail now, not after training, if the store is unusable
        print(f"store {store.uri}: {len(existing)} version(s), latest v{registry.latest_version(store) or 0}")
    splits, data_description = load_splits(args)
    negatives = evaluation.held_out_negatives(args.gate_negatives)
    splits["train"] = extended_training(args, splits["train"], data_description)
    net, history, seconds = fit(args, splits, data_description)
    net.metadata["not_digit"] = evaluation.calibrate(net, splits["val"], args.seed)
    both = evaluation.score(net, splits["test"], negatives)
    labels = both["labels"]
    correct = int(round(both["accuracy"] * len(labels)))
    print(f"test accuracy {both['accuracy']:.2%} ({correct}/{len(labels)}) after {seconds:.1f}s of training")
    print(
        f"not a digit: {both['flagged']:.2%} of the test digits flagged, {both['rejection']:.2%} of"
        f" {both['non_digits']} held-out non-digits flagged; ECE {both['ece']:.2%}"
        f" (temperature {net.metadata['not_digit']['temperature']:g})"
    )
    metadata = _metadata(args, net, history, splits["test"], both, seconds, data_description)
    blob = net.to_bytes(metadata)
    servable = publishing.servable(blob)  # what the function will load, checked before any upload
    report_root = Path(args.report_dir) if args.report_dir else _default_report_root(args)
    with tempfile.TemporaryDirectory(prefix="btf-report-") as tmp:
        write_report(Path(tmp), history, confusion_matrix(splits["test"][1], labels), metadata, both["reliability"])
        if store is None:
            name = "dry-run-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            report = _move_report(Path(tmp), report_root / name)
            print(f"dry run: nothing published; report in {display_path(report)}")
            return 0
        version = publish(args, store, blob, servable, both, splits["test"], negatives)
        try:
            report = _move_report(Path(tmp), report_root / f"model-v{version}")
        except OSError as exc:
            # The version is out: failing now would invite a retry that publishes it twice.
            print(f"warning: published v{version}; report failed: {exc}", file=sys.stderr)
            return 0
    print(f"report: {display_path(report)}")
    return 0


def _metadata(
    args: argparse.Namespace, net: btf.Graph, history: list[dict], test: tuple, both: dict, seconds: float, data: dict
) -> dict:
    """What the checkpoint and the report record of this run: its scores, data, config and provenance."""
    return {
        "val_accuracy": history[-1]["val_accuracy"] if history else net.accuracy(),
        "test_accuracy": both["accuracy"],
        "test_loss": net.evaluate(test)["loss"],
        "test_flagged": both["flagged"],
        "test_ece": both["ece"],
        "heldout_non_digits_flagged": both["rejection"],
        "not_digit": net.metadata["not_digit"],  # the decision's rule, in the report too
        "data": data,
        "config": {k: getattr(args, k) for k in CONFIG_KEYS} | {"sizes": list(args.sizes)},
        "training_seconds": round(seconds, 2),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "btf_version": btf.__version__,
        "git_commit": git_commit(),
    }


def extended_training(args: argparse.Namespace, train: tuple, data_description: dict) -> tuple[np.ndarray, np.ndarray]:
    """The training digits plus what the options add: re-drawn and printed digits, non-digits, touching pieces."""
    X, y = train  # the training digits as they come: every addition is made from these alone
    pieces = None
    if args.joined:
        from btf.digits import joined

        pieces = joined.generate(X, y, args.joined, args.seed, tuple(args.joined_kinds or joined.KINDS))
        data_description["joined_train_size"] = len(pieces[1])
        print(f"composed {len(pieces[1])} touching pairs, fragments and digits with a neighbour's edge")
    if args.redraw:
        from btf.digits.redraw import redraw

        extra = redraw(X, y, args.redraw, args.seed)
        train = (np.vstack([X, extra[0]]), np.concatenate([y, extra[1]]))
        print(f"re-drew {len(extra[1])} training digits as scans, pens and pencils")
        data_description["redrawn_train_size"] = len(extra[1])
    if args.not_digit:
        train = evaluation.with_negatives(train, args.not_digit, args.seed)
        print(f"generated {args.not_digit} non-digits to train 'not a digit' on")
        data_description["not_digit_train_size"] = args.not_digit
    if args.printed:  # after the non-digits too, which draw "crossed" digits from the training digits
        from btf.digits import printed

        extra = printed.generate(args.printed, args.seed)
        train = (np.vstack([train[0], extra[0]]), np.concatenate([train[1], extra[1]]))
        print(f"printed {len(extra[1])} digits in TrueType fonts")
        data_description["printed_train_size"] = len(extra[1])
        data_description["printed_fonts"] = [Path(f).name for f in printed.fonts()]  # what they depend on
    if pieces is not None:  # appended last, so the additions before them are drawn as before --joined existed
        train = (np.vstack([train[0], pieces[0]]), np.concatenate([train[1], pieces[1]]))
    return train


def fit(args: argparse.Namespace, splits: dict, data_description: dict) -> tuple[btf.Graph, list, float]:
    """Build the Graph the arguments describe and train it; (net, history, seconds)."""
    architecture = parse_layers(args.layers, args.activation) if args.layers else args.sizes
    net = btf.Graph(
        architecture,
        args.learning_rate,
        args.batch_size,
        activation=args.activation,
        cost=args.cost,
        l2=args.l2,
        init=args.init,
        seed=args.seed,
        optimizer=args.optimizer,
        input_shape=DIGIT_SHAPE,
    )
    net.feed(splits["train"], splits["val"])
    print(
        f"training {net} for {args.epochs} epochs on {len(splits['train'][1])} images from {data_description['source']}"
    )
    augment = None
    if args.augment:
        from btf.augment import distort, hand

        augment = hand if args.augment_style == "hand" else distort
    start = time.perf_counter()
    history, average, averaged = [], None, 0
    for epoch in range(args.epochs):
        # Distorted digits teach invariance; the last epochs on the real ones fit them closely.
        distort = augment if args.augment_epochs is None or epoch < args.augment_epochs else None
        history += net.run(1, progress=not args.no_progress, augment=distort)
        net.set_learning_rate(net.learning_rate * args.lr_decay)
        if args.average_last and epoch >= args.epochs - args.average_last:
            # A running mean of the weights at the end of each of the last epochs (Polyak averaging).
            params, averaged = net.params, averaged + 1
            average = [p.copy() for p in params] if average is None else average
            for mean, p in zip(average, params):
                mean += (p - mean) / averaged
    if average is not None:
        for p, mean in zip(net.params, average):
            p[...] = mean
        print(f"weights averaged over the last {averaged} epochs")
    return net, history, time.perf_counter() - start


def publish(args: argparse.Namespace, store, blob: bytes, servable: btf.Graph, scored: dict, test, negatives) -> int:
    """Publish the candidate and promote it if the gate says so (btf.store.publish); returns its version."""
    done = publishing.publish(
        store, blob, servable, policy=args.promote, scored=scored, test=test, negatives=negatives,
        by=f"scripts.train --promote {args.promote}",
    )  # fmt: skip
    if done.sidecar_problem is not None:  # listing falls back to the checkpoint itself
        print(f"warning: no sidecar for v{done.version} ({done.sidecar_problem})", file=sys.stderr)
    decision = done.decision
    if decision.promote:
        print(f"gate: {decision.reason} -> promoted: latest is now v{done.version}")
    else:
        print(f"gate: {decision.reason} -> not promoted: latest stays v{decision.current}")
    return done.version


def _default_report_root(args: argparse.Namespace) -> Path:
    return ROOT / "reports" if args.dry_run else report_root(args.store)


def _move_report(src: Path, dest: Path) -> Path:
    """Copy the report folder into place and return where it went (a fresh name if ``dest`` is taken)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():  # a stale folder from an older store: keep it, never mix two runs
        dest = dest.with_name(dest.name + "-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f"))
    shutil.copytree(src, dest)
    dest.chmod(0o755)  # the temp folder it came from was private (0700)
    return dest


def main(argv: list[str] | None = None) -> int:
    return guarded(train, parse_args(argv), failed="nothing was published", code=2)


if __name__ == "__main__":
    sys.exit(main())
