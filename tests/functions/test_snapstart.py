"""SnapStart hooks: the snapshot holds the latest model; a restore revalidates it without downloading again."""

import sys
import types

from btf.store import open_store
from functions.predict import snapstart
from functions.predict.cache import ModelCache
from tests.functions.conftest import Clock
from tests.support.models import tiny_model


def test_before_snapshot_loads_latest_and_after_restore_revalidates(tmp_path):
    store = open_store(str(tmp_path))
    store.publish(tiny_model(1))
    opened, reads = [], []

    def open_counting():
        s = open_store(str(tmp_path))
        real = s.read

        def read(version, etag=None):
            blob = real(version, etag)
            reads.append("download" if blob else "not-modified")
            return blob

        s.read = read
        opened.append(s)
        return s

    cache = ModelCache(open_counting, ttl=3600, clock=Clock())
    snapstart.before_snapshot(cache)
    assert cache.cached_versions() == [1] and reads == ["download"]
    snapstart.after_restore(cache)
    assert cache.latest().version == 1
    assert reads == ["download", "not-modified"]  # revalidated by etag, not downloaded again
    assert len(opened) == 2  # a fresh store client after the restore


def test_before_snapshot_without_models_does_not_fail(tmp_path):
    cache = ModelCache(lambda: open_store(str(tmp_path)), ttl=60)
    snapstart.before_snapshot(cache)
    assert cache.cached_versions() == []


def test_register_uses_the_runtime_module_when_present(monkeypatch):
    calls = []
    fake = types.ModuleType("snapshot_restore_py")
    fake.register_before_snapshot = lambda fn, *args: calls.append(("before", fn, args))
    fake.register_after_restore = lambda fn, *args: calls.append(("after", fn, args))
    cache = ModelCache(lambda: None)
    assert snapstart.register(cache) is False
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake)
    assert snapstart.register(cache) is True
    assert calls == [("before", snapstart.before_snapshot, (cache,)), ("after", snapstart.after_restore, (cache,))]
