"""Honest confidences: temperature scaling (Guo et al., 2017), expected calibration error, reliability bins.

A network trained to near-zero loss says 99.9% about almost everything, including what it
gets wrong off its training data. Dividing its logits by one temperature T > 1, fitted on
held-out data to minimise the negative log-likelihood, leaves every answer's label as it
was and brings the confidences in line with how often they are right. Probabilities stand in
for logits here (``log p`` differs from the logits by a per-row constant, which a softmax
ignores). numpy only.
"""

from __future__ import annotations

import numpy as np

TEMPERATURE_RANGE = (0.05, 20.0)
_FLOOR = np.float64(1e-300)


def soften(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log(p) / T) for each row of ``p``: the same ranking, confidences tempered (float64)."""
    logp = np.log(np.maximum(np.asarray(probabilities, np.float64), _FLOOR)) / float(temperature)
    logp -= logp.max(axis=1, keepdims=True)
    out = np.exp(logp)
    out /= out.sum(axis=1, keepdims=True)
    return out


def nll(probabilities: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    p = soften(probabilities, temperature)[np.arange(len(labels)), labels]
    return float(-np.log(np.maximum(p, _FLOOR)).mean())


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The T in TEMPERATURE_RANGE that minimises the mean negative log-likelihood of ``labels``.

    The likelihood is unimodal in log T, so a coarse grid then a golden-section search finds it.
    """
    labels = np.asarray(labels)
    if len(labels) == 0:
        return 1.0
    lo, hi = np.log(TEMPERATURE_RANGE)
    grid = np.linspace(lo, hi, 41)
    best = int(np.argmin([nll(probabilities, labels, np.exp(t)) for t in grid]))
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(30):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if nll(probabilities, labels, np.exp(c)) <= nll(probabilities, labels, np.exp(d)):
            b = d
        else:
            a = c
    return float(np.exp((a + b) / 2))


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Equal-width confidence bins: each one's count, mean confidence and accuracy (empty bins omitted)."""
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, bool)
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        members = index == b
        if members.any():
            rows.append(
                {
                    "low": b / bins,
                    "high": (b + 1) / bins,
                    "count": int(members.sum()),
                    "confidence": float(confidence[members].mean()),
                    "accuracy": float(correct[members].mean()),
                }
            )
    return rows


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error: the count-weighted mean |accuracy - confidence| over ``bins`` bins."""
    rows = reliability(confidence, correct, bins)
    total = sum(r["count"] for r in rows)
    return float(sum(r["count"] * abs(r["accuracy"] - r["confidence"]) for r in rows) / max(total, 1))
