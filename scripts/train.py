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
import math
import os
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
from btf import footprint
from btf.activations import ACTIVATIONS
from btf.checkpoint import MAX_LAYERS
from btf.costs import COSTS
from btf.digits import INPUT_SIDE, evaluation
from btf.digits.report import confusion_matrix, write_report
from btf.optimizers import OPTIMIZERS
from btf.specs import dense_layers, parse_layers, plan
from btf.store import display_path, gate, registry
from btf.store import publish as publishing
from scripts.cli import OneLineParser, add_store_options, guarded, open_cli_store, report_root

ROOT = Path(__file__).resolve().parents[1]
CONFIG_KEYS = (
    "layers",
    "optimizer",
    "epochs",
    "batch_size",
    "learning_rate",
    "lr_decay",
    "cost",
    "activation",
    "l2",
    "init",
    "augment",
    "augment_epochs",
    "augment_style",
    "average_last",
    "limit",
    "seed",
    "not_digit",
    "redraw",
)
# Uploading a model can take a while on a slow link; reads by the function use a 3 s deadline.
STORE_TIMEOUT = 300.0
DIGIT_SHAPE = (INPUT_SIDE, INPUT_SIDE, 1)  # what a --layers network takes


def _ranged(kind, low=None, high=None, *, above: bool = False):
    """An argparse type: ``kind`` within [low, high] (or above ``low``), finite, with a one-line refusal."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if low is not None and (value <= low if above else value < low):
            raise argparse.ArgumentTypeError(f"{text} must be {'above' if above else 'at least'} {low}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{text} must be at most {high}")
        return value

    return parse


def parse_sizes(text: str) -> tuple[int, ...]:
    """``784,30,10`` -> (784, 30, 10): positive sizes, and a network the function would load."""
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not comma-separated integers, e.g. 784,30,10") from None
    if not 2 <= len(sizes) <= MAX_LAYERS or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give 2 to {MAX_LAYERS} positive layer sizes, e.g. 784,30,10")
    _within_limits(text, footprint.of_layers(dense_layers(sizes), sizes[:1]))
    return sizes


def _layer_list(text: str) -> str:
    """A --layers value that builds a classifier of 28x28 digits within the limits a served model must meet."""
    try:
        layers = parse_layers(text)
        plan(layers, DIGIT_SHAPE)
        cost = footprint.of_layers(layers, DIGIT_SHAPE)
    except btf.ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    _within_limits(text, cost)
    return text


def _within_limits(text: str, cost: footprint.Footprint) -> None:
    """Refuse, before any training, a model the loader would refuse (btf.footprint.LIMITS)."""
    problem = footprint.LIMITS.problem(cost)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{text!r}: {problem}, past what a served model may cost")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = OneLineParser(prog="python -m scripts.train", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--data",
        default=os.environ.get("BTF_DATA"),
        help="IDX folder, mnist.pkl.gz, mnist.npz, or 'mnist' to download (default $BTF_DATA)",
    )
    p.add_argument("--sizes", type=parse_sizes, default=(784, 30, 10), help="dense layer sizes (default 784,30,10)")
    p.add_argument(
        "--layers",
        type=_layer_list,
        help="an architecture of btf.layers instead of --sizes, e.g. conv32:3,pool2,conv64:3,pool2,dense128,dropout0.3,dense10",
    )
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="sgd (default), momentum or adam")
    p.add_argument("--epochs", type=_ranged(int, 1, 100_000), default=20)
    p.add_argument("--batch-size", type=_ranged(int, 1, 1_000_000), default=128)
    p.add_argument("--learning-rate", type=_ranged(float, 0.0, 1e6, above=True), default=3.0)
    p.add_argument(
        "--lr-decay",
        type=_ranged(float, 0.0, 1.0, above=True),
        default=1.0,
        help="multiply the learning rate by this after each epoch",
    )
    p.add_argument(
        "--average-last", type=_ranged(int, 0), default=0, help="use the mean of the weights of the last N epochs"
    )
    p.add_argument("--seed", type=_ranged(int, 0, 2**63 - 1), default=0)
    p.add_argument("--cost", choices=COSTS, default="quadratic")
    p.add_argument(
        "--activation", choices=ACTIVATIONS, help="hidden layers' activation (default sigmoid, relu with --layers)"
    )
    p.add_argument("--l2", type=_ranged(float, 0.0, 1e3), default=0.0, help="L2 weight decay (default 0)")
    p.add_argument("--init", choices=("scaled", "normal"), default="scaled")
    p.add_argument("--augment", action="store_true", help="train on randomly distorted digits each epoch")
    p.add_argument(
        "--augment-style",
        choices=("affine", "hand"),
        default="affine",
        help="with --augment: affine (rotate, scale, shear, shift) or hand (also stretch, elastic wobble, stroke width)",
    )
    p.add_argument(
        "--augment-epochs", type=_ranged(int, 0), help="with --augment: distort only the first N epochs (default all)"
    )
    p.add_argument("--limit", type=_ranged(int, 1), help="train on only the first N training images")
    p.add_argument(
        "--val-fraction",
        type=_ranged(float, 0.0, 0.99, above=True),
        default=0.1,
        help="share of train held out for validation",
    )
    p.add_argument(
        "--not-digit",
        type=_ranged(int, 0, 1_000_000),
        default=0,
        help="train on N generated non-digits as an 11th output, 'not a digit' (the last layer needs 11 units)",
    )
    p.add_argument(
        "--redraw",
        type=_ranged(int, 0, 1_000_000),
        default=0,
        help="also train on N training digits re-drawn as scans, pens and pencils (btf.digits.redraw), labels kept",
    )
    p.add_argument(
        "--gate-negatives",
        type=_ranged(int, 10, 100_000),
        default=1000,
        help="held-out non-digits the gate and the report score both models on (default 1000)",
    )
    add_store_options(p)
    p.add_argument("--report-dir", help="where report folders go (default <store>/reports, or ./reports for S3)")
    p.add_argument(
        "--promote",
        choices=gate.POLICIES,
        default="if-better",
        help="make it latest: if-better (no worse than latest at reading digits nor at flagging non-digits, on the"
        " same held-out data), always, never",
    )
    p.add_argument("--dry-run", action="store_true", help="train, evaluate and report; publish nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (one line per epoch only)")
    args = p.parse_args(argv)
    args.activation = args.activation or ("relu" if args.layers else "sigmoid")
    outputs = parse_layers(args.layers)[-1].units if args.layers else args.sizes[-1]
    if outputs != (11 if args.not_digit else 10):
        want = "11 outputs (10 digits and 'not a digit')" if args.not_digit else "10 outputs (--not-digit N for 11)"
        p.error(
            f"the network has {outputs} outputs; a digit model{' trained with --not-digit' if args.not_digit else ''} needs {want}"
        )
    return args


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
    if args.redraw:
        from btf.digits.redraw import redraw

        X, y = splits["train"]
        extra = redraw(X, y, args.redraw, args.seed)
        splits["train"] = (np.vstack([X, extra[0]]), np.concatenate([y, extra[1]]))
        print(f"re-drew {len(extra[1])} training digits as scans, pens and pencils")
        data_description["redrawn_train_size"] = len(extra[1])
    if args.not_digit:
        splits["train"] = evaluation.with_negatives(splits["train"], args.not_digit, args.seed)
        print(f"generated {args.not_digit} non-digits to train 'not a digit' on")
        data_description["not_digit_train_size"] = args.not_digit
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
    metadata = {
        "val_accuracy": history[-1]["val_accuracy"] if history else net.accuracy(),
        "test_accuracy": both["accuracy"],
        "test_loss": net.evaluate(splits["test"])["loss"],
        "test_flagged": both["flagged"],
        "test_ece": both["ece"],
        "heldout_non_digits_flagged": both["rejection"],
        "not_digit": net.metadata["not_digit"],  # the decision's rule, in the report too
        "data": data_description,
        "config": {k: getattr(args, k) for k in CONFIG_KEYS} | {"sizes": list(args.sizes)},
        "training_seconds": round(seconds, 2),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "btf_version": btf.__version__,
        "git_commit": git_commit(),
    }
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
