"""Fixtures for the predict function: a fresh model cache per test, on a folder or a moto S3 store."""

import dataclasses
import json

import numpy as np
import pytest

import btf
from btf.store import open_store
from functions.predict import app as app_module
from functions.predict.catalogue import Catalogue
from functions.predict.models import ModelCache
from scripts.events import LambdaContext


def tiny_model(seed=0, **meta) -> bytes:
    net = btf.Graph((784, 16, 10), cost="cross_entropy", seed=seed)
    return net.to_bytes({"test_accuracy": 0.5, "created": "2026-11-27T00:00:00+00:00", **meta})


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


def invoke(event):
    """Call the Lambda handler exactly as Lambda does; returns (status, headers, parsed body)."""
    response = app_module.handler(event, LambdaContext())
    body = response.get("body", "")
    if response.get("isBase64Encoded"):
        import base64

        body = base64.b64decode(body).decode()
    ctype = response.get("headers", {}).get("content-type", "")
    return response["statusCode"], response.get("headers", {}), json.loads(body) if "json" in ctype else body


def canvas_png(digit="7") -> bytes:
    """A canvas toDataURL()-style PNG: black ink on transparent, 280x280."""
    import cv2

    img = np.zeros((280, 280, 4), np.uint8)
    if digit == "7":
        cv2.line(img, (70, 60), (210, 60), (0, 0, 0, 255), 20, cv2.LINE_AA)
        cv2.line(img, (210, 60), (120, 230), (0, 0, 0, 255), 20, cv2.LINE_AA)
    else:
        cv2.line(img, (140, 40), (140, 240), (0, 0, 0, 255), 20, cv2.LINE_AA)
    ok, buf = cv2.imencode(".png", img)
    return buf.tobytes()
