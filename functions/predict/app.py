"""The predict function: ``create_app`` builds its FastAPI app; ``app`` and ``handler`` (Mangum) are what is served.

``create_app(settings, cache)`` wires one app from its settings (functions.predict.config)
and its model cache (functions.predict.cache): the use cases (functions.predict.service), the
routes (functions.predict.routes), the error handlers (functions.predict.errors) and the
access log. Tests and tools build apps of their own with it. The module-level ``app`` is
built from the environment at import, as uvicorn and Lambda need, and stays cheap to import:
no model is loaded and no store is called until the first request that needs one (ASGI
lifespan is off under Mangum, so nothing relies on start-up events). Under SnapStart the
latest model is loaded before the snapshot instead (functions.predict.snapstart).

Stateless: models come from the store named by MODEL_STORE (S3 in production, a local folder
seeded from the repo's models/ by default) and stay in the cache across warm invocations.
The Lambda ``handler`` runs each calling thread on an event loop of its own.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from mangum import Mangum

import btf
from btf.store import open_store
from functions.predict import errors, loops, routes, snapstart
from functions.predict.cache import ModelCache
from functions.predict.config import Settings, seed_for
from functions.predict.heap import steady_heap
from functions.predict.observe import AccessLog, log, request_id
from functions.predict.service import Service

# OpenCV's thread pool costs more than it saves on digit-sized images, and Lambda at 1 GB
# has one vCPU anyway.
cv2.setNumThreads(1)
steady_heap()
# Every decoder failure is answered as a JSON error; OpenCV's own plain-text lines on stderr
# would only break the one-JSON-line-per-request log.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def model_cache(settings: Settings, **overrides) -> ModelCache:
    """The model cache ``settings`` describe: its store (opened on first use), TTL, deadline and bounds."""

    def open_configured():
        uri = settings.model_store
        return open_store(uri, timeout=settings.store_timeout, seed_from=seed_for(uri))

    options = {
        "open_store": open_configured,
        "ttl": settings.latest_ttl,
        "deadline": settings.store_timeout,
        "max_models": settings.max_models,
        "max_bytes": settings.model_cache_mb << 20,
    }
    return ModelCache(**{**options, **overrides})


def create_app(settings: Settings, cache: ModelCache) -> FastAPI:
    """The predict function's app, serving the models in ``cache`` within the limits of ``settings``."""
    app = FastAPI(
        title="btf digit recognition",
        version=btf.__version__,
        description="POST a digit image, get the digit, ten calibrated confidences and whether it is a digit at all;"
        " or a number, and get it read whole.",
        docs_url=None,  # served by the routes, with a way out when the CDN cannot be reached
    )
    app.state.service = Service(settings, cache)
    errors.install(app)
    if settings.cors_origins:
        origins = list(settings.cors_origins)
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["*"])
    app.add_middleware(AccessLog)
    app.include_router(routes.router)
    return app


def lambda_handler(app: FastAPI) -> Callable[[object, object], dict]:
    """The Lambda entry point for ``app``: a malformed event (bad base64, missing fields) is a JSON 400, not a crash.

    Lambda calls it on one thread, one event at a time; tests and harnesses may call it from
    several threads at once, and each thread runs on its own event loop.
    """
    mangum = Mangum(app, lifespan="off")

    def handler(event: object, context: object) -> dict:
        loops.use_thread_loop()
        token = request_id.set(getattr(context, "aws_request_id", None))
        try:
            return mangum(event, context)
        except Exception as exc:  # the app answers its own errors, so only Mangum's event parsing gets here
            log.warning("malformed Lambda event: %s: %s", type(exc).__name__, exc)
            return errors.event_error(400, "invalid_event", "the request event is malformed")
        finally:
            request_id.reset(token)

    return handler


settings = Settings.from_env()
cache = model_cache(settings)
app = create_app(settings, cache)
handler = lambda_handler(app)
snapstart.register(cache)
