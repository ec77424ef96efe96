"""Shared fixtures: small synthetic digit data, so unit tests need no data set on disk."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings as hypothesis_settings

# CI replays the same examples every run, so a submission passes or fails on its code, not
# on the draw; local runs keep exploring new examples.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture
def idx(tmp_path):
    """A tiny learnable digit set in IDX files (class k has a bright bar in row band k)."""
    from tests.support.idx import learnable_digits

    return learnable_digits(tmp_path / "idx")


@pytest.fixture
def blobs():
    """A learnable 3-class problem: 12 features, classes separated by their mean."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    X = rng.random((600, 12), dtype=np.float32) * 0.5
    X[np.arange(600), y * 4] += 0.5
    return (X[:450], y[:450]), (X[450:], y[450:])


@pytest.fixture(scope="session", autouse=True)
def atomic_conditional_puts():
    """Make moto's conditional PUT (and GET) atomic, as S3's are.

    moto checks If-None-Match and then stores the object in two steps, so two threads can
    both pass the check and one silently overwrites the other: a race real S3 does not
    have (it answers 412, or 409 while a conflicting write is in flight). A lock around the
    whole PUT restores S3's guarantee for the in-process mock and ThreadedMotoServer alike.
    """
    import threading

    from moto.s3.responses import S3Response

    lock = threading.RLock()
    real_put, real_get = S3Response.put_object, S3Response.get_object

    def put_object(self, *args, **kwargs):
        with lock:
            return real_put(self, *args, **kwargs)

    # Reads under the same lock: moto replaces a key's value in steps, and a racing reader can
    # see it half-written (S3 never shows a half-written object).
    def get_object(self, *args, **kwargs):
        with lock:
            return real_get(self, *args, **kwargs)

    S3Response.put_object, S3Response.get_object = put_object, get_object
    yield
    S3Response.put_object, S3Response.get_object = real_put, real_get


@pytest.fixture
def aws_env(monkeypatch):
    """Fake credentials and a region, so nothing can ever reach real AWS."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("MODEL_STORE", raising=False)


@pytest.fixture
def s3(aws_env):
    """A moto S3 with an empty bucket 'btf-models'; yields the boto3 client."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="btf-models")
        yield client


@pytest.fixture(params=["folder", "s3"])
def store_uri(request, tmp_path):
    """An empty store, once as a folder and once as a moto S3 prefix: registry behaviour must not differ."""
    if request.param == "folder":
        return str(tmp_path / "models")
    request.getfixturevalue("s3")
    return f"s3://btf-models/{request.node.name.split('[')[0][:40]}/"


def bucket_listing(client, bucket="btf-models"):
    """{key: etag} for everything in the bucket."""
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}
