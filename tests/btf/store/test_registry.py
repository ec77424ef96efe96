"""The registry on both kinds of store: the alias, conditional promotion, rollback, delete, sidecars, races."""

import json
import subprocess
import sys
import threading

import pytest

from btf.store import Conflict, StoreError, VersionNotFound, open_store, registry
from tests.conftest import ROOT


@pytest.fixture
def store(store_uri):
    return open_store(store_uri)


def publish(store, n):
    return [store.publish(f"model {i}".encode()) for i in range(n)]


def test_a_store_without_an_alias_means_its_highest_version(store):
    assert registry.latest_version(store) is None
    publish(store, 3)
    alias = registry.read_alias(store)
    assert alias.etag is None and registry.latest_version(store) == 3


def test_promote_creates_the_alias_then_updates_it_with_history(store):
    publish(store, 3)
    before, alias = registry.promote(store, 2, why="first", by="alice")
    assert before == 3 and alias.latest == 2 and registry.latest_version(store) == 2
    before, _ = registry.promote(store, 1, why="second", by="bob")
    history = registry.read_alias(store).history
    assert before == 2 and [(e["from"], e["to"], e["by"], e["why"]) for e in history] == [
        (3, 2, "alice", "first"),
        (2, 1, "bob", "second"),
    ]
    assert all(e["at"].endswith("+00:00") for e in history)


def test_promoting_a_missing_version_is_refused(store):
    publish(store, 1)
    with pytest.raises(VersionNotFound):
        registry.promote(store, 7, why="x")


def test_rollback_target_comes_from_the_history(store):
    publish(store, 3)
    registry.promote(store, 2, why="a")
    registry.promote(store, 3, why="b")
    assert registry.read_alias(store).previous() == 2


def test_delete_refuses_the_promoted_version_and_removes_the_sidecar(store):
    publish(store, 2)
    registry.write_sidecar(store, 1, {"test_accuracy": 0.5})
    registry.promote(store, 2, why="x")
    with pytest.raises(StoreError, match="promoted"):
        registry.delete(store, 2)
    registry.delete(store, 1)
    assert sorted(store.versions()) == [2] and "model-v1.json" not in store.list_objects()
    with pytest.raises(VersionNotFound):
        registry.delete(store, 1)


def test_a_stale_conditional_write_loses(store):
    publish(store, 2)
    _, first = registry.promote(store, 1, why="x")
    registry.promote(store, 2, why="y")
    with pytest.raises(Conflict):
        store.put_object(registry.ALIAS, b"{}", if_match=first.etag)
    with pytest.raises(Conflict):
        store.put_object(registry.ALIAS, b"{}", create_only=True)
    assert registry.read_alias(store).latest == 2


