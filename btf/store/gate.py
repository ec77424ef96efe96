"""The promotion gate: should a freshly trained candidate become ``latest``?

The candidate and the version ``latest`` serves now are scored on the same held-out data, in
the same run, on both sides (btf.digits.evaluation): *digits read* (the closest digit right and not
flagged "not a digit") and *non-digits flagged*. The stored metadata of the current version
is not trusted (it may come from other data, or another btf). Policies:

- ``if-better`` (the default): promote when the candidate is no worse on **both** sides. A
  candidate that reads more digits but flags fewer non-digits (or the reverse) is a trade:
  it is promoted only if it makes fewer mistakes in all (the share of digits not read plus
  the share of non-digits let through, each side weighing the same), and the gate's reason
  names the trade and the side that lost either way, so it never wins silently. (A model
  that calls everything "not a digit" flags every non-digit, but reads no digit: it loses.)
  ``--promote always`` and ``never`` overrule it;
- ``always``: promote regardless, and say so;
- ``never``: publish only.

The first model of an empty store is always promoted (there is nothing to serve otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from btf.digits import evaluation
from btf.errors import BtfError
from btf.graph import Graph
from btf.store import BaseStore, StoreError, registry

POLICIES = ("if-better", "always", "never")


@dataclass(frozen=True)
class Decision:
    promote: bool
    current: int | None  # the version latest serves now (None: empty store)
    current_accuracy: float | None  # digits read, on the same data; None if it could not be scored
    candidate_accuracy: float
    reason: str
    current_rejection: float | None = None  # non-digits flagged, on the same drawings
    candidate_rejection: float | None = None


def _read_and_flagged(
    graph: Graph, test: tuple[np.ndarray, np.ndarray], negatives: np.ndarray | None
) -> tuple[float, float | None]:
    """(digits read, non-digits flagged) of ``graph`` on the gate's data."""
    figures = evaluation.score(graph, test, negatives)
    return figures["read"], figures.get("rejection")


def decide(
    policy: str,
    store: BaseStore,
    candidate: Graph,
    test: tuple[np.ndarray, np.ndarray],
    negatives: np.ndarray | None = None,
    *,
    scored: dict | None = None,
) -> Decision:
    """Score the candidate and the current latest on ``test`` (digits) and ``negatives``, and apply ``policy``.

    ``scored``: the candidate's ``evaluation.score`` on the same data, when the caller has it already.
    """
    if policy not in POLICIES:
        raise BtfError(f"--promote must be one of {POLICIES}, not {policy!r}")
    mine, mine_rej = (
        (scored["read"], scored.get("rejection"))
        if scored is not None
        else _read_and_flagged(candidate, test, negatives)
    )
    current = registry.latest_version(store)
    if current is None:
        return Decision(policy != "never", None, None, mine, "the first model of an empty store", None, mine_rej)
    try:
        theirs, theirs_rej = _read_and_flagged(Graph.load(store.read(current).data), test, negatives)
    except (BtfError, StoreError) as exc:  # it cannot even be scored here: any working model beats it
        theirs = theirs_rej = None
        why = f"latest v{current} cannot be scored ({str(exc).split(': ', 1)[-1]})"
    else:
        why = f"candidate {mine:.2%} vs latest v{current} {theirs:.2%} digits read on the same {len(test[1])} digits"
        if negatives is not None and len(negatives):
            why += f"; non-digits flagged {mine_rej:.2%} vs {theirs_rej:.2%} of the same {len(negatives)} drawings"
    if policy == "always":
        return Decision(True, current, theirs, mine, f"--promote always ({why})", theirs_rej, mine_rej)
    if policy == "never":
        return Decision(False, current, theirs, mine, f"--promote never ({why})", theirs_rej, mine_rej)
    if theirs is None:
        return Decision(True, current, theirs, mine, why, theirs_rej, mine_rej)
    worse = [
        side for side, ok in (("digits", mine >= theirs), ("non-digits", _no_worse(mine_rej, theirs_rej))) if not ok
    ]
    promote = not worse
    if len(worse) == 1:
        promote = _mistakes(mine, mine_rej) < _mistakes(theirs, theirs_rej)
        why += (
            f" (a trade: worse on {worse[0]}; {'fewer' if promote else 'not fewer'} mistakes in all:"
            f" {_mistakes(mine, mine_rej):.2%} vs {_mistakes(theirs, theirs_rej):.2%})"
        )
    return Decision(promote, current, theirs, mine, why, theirs_rej, mine_rej)


def _no_worse(mine: float | None, theirs: float | None) -> bool:
    return mine is None or theirs is None or mine >= theirs


def _mistakes(read: float, rejection: float | None) -> float:
    """Digits not read plus non-digits let through, as shares of each side."""
    return (1 - read) + (0 if rejection is None else 1 - rejection)
