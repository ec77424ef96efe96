"""The contract a model must meet to read digits, and the one way every caller reads them.

Contract: 28x28 inputs in [0, 1]; ten outputs (one per digit), or eleven (the eleventh says
"not a digit"), or 111 (then a hundred more, one per pair of touching digits, 00 to 99: one
input holding two digits is not *a* digit, and ``btf.digits.numbers`` reads it as both); finite answers; and, if its metadata carries a ``not_digit`` decision, a
sane one. One place for the trainer (which refuses to publish a model that breaks it) and the
predict function (which refuses to serve one), so the two can never disagree.

``read(graph, X)`` is the decision: the closest digit, ten calibrated confidences that sum
to 1, and whether the input is a digit at all. Everything it needs travels with the model,
in ``metadata["not_digit"] = {"temperature": T, "threshold": t}``:

- confidences are ``softmax(logits / T)`` over the ten digit outputs (temperature scaling);
- the not-a-digit score is, for an eleven-output model, the tempered probability of the
  eleventh output (with pair outputs, of it and every pair together); for a ten-output
  model, one minus the top tempered confidence;
- an input is a digit when its score is below ``t``.

A model without that entry (every model before it existed) reads with T = 1 and t = 0.5:
a ten-output model calls an input a digit when its top confidence is at least 50%, an
eleven-output one when "not a digit" is less likely than all digits together. numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from btf.digits.calibration import TEMPERATURE_RANGE, soften
from btf.errors import CheckpointError

INPUT_SIDE = 28
INPUTS = INPUT_SIDE * INPUT_SIDE
CLASSES = 10
NOT_DIGIT = 10  # the label of the eleventh output
PAIRS = 100  # pair outputs: label PAIR_BASE + 10 * left + right
PAIR_BASE = CLASSES + 1
OUTPUTS = (CLASSES, CLASSES + 1, CLASSES + 1 + PAIRS)
DEFAULT_TEMPERATURE = 1.0
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Rule:
    temperature: float = DEFAULT_TEMPERATURE
    threshold: float = DEFAULT_THRESHOLD


@dataclass(frozen=True)
class Reading:
    labels: np.ndarray  # (n,) int: the closest digit
    confidences: np.ndarray  # (n, 10) float64, calibrated, each row summing to 1
    not_digit: np.ndarray  # (n,) float64 in [0, 1]: the not-a-digit score
    is_digit: np.ndarray  # (n,) bool: score below the threshold
    pairs: np.ndarray | None = None  # (n, 100) float64: tempered probability of each pair, for a pair model


def rule(graph) -> Rule:
    """The model's stored decision, or the default one; CheckpointError if what is stored is not sane."""
    stored = (getattr(graph, "metadata", None) or {}).get("not_digit")
    if stored is None:
        return Rule()
    if not isinstance(stored, dict):
        raise CheckpointError("metadata not_digit must be an object with a temperature and a threshold")
    t, threshold = stored.get("temperature", DEFAULT_TEMPERATURE), stored.get("threshold", DEFAULT_THRESHOLD)
    low, high = TEMPERATURE_RANGE
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not low <= t <= high:
        raise CheckpointError(f"metadata not_digit temperature must be a number from {low} to {high}, not {t!r}")
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 < threshold <= 1:
        raise CheckpointError(f"metadata not_digit threshold must be a number in (0, 1], not {threshold!r}")
    return Rule(float(t), float(threshold))


def read(graph, X: np.ndarray, decision: Rule | None = None) -> Reading:
    """Read a batch of (n, 784) inputs: closest digits, calibrated confidences, and which are digits."""
    decision = decision or rule(graph)
    _, outputs = graph.predict(np.asarray(X, np.float32).reshape(-1, INPUTS))
    tempered = soften(outputs, decision.temperature)
    pairs = tempered[:, PAIR_BASE:] if outputs.shape[1] > PAIR_BASE else None
    if outputs.shape[1] > CLASSES:
        score = tempered[:, NOT_DIGIT:].sum(axis=1)
        digits = tempered[:, :CLASSES]
        confidences = digits / np.maximum(digits.sum(axis=1, keepdims=True), 1e-300)
    else:
        confidences = tempered
        score = 1.0 - confidences.max(axis=1)
    return Reading(confidences.argmax(axis=1), confidences, score, score < decision.threshold, pairs)


def _probes() -> np.ndarray:
    """Blank, full and random inputs: a model that is not finite on these is broken."""
    rng = np.random.default_rng(0)
    return np.vstack(
        [np.zeros(INPUTS), np.ones(INPUTS), rng.random((6, INPUTS))],
        dtype=np.float32,
    )


def check_digit_model(graph) -> None:
    """Raise CheckpointError unless ``graph`` takes 784 inputs, gives 10, 11 or 111 outputs, and answers finitely."""
    inputs, outputs = graph.sizes[0], graph.sizes[-1]
    if inputs != INPUTS:
        raise CheckpointError(f"the model takes {inputs} inputs; a digit model takes {INPUTS} (28x28)")
    if outputs not in OUTPUTS:
        raise CheckpointError(
            f"the model has {outputs} outputs; a digit model has {CLASSES} (digits), {CLASSES + 1} (and not a digit)"
            f" or {PAIR_BASE + PAIRS} (and touching pairs)"
        )
    decision = rule(graph)
    # predict runs the probes in chunks of rows that fit btf.footprint.WORK_BYTES, so checking
    # a model costs at most one chunk's working memory, however heavy each row is.
    with np.errstate(all="ignore"):
        _, confidences = graph.predict(_probes())
        reading = read(graph, _probes(), decision) if np.isfinite(confidences).all() else None
    if reading is None or not np.isfinite(reading.confidences).all():
        raise CheckpointError("the model's answers are not finite (NaN or infinite confidences)")
