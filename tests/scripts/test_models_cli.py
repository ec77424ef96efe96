"""scripts.models on the folder store and moto S3: list, show, promote, rollback, delete, and one-line errors."""

import sys

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


def test_list_lines_up_architectures_of_any_length(capsys, uri):
    import btf
    from btf.specs import parse_layers

    long = "conv4:3,bn,pool2,conv4:3,bn,pool2,dense8,bn,dropout0.3,dense11"  # wider than the old fixed column
    graph = btf.Graph(parse_layers(long), cost="cross_entropy", seed=0)
    open_store(uri).publish(graph.to_bytes({"test_accuracy": 0.5}))
    code, out, _ = cli(capsys, uri, "list")
    header, *rows = [line for line in out.splitlines() if "%" in line or "test acc" in line]
    column = header.index("test acc")
    assert code == 0 and len(rows) == 4 and any("dense8" in row for row in rows)
    assert all(row[column : column + 8].strip().endswith("%") for row in rows)  # every accuracy under its title


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


def test_store_options_go_on_either_side_of_the_command(capsys, uri):
    assert models.main(["list", "--store", uri]) == 0 and " 3 " in capsys.readouterr().out
    assert models.main(["--store", "/nonexistent-first", "list", "--store", uri]) == 0  # the later one wins
    assert " 3 " in capsys.readouterr().out


def test_the_first_promotion_replaces_nothing_and_rollback_then_fails(capsys, tmp_path):
    folder = str(tmp_path / "store")
    open_store(folder).publish(tiny_model(1))
    assert cli(capsys, folder, "promote", "1")[1].strip() == "promoted v1: latest was not set, is now v1"
    code, out, err = cli(capsys, folder, "rollback")
    assert code == 1 and out == "" and "nothing to roll back to" in err and err.count("\n") == 1
    assert [(e["from"], e["to"]) for e in registry.read_alias(open_store(folder)).history] == [(None, 1)]


