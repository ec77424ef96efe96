"""Training report for one model version: learning curves, confusion matrix and reliability diagram as PNG, metrics as JSON.

matplotlib is imported here only, with the headless Agg backend, so nothing else in the
project pays for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int = 10) -> np.ndarray:
    """counts[true, predicted]."""
    return np.bincount(labels * classes + predicted, minlength=classes * classes).reshape(classes, classes)


def write_report(
    folder: Path,
    history: list[dict],
    confusion: np.ndarray,
    metrics: dict[str, Any],
    reliability: list[dict] | None = None,
) -> None:
    """Write the report's files into ``folder``; ``reliability`` (btf.digits.calibration bins) adds the diagram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for split in ("train", "val"):
        if f"{split}_loss" in history[0]:
            ax_loss.plot(epochs, [row[f"{split}_loss"] for row in history], marker="o", label=split)
            ax_acc.plot(epochs, [row[f"{split}_accuracy"] for row in history], marker="o", label=split)
    ax_loss.set(title="loss per epoch", xlabel="epoch", ylabel="loss")
    ax_acc.set(title="accuracy per epoch", xlabel="epoch", ylabel="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "learning_curves.png", dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(confusion, cmap="Blues")
    for (i, j), count in np.ndenumerate(confusion):
        color = "white" if count > confusion.max() / 2 else "black"
        ax.text(j, i, str(count), ha="center", va="center", fontsize=7, color=color)
    ax.set(title="confusion matrix (test)", xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10))
    fig.tight_layout()
    fig.savefig(folder / "confusion_matrix.png", dpi=90)
    plt.close(fig)

    if reliability:
        _reliability_diagram(plt, folder / "reliability.png", reliability, metrics)
    body = {**metrics, "history": history, "confusion_matrix": confusion.tolist()}
    if reliability:
        body["reliability"] = reliability
    (folder / "metrics.json").write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")


def _reliability_diagram(plt, path: Path, bins: list[dict], metrics: dict[str, Any]) -> None:
    """Accuracy against confidence per bin: on the diagonal when the confidences are honest."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="gray", linestyle="--", label="honest")
    centres = [(b["low"] + b["high"]) / 2 for b in bins]
    width = bins[0]["high"] - bins[0]["low"]
    ax.bar(centres, [b["accuracy"] for b in bins], width=width * 0.9, alpha=0.7, label="accuracy in bin")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o", color="black", label="mean confidence")
    ece = metrics.get("test_ece")
    title = "reliability (test digits)" + (f", ECE {ece:.2%}" if isinstance(ece, float) else "")
    ax.set(title=title, xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
