"""Training progress: a tqdm bar when tqdm is installed (a training extra), and one summary line per epoch."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any


def bar(shown: bool, total: int, desc: str) -> AbstractContextManager[Any]:
    """A tqdm bar of ``total`` steps if ``shown`` and tqdm is installed, else a context that gives None.
    Prediction never imports tqdm."""
    if shown:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return nullcontext()
        return tqdm(total=total, desc=desc, leave=False)
    return nullcontext()


def epoch_line(row: dict[str, float]) -> str:
    """The one line ``Graph.run`` logs after an epoch."""
    text = f"epoch {row['epoch']:>3}  {row['seconds']:6.2f}s  train loss {row['train_loss']:.4f}"
    if "val_accuracy" in row:
        text += f"  val loss {row['val_loss']:.4f}  val acc {row['val_accuracy']:.2%}"
    return text
