"""btf.store.gate's rule: a candidate must be no worse at reading digits *and* at flagging non-digits."""

import numpy as np
import pytest

from btf.store import gate, open_store
from tests.support.models import tiny_model

TEST = (np.zeros((4, 784), np.float32), np.zeros(4, np.int64))
NEGATIVES = np.zeros((3, 784), np.float32)


@pytest.fixture
def store(tmp_path):
    folder = open_store(str(tmp_path / "models"))
    folder.publish(tiny_model(1))
    return folder


def _scores(monkeypatch, candidate, latest):
    """Candidate and latest score (digits read, non-digits flagged) as given."""
    monkeypatch.setattr(
        gate, "_read_and_flagged", lambda graph, test, negatives: candidate if graph == "new" else latest
    )


@pytest.mark.parametrize(
    "candidate, latest, promoted, says",
    [
        ((0.99, 0.95), (0.98, 0.90), True, "non-digits flagged 95.00% vs 90.00% of the same 3 drawings"),
        ((0.98, 0.90), (0.98, 0.90), True, "98.00% vs latest v1 98.00%"),
        ((0.995, 0.60), (0.98, 0.90), False, "a trade: worse on non-digits; not fewer mistakes in all: 40.50% vs 12"),
        ((0.97, 0.99), (0.98, 0.90), True, "a trade: worse on digits; fewer mistakes in all: 4.00% vs 12.00%"),
        ((0.30, 0.99), (0.98, 0.00), True, "a trade: worse on digits"),  # 0.71 vs 1.02 mistakes
        ((0.00, 1.00), (0.90, 0.30), False, "not fewer mistakes"),  # "not a digit" for everything loses
        ((0.97, 0.80), (0.98, 0.90), False, "on the same 4 digits"),
    ],
)
def test_if_better_needs_both_sides(monkeypatch, store, candidate, latest, promoted, says):
    _scores(monkeypatch, candidate, latest)
    monkeypatch.setattr(gate.Graph, "load", staticmethod(lambda data: "old"))
    decision = gate.decide("if-better", store, "new", TEST, NEGATIVES)
    assert decision.promote is promoted and says in decision.reason
    assert (decision.candidate_accuracy, decision.candidate_rejection) == candidate
    assert (decision.current_accuracy, decision.current_rejection) == latest
    forced = gate.decide("always", store, "new", TEST, NEGATIVES)
    assert forced.promote and "--promote always" in forced.reason


def test_both_sides_are_scored_on_real_models(store):
    from btf.graph import Graph

    candidate = Graph.load(tiny_model(2))
    decision = gate.decide("never", store, candidate, TEST, NEGATIVES)
    assert not decision.promote and 0 <= decision.candidate_rejection <= 1 and 0 <= decision.current_rejection <= 1
