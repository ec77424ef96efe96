"""Fixtures for the predict function: apps built through create_app, each on a store of the test's own with a fresh cache."""

import pytest

from btf.store import open_store
from tests.support.api import Api
from tests.support.handler import ROOT
from tests.support.models import tiny_model


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_api(clock):
    """``make_api(uri, ttl=60, cache={...}, **settings)``: a fresh app on the store at ``uri``, its cache on ``clock``."""

    def make(uri, ttl=60.0, cache=None, **settings):
        return Api.build(uri, latest_ttl=ttl, cache={"clock": clock, **(cache or {})}, **settings)

    return make


@pytest.fixture
def folder_store(tmp_path):
    """A folder store holding two tiny models, v1 and v2 (no alias: latest is v2)."""
    folder = tmp_path / "models"
    folder.mkdir()
    for seed in (1, 2):
        open_store(str(folder)).publish(tiny_model(seed))
    return folder


@pytest.fixture
def api(folder_store, make_api):
    """The app serving ``folder_store``."""
    return make_api(str(folder_store))


@pytest.fixture
def shipped(make_api):
    """The app serving the shipped, trained models (read only), so answers mean something."""
    return make_api(str(ROOT / "models"))


@pytest.fixture
def client(api):
    return api.client
