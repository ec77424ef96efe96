"""The promotion gate: should a freshly trained candidate become ``latest``?

The candidate and the version ``latest`` serves now are scored on the same held-out data, in
the same run; the stored metadata of the current version is not trusted (it may come from
other data, or another btf). Policies:

- ``if-better`` (the default): promote when the candidate is at least as accurate;
- ``always``: promote regardless, and say so;
- ``never``: publish only.

The first model of an empty store is always promoted (there is nothing to serve otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from btf.errors import BtfError
from btf.graph import Graph
from btf.store import BaseStore, StoreError, registry

POLICIES = ("if-better", "always", "never")


@dataclass(frozen=True)
class Decision:
    promote: bool
    current: int | None  # the version latest serves now (None: empty store)
    current_accuracy: float | None  # on the same data; None if it could not be scored
    candidate_accuracy: float
    reason: str


def _score(graph: Graph, test: tuple[np.ndarray, np.ndarray]) -> float:
    return graph.evaluate(test)["accuracy"]


def decide(policy: str, store: BaseStore, candidate: Graph, test: tuple[np.ndarray, np.ndarray]) -> Decision:
    """Score the candidate and the current latest on ``test`` and apply ``policy``."""
    if policy not in POLICIES:
        raise BtfError(f"--promote must be one of {POLICIES}, not {policy!r}")
    mine = _score(candidate, test)
    current = registry.latest_version(store)
    if current is None:
        return Decision(policy != "never", None, None, mine, "the first model of an empty store")
    try:
        theirs = _score(Graph.load(store.read(current).data), test)
    except (BtfError, StoreError) as exc:  # it cannot even be scored here: any working model beats it
        theirs, why = None, f"latest v{current} cannot be scored ({str(exc).split(': ', 1)[-1]})"
    else:
        why = f"candidate {mine:.2%} vs latest v{current} {theirs:.2%} on the same {len(test[1])} digits"
    if policy == "always":
        return Decision(True, current, theirs, mine, f"--promote always ({why})")
    if policy == "never":
        return Decision(False, current, theirs, mine, f"--promote never ({why})")
    better = theirs is None or mine >= theirs
    return Decision(better, current, theirs, mine, why)
