"""The trainer's command line (``python -m scripts.train``): every option, and every check that needs no data.

A size list or layer list the predict function would refuse (btf.footprint.LIMITS), an
output count that does not fit a digit model, or a value out of range is refused here,
before any data is read or any store is opened.
"""

from __future__ import annotations

import argparse
import math
import os

import btf
from btf import footprint
from btf.activations import ACTIVATIONS
from btf.checkpoint import MAX_LAYERS
from btf.costs import COSTS
from btf.digits import INPUT_SIDE
from btf.optimizers import OPTIMIZERS
from btf.specs import dense_layers, parse_layers, plan
from btf.store import gate
from scripts.cli import OneLineParser, add_store_options

DESCRIPTION = "Train a btf Graph, evaluate it on held-out data, write a report, and publish the next model-vN.npz."
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
    "joined",
    "joined_kinds",
    "printed",
)
# Uploading a model can take a while on a slow link; reads by the function use a 3 s deadline.
STORE_TIMEOUT = 300.0
DIGIT_SHAPE = (INPUT_SIDE, INPUT_SIDE, 1)  # what a --layers network takes


def _joined_kinds(text: str) -> list[str]:
    """An argparse type: comma-separated kinds of btf.digits.joined (one line if one is unknown)."""
    from btf.digits.joined import ALL_KINDS

    kinds = [k.strip() for k in text.split(",") if k.strip()]
    if not kinds or not set(kinds) <= set(ALL_KINDS):
        raise argparse.ArgumentTypeError(f"{text!r}: kinds are comma-separated, of {', '.join(sorted(ALL_KINDS))}")
    return kinds


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
    p = OneLineParser(prog="python -m scripts.train", description=DESCRIPTION)
    _data_options(p.add_argument_group("data: what to train on"))
    _network_options(p.add_argument_group("network"))
    _training_options(p.add_argument_group("training"))
    _augment_options(p.add_argument_group("augmentation"))
    _publish_options(p.add_argument_group("publishing"))
    args = p.parse_args(argv)
    _check(p, args)
    args.activation = args.activation or ("relu" if args.layers else "sigmoid")
    return args


def _check(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse, in one line, options that parse one by one but not together."""
    if args.learning_rate * args.l2 >= 1:
        p.error(
            f"--learning-rate x --l2 must be below 1 (weight decay would flip the weights' signs), got {args.learning_rate * args.l2:g}"
        )
    if args.printed:
        from btf.digits.printed import fonts

        if not fonts():
            p.error(
                "--printed prints digits in the DejaVu TrueType fonts, and none is installed"
                " (/usr/share/fonts/truetype/dejavu: apt-get install fonts-dejavu-core fonts-dejavu-extra)"
            )
    if args.joined and not args.not_digit:
        p.error("--joined trains pieces as 'not a digit': it needs --not-digit N (and an 11th output)")
    outputs = parse_layers(args.layers)[-1].units if args.layers else args.sizes[-1]
    named = args.joined and "named_pair" in (args.joined_kinds or ())
    if outputs != (111 if named else 11 if args.not_digit else 10):
        want = "11 outputs (10 digits and 'not a digit')" if args.not_digit else "10 outputs (--not-digit N for 11)"
        if named:
            want = "111 outputs (10 digits, 'not a digit' and the 100 pairs named_pair trains)"
        p.error(
            f"the network has {outputs} outputs; a digit model{' trained with --not-digit' if args.not_digit else ''} needs {want}"
        )


def _data_options(p: argparse.ArgumentParser) -> None:
    """The training data, and the generated images added to it."""
    p.add_argument(
        "--data",
        default=os.environ.get("BTF_DATA"),
        help="IDX folder, mnist.pkl.gz, mnist.npz, or 'mnist' to download (default $BTF_DATA)",
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
        "--joined",
        type=_ranged(int, 0, 1_000_000),
        default=0,
        help="also train on N pieces composed from training digits (btf.digits.joined): touching pairs and halves"
        " of digits as 'not a digit', digits with a neighbour's edge as themselves (needs --not-digit)",
    )
    p.add_argument(
        "--joined-kinds",
        type=_joined_kinds,
        default=None,
        help="the kinds --joined draws in turn, comma-separated, a kind twice for twice as many"
        " (default pair,fragment,pair,neighbour)",
    )
    p.add_argument(
        "--printed",
        type=_ranged(int, 0, 1_000_000),
        default=0,
        help="also train on N digits printed in TrueType fonts (btf.digits.printed), so print is not 'not a digit'",
    )


def _network_options(p: argparse.ArgumentParser) -> None:
    """The architecture: --sizes or --layers, and how hidden layers start."""
    p.add_argument("--sizes", type=parse_sizes, default=(784, 30, 10), help="dense layer sizes (default 784,30,10)")
    p.add_argument(
        "--layers",
        type=_layer_list,
        help="an architecture of btf.layers instead of --sizes, e.g. conv32:3,pool2,conv64:3,pool2,dense128,dropout0.3,dense10",
    )
    p.add_argument(
        "--activation", choices=ACTIVATIONS, help="hidden layers' activation (default sigmoid, relu with --layers)"
    )
    p.add_argument("--init", choices=("scaled", "normal"), default="scaled")


def _training_options(p: argparse.ArgumentParser) -> None:
    """The optimizer, its schedule and the cost."""
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
    p.add_argument("--l2", type=_ranged(float, 0.0, 1e3), default=0.0, help="L2 weight decay (default 0)")


def _augment_options(p: argparse.ArgumentParser) -> None:
    """Random distortion of the training digits."""
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


def _publish_options(p: argparse.ArgumentParser) -> None:
    """Where the model goes, and the gate that decides whether it becomes latest."""
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
