"""scripts.models on the folder store and moto S3: list, show, promote, rollback, delete, and one-line errors."""

import pytest

from btf.store import open_store, registry
from scripts import models
from tests.support.models import tiny_model


@pytest.fixture
def uri(store_uri):
    uri = store_uri
    store = open_store(uri)
    for seed in (1, 2, 3):
        store.publish(tiny_model(seed, test_accuracy=seed / 10))
    return uri


def cli(capsys, uri, *args):
    code = models.main(["--store", uri, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_marks_latest_and_shows_the_columns(capsys, uri):
    code, out, _ = cli(capsys, uri, "list")
    lines = out.splitlines()
    assert code == 0 and "test acc" in lines[0] and "created" in lines[0]
    assert lines[1].startswith("*") and " 3 " in lines[1] and "784-16-10" in lines[1] and "30.00%" in lines[1]
    assert "no alias yet" in lines[-1]


def test_promote_rollback_and_delete_refused(capsys, uri):
    assert cli(capsys, uri, "promote", "1", "--why", "test")[1].strip() == "promoted v1: latest was v3, is now v1"
    assert cli(capsys, uri, "promote", "2")[0] == 0
    code, out, _ = cli(capsys, uri, "rollback")
    assert code == 0 and out.strip() == "rolled back: latest was v2, is now v1"
    code, _, err = cli(capsys, uri, "delete", "1")
    assert code == 1 and "promoted" in err and err.count("\n") == 1
    assert cli(capsys, uri, "delete", "2")[0] == 0
    assert sorted(open_store(uri).versions()) == [1, 3]
    history = registry.read_alias(open_store(uri)).history
    assert [(e["from"], e["to"]) for e in history] == [(3, 1), (1, 2), (2, 1)] and history[0]["why"] == "test"


def test_show_prints_metadata_and_the_report_location(capsys, uri):
    code, out, _ = cli(capsys, uri, "show", "2")
    assert code == 0 and '"test_accuracy": 0.2' in out and "report:" in out.splitlines()[-1]


@pytest.mark.parametrize(
    "args,message",
    [(["promote", "9"], "does not exist"), (["rollback"], "nothing to roll back"), (["delete", "9"], "does not exist")],
)
def test_errors_are_one_line_and_non_zero(capsys, uri, args, message):
    code, _, err = cli(capsys, uri, *args)
    assert code == 1 and message in err and err.count("\n") == 1


@pytest.mark.parametrize("args", [["promote", "x"], ["promote", "9" * 5000], ["frobnicate"], []])
def test_usage_errors_are_one_line_and_exit_2(capsys, args, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        models.main(["--store", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err
