"""The trainer's gate: publishing is not promoting."""

from btf.store import open_store, registry
from tests.scripts.test_train import run
from tests.support.models import tiny_model


def train_args(idx, store, *extra):
    return (
        "--data",
        str(idx),
        "--store",
        store,
        "--report-dir",
        str(idx.parent / "reports"),  # never the checkout's own reports/
        "--epochs",
        "4",
        "--cost",
        "cross_entropy",
        "--learning-rate",
        "0.5",
        *extra,
    )


def test_the_first_model_of_an_empty_store_is_promoted(idx, store_uri, capsys):
    code, out, _ = run(capsys, *train_args(idx, store_uri))
    assert code == 0 and "the first model of an empty store -> promoted: latest is now v1" in out
    assert registry.latest_version(open_store(store_uri)) == 1
    assert registry.read_sidecar(open_store(store_uri), 1)["sizes"] == [784, 30, 10]


def test_a_weaker_candidate_is_published_not_promoted(idx, store_uri, capsys):
    assert run(capsys, *train_args(idx, store_uri))[0] == 0
    code, out, _ = run(capsys, *train_args(idx, store_uri, "--epochs", "1", "--learning-rate", "0.01"))
    store = open_store(store_uri)
    assert code == 0 and "published model-v2.npz" in out and "not promoted: latest stays v1" in out
    assert "vs latest v1" in out and "on the same 60 digits" in out
    assert sorted(store.versions()) == [1, 2] and registry.latest_version(store) == 1


def test_an_equal_or_better_candidate_is_promoted(idx, store_uri, capsys):
    assert run(capsys, *train_args(idx, store_uri))[0] == 0
    code, out, _ = run(capsys, *train_args(idx, store_uri))  # same seed: exactly as good
    assert code == 0 and "promoted: latest is now v2" in out
    assert registry.latest_version(open_store(store_uri)) == 2


def test_always_and_never(idx, store_uri, capsys):
    assert run(capsys, *train_args(idx, store_uri, "--promote", "never"))[1].count("not promoted") == 1
    store = open_store(store_uri)
    assert registry.read_alias(store).etag is None  # an empty store: nothing to pin, and nothing promoted
    weak = train_args(idx, store_uri, "--epochs", "1", "--learning-rate", "0.01", "--promote", "always")
    code, out, _ = run(capsys, *weak)
    assert code == 0 and "--promote always" in out and "latest is now v2" in out


def test_a_store_without_an_alias_keeps_serving_its_latest(idx, tmp_path, capsys):
    folder = str(tmp_path / "old")
    store = open_store(folder)
    store.publish(tiny_model(1))
    strong = train_args(idx, folder)
    assert run(capsys, *strong)[0] == 0  # beats the untrained tiny model: v2 promoted
    assert registry.latest_version(store) == 2
    code, out, _ = run(capsys, *train_args(idx, folder, "--epochs", "1", "--learning-rate", "0.01"))
    assert code == 0 and registry.latest_version(store) == 2 and sorted(store.versions()) == [1, 2, 3]


def test_publishing_unpromoted_into_a_store_without_an_alias_pins_the_current_latest(idx, tmp_path, capsys):
    folder = str(tmp_path / "old")
    store = open_store(folder)
    store.publish(tiny_model(1))
    code, out, _ = run(capsys, *train_args(idx, folder, "--promote", "never"))
    alias = registry.read_alias(store)
    assert code == 0 and sorted(store.versions()) == [1, 2]
    assert alias.latest == 1 and "pinned" in alias.history[0]["why"]  # not v2, the highest


def test_the_history_records_what_latest_was_before(idx, tmp_path, capsys):
    folder = str(tmp_path / "old")
    store = open_store(folder)
    store.publish(tiny_model(1))
    store.publish(tiny_model(2))  # no alias: v2 is latest
    assert run(capsys, *train_args(idx, folder))[0] == 0  # beats the untrained v2
    (entry,) = registry.read_alias(store).history
    assert (entry["from"], entry["to"]) == (2, 3)
    assert registry.read_alias(store).previous() == 2  # so a rollback goes back to v2