def test_eight_racing_promoters_lose_no_update(store):
    publish(store, 8)
    errors = []

    def promoter(version):
        try:
            registry.promote(store, version, why=f"racer {version}", by=f"racer{version}")
        except Exception as exc:  # collected, so the assertion shows it
            errors.append(exc)

    threads = [threading.Thread(target=promoter, args=(v,)) for v in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    alias = registry.read_alias(store)
    assert not errors
    assert len(alias.history) == 8 and sorted(e["to"] for e in alias.history) == list(range(1, 9))
    assert alias.latest == alias.history[-1]["to"]
    # Every promotion saw the one before it: the history is a chain, in order.
    assert [e["from"] for e in alias.history[1:]] == [e["to"] for e in alias.history[:-1]]


RACER = """
import sys
from btf.store import open_store, registry
store = open_store(sys.argv[1])
registry.promote(store, int(sys.argv[2]), why="process racer", by="p" + sys.argv[2])
"""


def test_racing_promoter_processes_on_the_folder_store(tmp_path):
    folder = str(tmp_path / "models")
    publish(open_store(folder), 8)
    procs = [
        subprocess.Popen([sys.executable, "-c", RACER, folder, str(v)], cwd=ROOT)  # noqa: S603
        for v in range(1, 9)
    ]
    assert all(p.wait(120) == 0 for p in procs)
    alias = registry.read_alias(open_store(folder))
    assert sorted(e["to"] for e in alias.history) == list(range(1, 9))
    assert [e["from"] for e in alias.history[1:]] == [e["to"] for e in alias.history[:-1]]


BROKEN_ALIASES = {
    "bad json": b'{"latest": ',
    "not a version": b'{"latest": "four"}',
    "a bool": b'{"latest": true, "history": []}',
    "history not a list": b'{"latest": 1, "history": 7}',
    "oversized": b'{"latest": 1, "pad": "' + b"x" * (2 << 20) + b'"}',
}


@pytest.mark.parametrize("content", BROKEN_ALIASES.values(), ids=BROKEN_ALIASES.keys())
def test_a_broken_alias_means_the_highest_version_and_a_promotion_replaces_it(store, content):
    publish(store, 3)
    store.put_object(registry.ALIAS, content)
    alias = registry.read_alias(store)
    assert alias.latest is None and alias.problem and registry.latest_version(store) == 3
    before, _ = registry.promote(store, 2, why="repair")
    assert before == 3 and registry.latest_version(store) == 2 and registry.read_alias(store).problem is None


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_an_alias_that_is_no_regular_file_is_reported_not_ignored(tmp_path, kind):
    import os

    store = open_store(str(tmp_path))
    publish(store, 2)
    (tmp_path / registry.ALIAS).mkdir() if kind == "folder" else os.mkfifo(tmp_path / registry.ALIAS)
    alias = registry.read_alias(store)
    assert alias.latest is None and ("regular file" in alias.problem or "folder" in alias.problem)
    assert registry.latest_version(store) == 2
    with pytest.raises(StoreError, match="remove it by hand"):
        registry.promote(store, 1, why="x")


def test_the_first_promotion_replaces_nothing_and_cannot_be_rolled_back(store):
    publish(store, 1)
    before, _ = registry.promote(store, 1, why="first")
    assert before is None and registry.read_alias(store).history[0]["from"] is None
    with pytest.raises(StoreError, match="nothing to roll back to"):
        registry.rollback(store, why="x")
    assert len(registry.read_alias(store).history) == 1


def test_rollback_walks_back_through_the_promotions(store):
    for v in (1, 2, 3):  # the trainer's way: publish, then promote
        publish(store, 1)
        registry.promote(store, v, why="up")
    assert registry.rollback(store, why="r")[0] == 3 and registry.latest_version(store) == 2
    assert registry.rollback(store, why="r")[0] == 2 and registry.latest_version(store) == 1
    with pytest.raises(StoreError, match="nothing to roll back to"):
        registry.rollback(store, why="r")
    registry.promote(store, 3, why="again")
    assert registry.rollback(store, why="r")[1].latest == 1


def test_rollback_skips_deleted_versions(store):
    publish(store, 3)
    for v in (1, 2, 3):
        registry.promote(store, v, why="up")
    registry.delete(store, 2)
    assert registry.rollback(store, why="r")[1].latest == 1


def test_racing_rollbacks_each_step_back_once(store):
    publish(store, 4)
    for v in (1, 2, 3, 4):
        registry.promote(store, v, why="up")
    results = []
    threads = [threading.Thread(target=lambda: results.append(registry.rollback(store, why="r"))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted((before, alias.latest) for before, alias in results) == [(3, 2), (4, 3)]
    assert registry.latest_version(store) == 2


def test_history_served_from_the_alias_is_bounded_and_typed(store):
    publish(store, 2)
    entries = [{"from": 1, "to": 2, "why": "w" * 100_000, "by": ["x"], "extra": "y" * 1000}, "junk"]
    store.put_object(registry.ALIAS, json.dumps({"latest": 2, "history": entries}).encode())
    (entry,) = registry.read_alias(store).history
    assert entry["to"] == 2 and len(entry["why"]) <= registry.MAX_TEXT and "by" not in entry and "extra" not in entry


def test_sidecars_are_written_once_and_read_back(store):
    publish(store, 1)
    registry.write_sidecar(store, 1, {"test_accuracy": 0.9})
    assert registry.read_sidecar(store, 1) == {"test_accuracy": 0.9}
    with pytest.raises(Conflict):
        registry.write_sidecar(store, 1, {"test_accuracy": 0.1})
    assert registry.read_sidecar(store, 2) is None


def test_a_new_folder_store_is_seeded_from_the_shipped_models(tmp_path):
    shipped = tmp_path / "shipped"
    publish(open_store(str(shipped)), 2)
    registry.promote(open_store(str(shipped)), 1, why="ship v1")
    default = tmp_path / ".models"
    seeded = open_store(str(default), seed_from=str(shipped))
    assert sorted(seeded.versions()) == [1, 2] and registry.latest_version(seeded) == 1
    seeded.publish(b"mine")
    assert sorted(open_store(str(shipped)).versions()) == [1, 2]  # the shipped folder is untouched
    assert json.loads((shipped / "latest.json").read_text())["latest"] == 1


def test_a_listing_past_the_object_limit_is_refused(store, monkeypatch):
    from btf import store as store_module
    from btf.store import StoreUnavailable

    publish(store, 3)
    monkeypatch.setattr(store_module, "MAX_LISTED_OBJECTS", 2)
    with pytest.raises(StoreUnavailable, match="over 2"):
        store.list_objects()
