"""The predict function: a FastAPI app (``app``) and its Lambda entry point (``handler``, Mangum).

Stateless: models come from the store named by MODEL_STORE (S3 in production, the repo's
models/ folder by default) and are cached at module scope across warm invocations. ASGI
lifespan is off under Mangum, so nothing here relies on start-up events; the first
request that needs a model loads it. The hot path avoids pydantic: the body is parsed by
hand and the answer serialised once, which keeps a warm call close to the bare
decode-preprocess-forward time.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import re
from pathlib import Path

import cv2
import numpy as np
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from mangum import Mangum
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response

import btf
from btf.checkpoint import json_safe
from btf.numbers import prepare as prepare_number
from btf.numbers import read as read_number
from btf.store import StoreError, VersionNotFound, open_store
from btf.vision import ImageError, image_to_input
from functions.predict import answers, errors, openapi, snapstart
from functions.predict.catalogue import Catalogue
from functions.predict.config import Settings
from functions.predict.errors import ApiError
from functions.predict.inputs import read_request
from functions.predict.models import Entry, InvalidModel, ModelCache, NoModel
from functions.predict.observe import AccessLog, log, request_id

# OpenCV's thread pool costs more than it saves on digit-sized images, and Lambda at 1 GB
# has one vCPU anyway.
cv2.setNumThreads(1)
settings = Settings.from_env()
cache = ModelCache(
    lambda: open_store(settings.model_store, timeout=settings.store_timeout),
    ttl=settings.latest_ttl,
    deadline=settings.store_timeout,
    max_models=settings.max_models,
)
catalogue = Catalogue(cache)
_PAGE = Path(__file__).with_name("page.html")
_IMAGE_STATUS = {
    "unsupported_format": 415,
    "image_too_large": 413,
    "no_digit": 422,
    "too_many_digits": 422,
    "corrupt_image": 400,
}

app = FastAPI(
    title="btf digit recognition",
    version=btf.__version__,
    description="POST a digit image, get the digit and ten confidences back; or a number, and get it read whole.",
    docs_url=None,  # served below, with a way out when the CDN cannot be reached
)
errors.install(app)
if settings.cors_origins:
    app.add_middleware(
        CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"], allow_headers=["*"]
    )
app.add_middleware(AccessLog)


def _json(payload: dict, status: int = 200) -> Response:
    try:
        body = json.dumps(payload, allow_nan=False)
    except ValueError:  # a NaN from a store's metadata must still make valid JSON: null
        body = json.dumps(json_safe(payload), allow_nan=False)
    return Response(body, status_code=status, media_type="application/json")


def _model(selector: int | str) -> Entry:
    """The cached model for a selector, with every store failure turned into a clear API error."""
    try:
        return cache.resolve(selector)
    except VersionNotFound:
        raise ApiError(
            404, "model_not_found", f"model version {selector} does not exist; GET /models lists them"
        ) from None
    except InvalidModel as exc:
        log.warning("model %s invalid: %s", selector, exc)
        raise ApiError(503, "model_invalid", f"model version {selector} failed validation and cannot serve") from None
    except NoModel as exc:
        log.warning("no model: %s", exc)
        raise ApiError(503, "no_model", "no valid model has been published yet; try again later") from None
    except StoreError as exc:
        raise _store_down(exc) from None


def _store_down(exc: Exception) -> ApiError:
    # The detail (bucket names, IAM hints) is for operators' logs, not for API clients.
    log.warning("model store unavailable: %s", exc)
    return ApiError(503, "store_unavailable", "the model store is unavailable; try again shortly")


def model_info(entry: Entry) -> dict:
    graph, meta = entry.graph, entry.graph.metadata
    architecture = (
        {"layers": graph.stack.specs()}
        if graph.stack is not None
        else {"sizes": list(graph.sizes), "activation": graph.activation}
    )
    return {
        "version": entry.version,
        **architecture,
        "cost": graph.cost,
        "epochs": graph.epochs,
        "test_accuracy": meta.get("test_accuracy"),
        "val_accuracy": meta.get("val_accuracy"),
        "created": meta.get("created"),
    }


async def _read_body(request: Request) -> bytes:
    limit = settings.max_body_bytes
    declared = request.headers.get("content-length", "").strip()
    if declared and not (declared.isascii() and declared.isdigit() and len(declared) <= 18):
        raise ApiError(400, "invalid_header", "Content-Length must be a byte count of at most 18 digits")
    if declared and int(declared) > limit:
        raise ApiError(413, "body_too_large", f"the body is {int(declared):,} bytes; the limit is {limit:,}")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "body_too_large", f"the body is over the limit of {limit:,} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        # The client went away mid-body: nobody will read an answer, and it is not our fault.
        raise ApiError(400, "client_disconnected", "the client closed the connection before sending the body") from None
    body = b"".join(chunks)
    request._body = body  # lets request.form() parse the bytes already read
    return body


def _image_error(exc: ImageError, where: str | None = None) -> ApiError:
    message = f"{where}: {exc}" if where else str(exc)
    return ApiError(_IMAGE_STATUS.get(exc.code, 400), exc.code, message)


def _input(data: bytes, where: str | None) -> np.ndarray:
    try:
        return image_to_input(data, settings.max_pixels)
    except ImageError as exc:
        raise _image_error(exc, where) from None


@app.post("/predict", response_model=None, openapi_extra=openapi.PREDICT, responses=openapi.PREDICT_RESPONSES)
async def predict(request: Request) -> Response:
    """Recognise the digit in one image (or each image of a batch)."""
    body = await _read_body(request)
    parsed = await read_request(request, body, settings.max_batch)
    inputs = np.stack([_input(img, f"images[{i}]" if parsed.batch else None) for i, img in enumerate(parsed.images)])
    entry = _model(parsed.model)
    request.state.model_version = entry.version
    labels, confidences = entry.graph.predict(inputs)
    if not np.isfinite(confidences).all():  # the load-time check makes this unreachable; never answer NaN
        raise ApiError(503, "model_invalid", f"model version {entry.version} gave a non-finite answer")
    request.state.confidences = confidences.max(axis=1).tolist()
    results = [
        answers.result(label, conf, x if parsed.explain else None)
        for label, conf, x in zip(labels.tolist(), confidences, inputs)
    ]
    info = model_info(entry)
    return _json({"results": results, "model": info} if parsed.batch else {**results[0], "model": info})


@app.post("/read", response_model=None, openapi_extra=openapi.READ, responses=openapi.READ_RESPONSES)
async def read(request: Request) -> Response:
    """Read the whole number in one image: its digits, a decimal point, a leading minus sign."""
    body = await _read_body(request)
    parsed = await read_request(request, body, settings.max_batch)
    if parsed.batch:
        raise ApiError(400, "invalid_field", "/read reads one image at a time: send image, not images")
    try:
        prepared = prepare_number(parsed.images[0], settings.max_pixels)
        entry = _model(parsed.model)
        request.state.model_version = entry.version
        found = read_number(prepared, entry.graph.predict)
    except ImageError as exc:
        raise _image_error(exc) from None
    if not all(np.isfinite(d.confidences).all() for d in found.digits):  # unreachable after the load-time check
        raise ApiError(503, "model_invalid", f"model version {entry.version} gave a non-finite answer")
    request.state.confidences = [float(d.confidences[d.label]) for d in found.digits]
    return _json({**answers.reading(found, parsed.explain), "model": model_info(entry)})


@app.get("/models", response_model=None, responses=openapi.MODELS_RESPONSES)
def models(request: Request) -> Response:
    """Every published version (newest first, without loading any), which one ``latest`` serves, and recent promotions."""
    try:
        return _json(catalogue.listing())
    except StoreError as exc:
        raise _store_down(exc) from None


@app.get("/health", response_model=None, responses=openapi.HEALTH_RESPONSES)
def health() -> Response:
    """Liveness; never touches the store."""
    return _json({"status": "ok", "btf_version": btf.__version__, "cached_models": cache.cached_versions()})


@functools.cache
def _page() -> tuple[str, dict[str, str]]:
    """The page and its headers: a Content-Security-Policy that admits only its own inline code, by hash."""
    html = _PAGE.read_text(encoding="utf-8")

    def hashes(tag: str) -> str:
        bodies = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in bodies)

    policy = (
        f"default-src 'self'; script-src {hashes('script')}; style-src {hashes('style')}; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return html, {"content-security-policy": policy, "referrer-policy": "no-referrer"}


# Swagger UI's script and style come from a CDN. Shipping them would add 1.2 MB (the bundle's
# two files; 8.3 MB as the swagger-ui-bundle package) to serve a developer convenience, so the
# page says what to do when they do not load: the contract itself is /openapi.json, served here.
_DOCS_FALLBACK = """<script>window.addEventListener("load", () => { if (!window.SwaggerUIBundle) {
document.body.innerHTML = '<p style="font:16px sans-serif;margin:2em">Swagger UI loads from a CDN, which this browser ' +
'cannot reach (offline?). The API description is <a href="openapi.json">openapi.json</a>, served by this API.</p>'; } });
</script>"""


@app.get("/docs", include_in_schema=False)
def docs() -> HTMLResponse:
    """Swagger UI for the API, reading the relative openapi.json (so it works under a stage path too)."""
    html = get_swagger_ui_html(openapi_url="openapi.json", title=f"{app.title} - docs").body.decode()
    return HTMLResponse(html.replace("</body>", _DOCS_FALLBACK + "</body>"))


@app.get("/", response_class=HTMLResponse, include_in_schema=False)
def page() -> HTMLResponse:
    """The drawing page: one self-contained HTML file, every URL in it relative."""
    html, headers = _page()
    return HTMLResponse(html, headers=headers)


_mangum = Mangum(app, lifespan="off")
_loop: asyncio.AbstractEventLoop | None = None


def handler(event: object, context: object) -> dict:
    """The Lambda entry point. A malformed event (bad base64, missing fields) is a JSON 400, not a crash."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    # Mangum runs the app on the thread's current event loop: make sure it is an open one.
    asyncio.set_event_loop(_loop)
    token = request_id.set(getattr(context, "aws_request_id", None))
    try:
        return _mangum(event, context)
    except Exception as exc:  # the app answers its own errors, so only Mangum's event parsing gets here
        log.warning("malformed Lambda event: %s: %s", type(exc).__name__, exc)
        body = json.dumps({"error": {"code": "invalid_event", "message": "the request event is malformed"}})
        headers = {"content-type": "application/json", "x-content-type-options": "nosniff"}
        return {"statusCode": 400, "headers": headers, "body": body, "isBase64Encoded": False}
    finally:
        request_id.reset(token)


snapstart.register(cache)
