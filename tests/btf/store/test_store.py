"""Model stores (folder and moto S3): version numbering, no overwrites, races, revalidation, failures."""

import threading

import pytest
from botocore.exceptions import ClientError

from btf.store import StoreError, StoreUnavailable, VersionNotFound, key_for, open_store, parse_version
from btf.store.s3 import S3Store
from tests.conftest import bucket_listing


@pytest.fixture(params=["folder", "s3"])
def store(request, tmp_path):
    if request.param == "folder":
        return open_store(str(tmp_path / "models"))
    request.getfixturevalue("s3")
    return open_store("s3://btf-models/prod/models")


def _seed(store, version, data=b"old"):
    """Put a version in place directly, bypassing publish (as if an older trainer wrote it)."""
    if isinstance(store, S3Store):
        store.client.put_object(Bucket=store.bucket, Key=store.prefix + key_for(version), Body=data)
    else:
        store.folder.mkdir(parents=True, exist_ok=True)
        (store.folder / key_for(version)).write_bytes(data)


def test_names():
    assert parse_version("model-v12.npz") == 12
    for bad in ("model-v0.npz", "model-v01.npz", "model-v1.npz.tmp", ".model-v1.npz", "model-vx.npz", "model-v-1.npz"):
        assert parse_version(bad) is None


def test_publish_numbers_from_one(store):
    assert store.versions() == {}
    assert store.publish(b"one") == 1
    assert store.publish(b"two") == 2
    assert store.read(2).data == b"two"
    assert sorted(store.versions()) == [1, 2]


def test_next_after_seven_is_eight_and_ten_after_nine(store):
    _seed(store, 7)
    assert store.publish(b"x") == 8
    _seed(store, 9)
    assert store.publish(b"y") == 10
    assert store.publish(b"z") == 11  # numeric, not string, order: v10 > v9
    assert store.read(7).data == b"old"


def test_taken_number_is_skipped_never_overwritten(store, monkeypatch):
    _seed(store, 1, b"theirs")
    monkeypatch.setattr(type(store), "versions", lambda self: {})  # a stale listing: thinks v1 is free
    assert store.publish(b"mine") == 2
    monkeypatch.undo()
    assert store.read(1).data == b"theirs" and store.read(2).data == b"mine"


def test_concurrent_publishers_get_distinct_versions(store):
    results, errors = [], []

    def publish(i):
        try:
            results.append((store.publish(f"model {i}".encode()), i))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(v for v, _ in results) == [1, 2, 3, 4]
    for version, i in results:
        assert store.read(version).data == f"model {i}".encode()


def test_read_revalidates_by_etag(store):
    store.publish(b"abc")
    blob = store.read(1)
    assert store.read(1, blob.etag) is None
    assert store.versions()[1] == blob.etag


def test_unknown_version(store):
    with pytest.raises(VersionNotFound):
        store.read(3)


def test_unsupported_uri():
    with pytest.raises(StoreError, match="unsupported"):
        open_store("ftp://x/y")
    with pytest.raises(StoreError, match="no bucket"):
        open_store("s3:///models")


def test_folder_store_leaves_no_temp_files(tmp_path):
    store = open_store(str(tmp_path))
    store.publish(b"a")
    assert [p.name for p in tmp_path.iterdir()] == ["model-v1.npz"]


def test_folder_store_unwritable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreUnavailable, match="cannot write"):
        open_store(str(blocker / "models")).publish(b"a")


# ------------------------------------------------------------ S3 failures
def test_missing_bucket(s3):
    with pytest.raises(StoreUnavailable, match="does not exist"):
        open_store("s3://no-such-bucket/models/").versions()


def _denying_client(client, operation):
    real = getattr(client, operation)

    def deny(**kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, operation)

    return real, deny


@pytest.mark.parametrize("operation", ["put_object", "list_objects_v2", "get_object"])
def test_access_denied_leaves_bucket_as_it_was(s3, monkeypatch, operation):
    store = open_store("s3://btf-models/models/")
    store.publish(b"v1")
    before = bucket_listing(s3)
    _, deny = _denying_client(store.client, operation)
    monkeypatch.setattr(store.client, operation, deny)
    with pytest.raises(StoreUnavailable, match="access denied"):
        store.publish(b"v2") if operation != "get_object" else store.read(1)
    assert bucket_listing(s3) == before


def test_throttling_is_explained(s3, monkeypatch):
    store = open_store("s3://btf-models/models/")

    def slow_down(**kwargs):
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Reduce your request rate"}}, "GetObject")

    monkeypatch.setattr(store.client, "get_object", slow_down)
    with pytest.raises(StoreUnavailable, match="throttling"):
        store.read(1)


def test_no_credentials(aws_env, monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = open_store("s3://btf-models/models/", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(StoreUnavailable, match="no AWS credentials"):
        store.versions()


@pytest.mark.parametrize("backoff", [None, 0.0, 5.0], ids=["botocore's", "none", "past-the-deadline"])
def test_unreachable_endpoint(aws_env, monkeypatch, backoff):
    """A refusing endpoint is "cannot reach" whether the retries end first or the deadline does."""
    if backoff is not None:
        from botocore.retries.standard import ExponentialBackoff

        monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: backoff)
    store = open_store("s3://btf-models/models/", endpoint_url="http://127.0.0.1:9", timeout=0.5)
    with pytest.raises(StoreUnavailable, match="cannot reach"):
        store.versions()


def test_unknown_profile(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "does-not-exist")
    with pytest.raises(StoreUnavailable, match="cannot set up S3"):
        open_store("s3://btf-models/models/")
