"""Fixtures for the predict function: a fresh model cache per test, on a folder or a moto S3 store."""

import dataclasses

import pytest

from btf.store import open_store
from functions.predict import app as app_module
from functions.predict.catalogue import Catalogue
from functions.predict.models import ModelCache
from tests.support.handler import invoke  # noqa: F401 - re-exported for older imports
from tests.support.images import canvas_png  # noqa: F401
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
def use_store(monkeypatch, clock):
    """Point the app at a store URI with a fresh cache; returns the cache."""

    def use(uri, ttl=60.0, **settings):
        new_settings = dataclasses.replace(app_module.settings, model_store=uri, latest_ttl=ttl, **settings)
        monkeypatch.setattr(app_module, "settings", new_settings)
        cache = ModelCache(lambda: open_store(uri, timeout=1.0), ttl=ttl, clock=clock)
        monkeypatch.setattr(app_module, "cache", cache)
        monkeypatch.setattr(app_module, "catalogue", Catalogue(cache))
        return cache

    return use


@pytest.fixture
def folder_store(tmp_path, use_store):
    folder = tmp_path / "models"
    folder.mkdir()
    for seed in (1, 2):
        open_store(str(folder)).publish(tiny_model(seed))
    use_store(str(folder))
    return folder


@pytest.fixture
def client(folder_store):
    from fastapi.testclient import TestClient

    return TestClient(app_module.app)