def test_a_missing_version_is_one_message_whatever_the_command(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    open_store("store").publish(tiny_model(1))
    errors = {cmd: cli(capsys, "store", cmd, "99")[2].strip() for cmd in ("show", "promote", "delete")}
    assert set(errors.values()) == {"error: model version 99 does not exist in store"}, errors


def test_a_deleted_version_takes_its_report_and_a_reused_number_never_shows_it(capsys, tmp_path):
    folder = tmp_path / "store"
    store = open_store(str(folder))
    for seed in (1, 2):
        store.publish(tiny_model(seed))
    registry.promote(store, 1, why="x")
    old = folder / "reports" / "model-v2"
    old.mkdir(parents=True)
    (old / "metrics.json").write_text('{"created": "then"}')
    assert cli(capsys, str(folder), "delete", "2")[0] == 0 and not old.exists()
    old.mkdir(parents=True)  # a stale report that outlived its model some other way
    (old / "metrics.json").write_text('{"created": "then"}')
    assert store.publish(tiny_model(5)) == 2
    assert cli(capsys, str(folder), "show", "2")[1].splitlines()[-1] == "report: none on this machine"


def test_listing_survives_tampered_sidecars_and_a_broken_alias(capsys, uri):
    store = open_store(uri)
    store.put_object("model-v3.json", b'{"layers": [5, {"a": 1}], "sizes": ["x"], "created": "' + b"c" * 5000 + b'"}')
    store.put_object(registry.ALIAS, b"{not json")
    code, out, err = cli(capsys, uri, "list")
    assert code == 0 and "Traceback" not in err and "cannot be used" in out.splitlines()[-1]
    assert max(len(line) for line in out.splitlines()) < 400
    assert cli(capsys, uri, "promote", "2")[0] == 0 and registry.latest_version(store) == 2


def test_export_writes_onnx_that_answers_as_the_stored_model(capsys, uri, tmp_path):
    import numpy as np
    import onnx
    import onnxruntime as ort

    import btf
    from btf import digits

    out_path = tmp_path / "v2.onnx"
    code, out, _ = cli(capsys, uri, "export", "2", "--onnx", str(out_path))
    assert code == 0 and out.startswith("exported v2 to ") and "opset 17" in out
    graph = btf.Graph.load(open_store(uri).read(2).data)
    X = np.random.default_rng(0).random((50, 784), dtype=np.float32)
    session = ort.InferenceSession(str(out_path), providers=["CPUExecutionProvider"])
    assert np.abs(session.run(None, {"input": X})[0] - graph.predict(X)[1]).max() <= 1e-4
    props = {p.key: p.value for p in onnx.load(str(out_path)).metadata_props}
    decision = digits.rule(graph)  # the reading /predict applies, for runtimes that read the file
    assert float(props["btf_not_digit_temperature"]) == decision.temperature
    assert float(props["btf_not_digit_threshold"]) == decision.threshold
    assert props["btf_outputs"].startswith("digits 0-9")
    # The store options go after the command too, as for the others.
    assert models.main(["export", "1", "--store", uri, "--onnx", str(tmp_path / "v1.onnx")]) == 0


def test_export_errors_are_one_line_and_write_nothing(capsys, uri, tmp_path, monkeypatch):
    tmp_path = tmp_path / "out"  # beside the folder store, not in it
    tmp_path.mkdir()
    kept = tmp_path / "kept.onnx"
    kept.write_bytes(b"mine")
    cases = {
        ("9", str(tmp_path / "x.onnx")): "model version 9 does not exist",
        ("1", str(kept)): "exists; pass --force",
        ("1", str(tmp_path / "missing" / "x.onnx")): "cannot write",
        ("1", str(tmp_path)): "is a folder",
    }
    for (version, path), message in cases.items():
        code, out, err = cli(capsys, uri, "export", version, "--onnx", path)
        assert code == 1 and out == "" and message in err and err.count("\n") == 1, (path, err)
    assert kept.read_bytes() == b"mine" and sorted(p.name for p in tmp_path.iterdir()) == ["kept.onnx"]
    assert cli(capsys, uri, "export", "1", "--onnx", str(kept), "--force")[0] == 0 and kept.read_bytes() != b"mine"
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if btf[onnx] were not installed
    code, _, err = cli(capsys, uri, "export", "1", "--onnx", str(tmp_path / "y.onnx"))
    assert code == 1 and "pip install 'btf[onnx]'" in err and err.count("\n") == 1


def test_an_eleven_output_export_says_how_to_read_it_as_predict_does(capsys, uri, tmp_path):
    # docs/training.md's recipe, applied to onnxruntime's outputs, gives /predict's reading.
    import numpy as np
    import onnx
    import onnxruntime as ort

    import btf
    from btf import digits
    from btf.digits.calibration import soften
    from btf.images.vision import image_to_input
    from tests.conftest import ROOT
    from tests.support.images import canvas_png

    store = open_store(uri)
    version = store.publish((ROOT / "models" / "model-v7.npz").read_bytes())
    path = tmp_path / "v7.onnx"
    assert cli(capsys, uri, "export", str(version), "--onnx", str(path))[0] == 0
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props["btf_outputs"] == "digits 0-9, then not a digit"
    T, t = float(props["btf_not_digit_temperature"]), float(props["btf_not_digit_threshold"])
    noise = np.random.default_rng(0).random((4, 784), dtype=np.float32)
    X = np.vstack([image_to_input(canvas_png())[None], np.zeros((1, 784), np.float32), noise])
    p = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": X})[0]
    tempered = soften(p, T)
    confidences = tempered[:, :10] / tempered[:, :10].sum(axis=1, keepdims=True)
    reading = digits.read(btf.Graph.load(store.read(version).data), X)
    assert np.array_equal(confidences.argmax(axis=1), reading.labels) and reading.is_digit[0]
    assert np.allclose(tempered[:, 10], reading.not_digit, atol=1e-3)
    clear = np.abs(reading.not_digit - t) > 1e-3  # the same side of the threshold, away from it
    assert np.array_equal((tempered[:, 10] < t)[clear], reading.is_digit[clear])
