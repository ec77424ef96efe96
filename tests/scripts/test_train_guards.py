"""The trainer never publishes a broken or invisible version, and every argument error is one line and exit 2."""

import numpy as np
import pytest

import btf
from btf import footprint
from btf import store as store_module
from scripts import train, train_options
from tests.scripts.test_train import run

# Diverging runs overflow on purpose; numpy's warnings about it are expected here.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.mark.parametrize(
    "args,message",
    [
        (["--epochs", "0"], "--epochs"),
        (["--epochs", "-5"], "--epochs"),
        (["--seed", "-1"], "--seed"),
        (["--limit", "0"], "--limit"),
        (["--limit", "-5"], "--limit"),
        (["--sizes", "784,0,10"], "--sizes"),
        (["--sizes", "784,99999999999,10"], "--sizes"),
        (["--sizes", "784,50000,50000,10"], "weights"),
        (["--sizes", "x"], "--sizes"),
        (["--learning-rate", "nan"], "--learning-rate"),
        (["--learning-rate", "0"], "--learning-rate"),
        (["--learning-rate", "1e38"], "--learning-rate"),
        (["--l2", "1e30"], "--l2"),
        (["--l2", "-1"], "--l2"),
        (["--learning-rate", "3", "--l2", "0.5"], "--learning-rate x --l2 must be below 1"),
        (["--batch-size", "0"], "--batch-size"),
        (["--val-fraction", "1"], "--val-fraction"),
        (["--cost", "hinge"], "--cost"),
        # Architectures the function would refuse to load (btf.footprint), refused before any data is read.
        (["--sizes", "784,80000,10"], "63,600,010 parameters"),
        (["--layers", "conv256:1:same,conv1:15:same,flatten,dense10"], "working memory per image"),
        (["--layers", ",".join(["conv64:15:same"] * 6) + ",dense10"], "working memory per image"),
        (["--layers", "conv99999:1,pool16,dense10"], "working memory per image"),
        (["--layers", "conv64:3:same,conv64:3:same,dense10"], "multiply-adds"),
        (["--layers", "dense128,dropout0.5"], "last layer must be Dense"),
        (["--layers", "conv8:3,dense10,conv8:3"], "--layers"),
    ],
)
def test_argument_errors_are_one_line_and_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        train.main(["--data", "x", *args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err
    assert err.count("\n") == 1 and "Traceback" not in err and "usage:" not in err


@pytest.mark.parametrize("poison", [np.nan, np.inf], ids=["nan", "inf"])
def test_a_diverged_run_publishes_nothing(poison, idx, tmp_path, capsys, monkeypatch):
    # Options that diverge are refused up front (learning rate and decay have bounds), so the run
    # is made to diverge: after its last epoch, a weight is NaN or infinite.
    real_run = btf.Graph.run

    def diverging_run(self, *args, **kwargs):
        history = real_run(self, *args, **kwargs)
        self.params[0][0, 0] = poison
        return history

    monkeypatch.setattr(btf.Graph, "run", diverging_run)
    store = tmp_path / "m"
    code, out, err = run(capsys, "--data", str(idx), "--store", str(store), "--epochs", "2")
    assert code == 2 and "cannot serve" in err and "nothing was published" in err, err
    assert "training diverged" in err and err.count("\n") == 1
    assert not list(store.glob("model-v*.npz"))


def test_a_misfitting_model_publishes_nothing(idx, tmp_path, capsys):
    store = tmp_path / "m"
    with pytest.raises(SystemExit) as exit_info:  # refused with the arguments, before any training
        run(capsys, "--data", str(idx), "--store", str(store), "--epochs", "1", "--sizes", "784,16,12")
    assert exit_info.value.code == 2 and "12 outputs" in capsys.readouterr().err
    assert not list(store.glob("model-v*.npz"))


def test_a_store_that_is_a_file_fails_before_training(idx, tmp_path, capsys):
    store = tmp_path / "file"
    store.write_text("not a folder")
    code, out, err = run(capsys, "--data", str(idx), "--store", str(store), "--epochs", "1")
    assert code == 2 and "not a folder" in err and "training" not in out


def test_the_top_of_the_version_range_is_refused(idx, tmp_path, capsys):
    store = tmp_path / "m"
    store.mkdir()
    (store / f"model-v{store_module.MAX_VERSION}.npz").write_bytes(b"x")
    code, _, err = run(capsys, "--data", str(idx), "--store", str(store), "--epochs", "1")
    assert code == 2 and "last one a store can hold" in err
    assert sorted(p.name for p in store.glob("model-v*.npz")) == [f"model-v{store_module.MAX_VERSION}.npz"]


def test_a_report_failure_after_publishing_says_published(idx, tmp_path, capsys, monkeypatch):
    def broken(src, dest):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(train, "_move_report", broken)
    store = tmp_path / "m"
    code, out, err = run(capsys, "--data", str(idx), "--store", str(store), "--epochs", "1")
    assert code == 0 and "published model-v1.npz" in out
    assert "published v1; report failed" in err
    assert [p.name for p in store.glob("model-v*.npz")] == ["model-v1.npz"]


def test_the_endpoint_comes_from_botocores_own_variable(idx, s3, tmp_path, capsys, monkeypatch):
    # moto intercepts whatever endpoint botocore resolves, so check what the client was built with.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    code, _, err = run(capsys, "--data", str(idx), "--store", "s3://btf-models/m/", "--epochs", "1")
    assert code == 2 and "127.0.0.1:9" in err


def test_a_model_over_the_limits_is_never_published(idx, tmp_path, capsys, monkeypatch):
    # An architecture that passed the argument check (here: limits lowered after it) is still
    # refused before the upload, by the loader the function uses, with one line and exit 2.
    monkeypatch.setattr(train_options, "_within_limits", lambda text, cost: None)
    monkeypatch.setattr(footprint, "LIMITS", footprint.Limits(parameters=1000))
    store = tmp_path / "m"
    code, out, err = run(capsys, "--data", str(idx), "--store", str(store), "--epochs", "1")
    assert code == 2 and "cannot serve" in err and "the limit is 1,000" in err and "nothing was published" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not list(store.glob("model-v*.npz"))
