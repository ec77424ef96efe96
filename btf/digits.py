"""The contract a model must meet to read digits: 28x28 inputs in [0, 1], ten outputs, finite answers.

One place for the trainer (which refuses to publish a model that breaks it) and the predict
function (which refuses to serve one), so the two can never disagree. numpy only.
"""

from __future__ import annotations

import numpy as np

from btf.errors import CheckpointError

INPUT_SIDE = 28
INPUTS = INPUT_SIDE * INPUT_SIDE
CLASSES = 10


def _probes() -> np.ndarray:
    """Blank, full and random inputs: a model that is not finite on these is broken."""
    rng = np.random.default_rng(0)
    return np.vstack(
        [np.zeros(INPUTS), np.ones(INPUTS), rng.random((6, INPUTS))],
        dtype=np.float32,
    )


def check_digit_model(graph) -> None:
    """Raise CheckpointError unless ``graph`` takes 784 inputs, gives 10 outputs, and answers finitely."""
    inputs, outputs = graph.sizes[0], graph.sizes[-1]
    if inputs != INPUTS:
        raise CheckpointError(f"the model takes {inputs} inputs; a digit model takes {INPUTS} (28x28)")
    if outputs != CLASSES:
        raise CheckpointError(f"the model has {outputs} outputs; a digit model has {CLASSES}")
    # predict runs the probes in chunks of rows that fit btf.footprint.WORK_BYTES, so checking
    # a model costs at most one chunk's working memory, however heavy each row is.
    with np.errstate(all="ignore"):
        _, confidences = graph.predict(_probes())
    if not np.isfinite(confidences).all():
        raise CheckpointError("the model's answers are not finite (NaN or infinite confidences)")
