"""The predict function as a test builds it: through create_app, on a store of the test's choosing.

``Api.build(uri, ...)`` makes a fresh app with its own settings (the environment's, with the
test's changes) and its own model cache, so no test touches the module-level app or another
test's cache. ``invoke`` calls it as Lambda does, ``client`` over ASGI.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from functions.predict.app import create_app, lambda_handler, model_cache
from functions.predict.cache import ModelCache
from functions.predict.config import Settings
from tests.support.handler import invoke


@dataclasses.dataclass
class Api:
    settings: Settings
    cache: ModelCache
    app: FastAPI
    handler: Callable[[object, object], dict]

    @classmethod
    def build(cls, uri: str, *, cache: dict[str, Any] | None = None, **settings: Any) -> Api:
        """An app serving the store at ``uri``; ``settings`` change Settings fields, ``cache`` ModelCache ones."""
        configured = dataclasses.replace(Settings.from_env(), model_store=uri, **settings)
        return cls.serving(configured, model_cache(configured, **(cache or {})))

    @classmethod
    def serving(cls, settings: Settings, cache: ModelCache) -> Api:
        app = create_app(settings, cache)
        return cls(settings, cache, app, lambda_handler(app))

    def invoke(self, event: dict) -> tuple[int, dict, Any]:
        """The handler's answer to an API Gateway event: (status, headers, parsed body)."""
        return invoke(event, self.handler)

    @functools.cached_property
    def client(self):
        from fastapi.testclient import TestClient

        return TestClient(self.app)
