"""Publishing a trained candidate, the one use case behind ``scripts.train``: check, gate, publish, describe, promote.

``servable(blob)`` loads the bytes exactly as the predict function will and checks the digit
contract, so a model that could never serve is refused before any upload. ``publish`` then
applies the promotion gate (btf.store.gate) with the candidate's figures as the trainer
already scored them, pins the current latest when the candidate will not replace it (so
publishing alone never changes what is served), publishes the bytes, writes the listing's
sidecar from the model already loaded, and promotes. Nothing is parsed or scored twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from btf.digits import check_digit_model
from btf.errors import BtfError, CheckpointError
from btf.graph import Graph
from btf.store import BaseStore, StoreError, gate, registry


@dataclass(frozen=True)
class Published:
    version: int
    decision: gate.Decision
    sidecar_problem: str | None  # why the listing's sidecar could not be written (listing falls back to the file)


def servable(blob: bytes) -> Graph:
    """The model in ``blob`` as the predict function will load it; BtfError saying why if it could never serve."""
    try:
        graph = Graph.load(blob)
        check_digit_model(graph)
    except CheckpointError as exc:
        problem = str(exc).split(": ", 1)[-1]
        diverged = "NaN" in problem or "finite" in problem
        hint = " (training diverged: try a lower --learning-rate or --l2)" if diverged else ""
        raise BtfError(f"the trained model cannot serve: {problem}{hint}") from None
    return graph


def describe(graph: Graph, size: int) -> dict[str, Any]:
    """The listing's row for a model (the sidecar's content), as ``checkpoint.describe`` gives it for a file."""
    summary = {
        "sizes": list(graph.sizes),
        "layers": [layer.spec() for layer in graph.layers],
        "cost": graph.cost,
        "epochs": graph.epochs,
        "metadata": graph.metadata,
    }
    return registry.row_from(summary, size)


def publish(
    store: BaseStore,
    blob: bytes,
    candidate: Graph,
    *,
    policy: str,
    scored: dict[str, Any],
    test: tuple[np.ndarray, np.ndarray],
    negatives: np.ndarray | None,
    by: str,
    log: Callable[[str], Any] = print,
) -> Published:
    """Publish ``blob`` (``candidate``, from ``servable``) to ``store`` and promote it if the gate says so.

    ``scored`` is ``btf.digits.evaluation.score`` of the candidate on ``test`` and ``negatives``,
    which the gate compares with the current latest scored on the same data.
    """
    decision = gate.decide(policy, store, candidate, test, negatives, scored=scored)
    if not decision.promote and decision.current is not None and registry.read_alias(store).latest is None:
        # No alias yet, so latest means "the highest version": pin the current one first, or
        # publishing alone would make the candidate latest.
        registry.promote(
            store, decision.current, why=f"pinned before publishing an unpromoted candidate ({decision.reason})"
        )
    version = store.publish(blob)
    digest = hashlib.sha256(blob).hexdigest()[:16]
    log(f"published model-v{version}.npz to {store.uri} ({len(blob) / 1e6:.2f} MB, sha256 {digest}...)")
    problem = None
    try:
        registry.write_sidecar(store, version, describe(candidate, len(blob)))
    except StoreError as exc:
        problem = str(exc)
    if decision.promote:
        registry.promote(store, version, why=f"{by}: {decision.reason}", previous=decision.current)
    return Published(version, decision, problem)
