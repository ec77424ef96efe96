"""scripts.train end to end on small synthetic IDX data: folder and moto S3 stores, reports, failures."""

import json
from pathlib import Path

import numpy as np
import pytest

import btf
from btf import data as btf_data
from btf.digits import printed
from scripts import train
from tests.conftest import bucket_listing


def run(capsys, *args):
    code = train.main([*args, "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def run_s3(capsys, idx, tmp_path):
    """One epoch, published to the moto bucket's models/ prefix, reports under tmp_path/r."""
    args = ("--data", str(idx), "--store", "s3://btf-models/models/", "--epochs", "1")
    return run(capsys, *args, "--report-dir", str(tmp_path / "r"))


def test_publishes_v1_then_v2_with_report_and_metadata(idx, tmp_path, capsys):
    store = tmp_path / "models"
    args = (
        "--data",
        str(idx),
        "--store",
        str(store),
        "--epochs",
        "3",
        "--cost",
        "cross_entropy",
        "--learning-rate",
        "0.5",
    )
    code, out, _ = run(capsys, *args)
    assert code == 0, out
    assert "published model-v1.npz" in out and "test accuracy" in out and "epoch   3" in out
    assert "for 3 epochs on" in out and "epochs=0" not in out  # the header says what it will do
    assert run(capsys, *args)[0] == 0
    assert sorted(p.name for p in store.glob("model-v*.npz")) == ["model-v1.npz", "model-v2.npz"]
    net = btf.Graph.load(store / "model-v2.npz")
    meta = net.metadata
    assert meta["test_accuracy"] > 0.5 and 0 <= meta["val_accuracy"] <= 1
    assert meta["data"]["sha256"] == btf_data.fingerprint(idx) and meta["data"]["train_size"] == 270
    assert meta["config"]["sizes"] == [784, 30, 10] and meta["config"]["seed"] == 0
    assert meta["btf_version"] == btf.__version__ and "created" in meta and "git_commit" in meta
    report = store / "reports" / "model-v2"
    assert {p.name for p in report.iterdir()} == {
        "learning_curves.png",
        "confusion_matrix.png",
        "reliability.png",
        "metrics.json",
    }
    metrics = json.loads((report / "metrics.json").read_text())
    assert len(metrics["history"]) == 3 and np.array(metrics["confusion_matrix"]).sum() == 60
    assert (report / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_store_from_environment(idx, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MODEL_STORE", str(tmp_path / "env-store"))
    assert run(capsys, "--data", str(idx), "--epochs", "1")[0] == 0
    assert (tmp_path / "env-store" / "model-v1.npz").exists()


def test_dry_run_publishes_nothing(idx, tmp_path, capsys):
    code, out, _ = run(
        capsys,
        "--data",
        str(idx),
        "--store",
        str(tmp_path / "m"),
        "--epochs",
        "1",
        "--dry-run",
        "--report-dir",
        str(tmp_path / "r"),
    )
    assert code == 0 and "nothing published" in out
    assert not (tmp_path / "m").exists()
    assert len(list((tmp_path / "r").iterdir())) == 1


def test_s3_publish_and_seven_then_eight(idx, s3, capsys, tmp_path):
    s3.put_object(Bucket="btf-models", Key="models/model-v7.npz", Body=b"older")
    code, out, _ = run_s3(capsys, idx, tmp_path)
    assert code == 0, out
    assert "published model-v8.npz to s3://btf-models/models/" in out
    body = s3.get_object(Bucket="btf-models", Key="models/model-v8.npz")["Body"].read()
    assert btf.Graph.load(body).metadata["config"]["epochs"] == 1
    assert s3.get_object(Bucket="btf-models", Key="models/model-v7.npz")["Body"].read() == b"older"
    assert (tmp_path / "r" / "model-v8" / "metrics.json").exists()


def _assert_failed_cleanly(code, err, message, store_state_before, store_state_after):
    assert code == 2
    assert message in err and "nothing was published" in err
    assert "Traceback" not in err
    assert store_state_after == store_state_before


def test_missing_and_corrupt_data(idx, tmp_path, capsys):
    store = tmp_path / "m"
    code, _, err = run(capsys, "--data", str(tmp_path / "absent"), "--store", str(store))
    _assert_failed_cleanly(code, err, "no such file", False, store.exists())
    assert "IDX files" in err and "--data mnist" in err and err.count("\n") == 1  # what it is, how to get it
    (idx / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08 truncated")
    code, _, err = run(capsys, "--data", str(idx), "--store", str(store))
    _assert_failed_cleanly(code, err, "corrupt or truncated gzip", False, store.exists())
    code, _, err = run(capsys, "--store", str(store))
    assert code == 2 and "pass --data" in err


def test_missing_bucket(idx, s3, capsys):
    code, _, err = run(capsys, "--data", str(idx), "--store", "s3://no-such-bucket/models/")
    _assert_failed_cleanly(code, err, "does not exist", {}, bucket_listing(s3))


def test_access_denied(idx, s3, capsys, monkeypatch, tmp_path):
    from botocore.exceptions import ClientError

    from btf.store.s3 import S3Store

    s3.put_object(Bucket="btf-models", Key="models/model-v1.npz", Body=b"keep")
    before = bucket_listing(s3)

    def deny(self, data):
        raise self._explain(ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject"))

    monkeypatch.setattr(S3Store, "publish", deny)
    code, _, err = run_s3(capsys, idx, tmp_path)
    _assert_failed_cleanly(code, err, "access denied", before, bucket_listing(s3))
    assert not (tmp_path / "r").exists()  # no report for an unpublished model


def test_no_credentials(idx, aws_env, capsys, monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = run(
        capsys, "--data", str(idx), "--store", "s3://btf-models/m/", "--endpoint-url", "http://127.0.0.1:9"
    )
    _assert_failed_cleanly(code, err, "no AWS credentials", None, None)


def test_unreachable_endpoint(idx, aws_env, capsys):
    code, _, err = run(
        capsys, "--data", str(idx), "--store", "s3://btf-models/m/", "--endpoint-url", "http://127.0.0.1:9"
    )
    _assert_failed_cleanly(code, err, "cannot reach", None, None)


def test_interrupted_training_publishes_nothing(idx, tmp_path, capsys, monkeypatch):
    store = tmp_path / "m"
    store.mkdir()

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(btf.Graph, "run", interrupted)
    code, _, err = run(capsys, "--data", str(idx), "--store", str(store))
    assert code == 130 and "interrupted: nothing was published" in err
    assert list(store.iterdir()) == []


def test_bad_sizes(idx, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        run(capsys, "--data", str(idx), "--store", str(tmp_path), "--sizes", "784,x,10")
    assert exit_.value.code == 2 and "--sizes" in capsys.readouterr().err
    code, _, err = run(capsys, "--data", str(idx), "--store", str(tmp_path), "--sizes", "100,10")
    assert code == 2 and "shape (n, 100)" in err


def test_data_mnist_uses_the_verified_download(idx, tmp_path, capsys, monkeypatch):
    import btf.download

    calls = []
    monkeypatch.setattr(btf.download, "download_mnist", lambda: calls.append(1) or idx)
    code, out, _ = run(capsys, "--data", "mnist", "--store", str(tmp_path / "m"), "--epochs", "1")
    assert code == 0 and calls == [1] and f"images from {idx}" in out


def test_weight_averaging_and_clean_final_epochs(idx, tmp_path, capsys):
    args = ("--data", str(idx), "--store", str(tmp_path / "m"), "--epochs", "4", "--augment", "--augment-epochs", "2")
    code, out, _ = run(capsys, *args, "--average-last", "2", "--cost", "cross_entropy", "--learning-rate", "0.5")
    assert code == 0 and "weights averaged over the last 2 epochs" in out
    meta = btf.Graph.load(tmp_path / "m" / "model-v1.npz").metadata
    assert meta["config"]["average_last"] == 2 and meta["config"]["augment_epochs"] == 2


def test_a_reused_version_number_reports_where_its_report_really_went(idx, tmp_path, capsys):
    from scripts import models

    store = tmp_path / "models"
    args = ("--data", str(idx), "--store", str(store), "--epochs", "1", "--promote", "never")
    assert run(capsys, *args)[0] == 0 and run(capsys, *args)[0] == 0
    stale = store / "reports" / "model-v2"
    assert models.main(["delete", "2", "--store", str(store)]) == 0 and not stale.exists()
    stale.mkdir(parents=True)  # left behind by hand: the next v2 must not claim it
    code, out, _ = run(capsys, *args)
    printed = out.splitlines()[-1].removeprefix("report: ")
    assert code == 0 and printed != str(stale) and (Path(printed) / "metrics.json").is_file()
    capsys.readouterr()
    assert models.main(["show", "2", "--store", str(store)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"report: {printed}"


def test_not_a_digit_is_trained_calibrated_and_scored_on_both_sides(idx, tmp_path, capsys):
    store = tmp_path / "models"
    layers = ("--layers", "conv4:3,bn,pool2,dense16,bn,dense11", "--optimizer", "adam", "--learning-rate", "0.01")
    args = ("--data", str(idx), "--store", str(store), "--epochs", "2", "--cost", "cross_entropy", *layers)
    fonts = bool(printed.fonts())  # --printed refuses to run without them (test_printed_digits_need_their_fonts)
    extra = ("--printed", "20") if fonts else ()
    kinds = ("--joined-kinds", "pair,neighbour,cut")
    code, out, _ = run(capsys, *args, "--not-digit", "60", "--joined", "40", *kinds, *extra, "--gate-negatives", "40")
    assert code == 0, out
    assert "touching pairs, fragments and digits with a neighbour's edge" in out
    assert ("printed 20 digits in TrueType fonts" in out) is fonts
    assert "generated 60 non-digits" in out and "held-out non-digits flagged" in out and "ECE" in out
    net = btf.Graph.load(store / "model-v1.npz")
    stored = net.metadata["not_digit"]
    assert net.sizes[-1] == 11 and 0.05 <= stored["temperature"] <= 20 and stored["threshold"] == 0.5
    assert 0 <= net.metadata["heldout_non_digits_flagged"] <= 1 and 0 <= net.metadata["test_ece"] <= 1
    assert net.metadata["config"]["not_digit"] == 60 and net.metadata["data"]["not_digit_train_size"] == 60
    assert net.metadata["config"]["joined"] == 40 and 0 < net.metadata["data"]["joined_train_size"] <= 40
    assert net.metadata["config"]["joined_kinds"] == ["pair", "neighbour", "cut"]
    assert net.metadata["config"]["printed"] == (20 if fonts else 0)
    assert not fonts or "DejaVuSans.ttf" in net.metadata["data"]["printed_fonts"]
    metrics = json.loads((store / "reports" / "model-v1" / "metrics.json").read_text())
    assert sum(b["count"] for b in metrics["reliability"]) == 60
    assert (store / "reports" / "model-v1" / "reliability.png").read_bytes()[:4] == b"\x89PNG"


def test_printed_digits_need_their_fonts(idx, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(printed, "fonts", lambda: [])
    with pytest.raises(SystemExit) as exit_info:
        run(capsys, "--data", str(idx), "--store", str(tmp_path / "m"), "--printed", "10")
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1
    assert "--printed prints digits in the DejaVu TrueType fonts, and none is installed" in err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    "extra, says",
    [
        (("--not-digit", "50"), "has 10 outputs; a digit model trained with --not-digit needs 11"),
        (("--sizes", "784,30,11"), "has 11 outputs; a digit model needs 10 outputs (--not-digit N for 11)"),
        (("--joined", "50"), "--joined trains pieces as 'not a digit': it needs --not-digit N"),
        (
            ("--joined-kinds", "pair,letter"),
            "'pair,letter': kinds are comma-separated, of cut, fragment, named_pair, neighbour, pair",
        ),
        (
            ("--sizes", "784,30,11", "--not-digit", "50", "--joined", "50", "--joined-kinds", "named_pair,cut"),
            "has 11 outputs; a digit model trained with --not-digit needs 111 outputs (10 digits, 'not a digit'",
        ),
        (
            ("--sizes", "784,30,111", "--not-digit", "50", "--joined", "50"),
            "has 111 outputs; a digit model trained with --not-digit needs 11 outputs",
        ),
    ],
)
def test_the_outputs_must_fit_not_a_digit(idx, tmp_path, capsys, extra, says):
    with pytest.raises(SystemExit) as exit_info:
        run(capsys, "--data", str(idx), "--store", str(tmp_path / "m"), *extra)
    _, err = capsys.readouterr()
    assert exit_info.value.code == 2 and says in err and not (tmp_path / "m").exists()
