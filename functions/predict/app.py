"""The predict function: a FastAPI app (``app``) and its Lambda entry point (``handler``, Mangum).

Stateless: models come from the store named by MODEL_STORE (S3 in production, the repo's
models/ folder by default) and are cached at module scope across warm invocations. ASGI
lifespan is off under Mangum, so nothing here relies on start-up events; the first
request that needs a model loads it. The hot path avoids pydantic: the body is parsed by
hand and the answer serialised once, which keeps a warm call close to the bare
decode-preprocess-forward time.

Nothing blocks the event loop: the body is read asynchronously, and parsing, decoding, the
store and the model run on the thread pool, so /health answers while a predict works. Each
request's images share one decode budget, checked from their headers before any is decoded,
and its store calls share one deadline (``STORE_TIMEOUT_SECONDS``). The Lambda ``handler``
runs each calling thread on an event loop of its own.
"""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path

import cv2
import numpy as np
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from mangum import Mangum
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response

import btf
from btf import digits
from btf.checkpoint import json_safe
from btf.digits.numbers import prepare as prepare_number
from btf.digits.numbers import read as read_number
from btf.images.vision import ImageError, check_budget, image_to_input, read_headers
from btf.store import StoreError, VersionNotFound, deadline, open_store, registry
from functions.predict import answers, errors, loops, openapi, snapstart, swagger
from functions.predict.catalogue import Catalogue
from functions.predict.config import Settings, seed_for
from functions.predict.errors import ApiError
from functions.predict.inputs import PredictRequest, read_request
from functions.predict.models import Entry, InvalidModel, ModelCache, NoModel
from functions.predict.observe import AccessLog, log, request_id

# OpenCV's thread pool costs more than it saves on digit-sized images, and Lambda at 1 GB
# has one vCPU anyway.
cv2.setNumThreads(1)
# Every decoder failure is answered as a JSON error; OpenCV's own plain-text lines on stderr
# would only break the one-JSON-line-per-request log.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
settings = Settings.from_env()
cache = ModelCache(
    lambda: open_store(settings.model_store, timeout=settings.store_timeout, seed_from=seed_for(settings.model_store)),
    ttl=settings.latest_ttl,
    deadline=settings.store_timeout,
    max_models=settings.max_models,
    max_bytes=settings.model_cache_mb << 20,
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
    description="POST a digit image, get the digit, ten calibrated confidences and whether it is a digit at all;"
    " or a number, and get it read whole.",
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
    fields = {
        "layers": [layer.spec() for layer in graph.layers],
        "sizes": list(graph.sizes),
        "cost": graph.cost,
        "epochs": graph.epochs,
        **{key: meta.get(key) for key in ("test_accuracy", "val_accuracy", "created")},
    }
    # Metadata comes from the store: served only as the listing serves it, typed and bounded.
    clean = registry.clean_row(fields)
    return {"version": entry.version, **{key: clean.get(key) for key in fields}}


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


def _inputs(parsed: PredictRequest) -> np.ndarray:
    """Every image's network input, once their headers show the request is within its one decode budget."""
    try:
        headers = read_headers(parsed.images, label=parsed.batch)
        check_budget(headers, settings.max_pixels)
    except ImageError as exc:
        raise _image_error(exc) from None
    inputs = []
    for i, (data, header) in enumerate(zip(parsed.images, headers)):
        try:
            inputs.append(image_to_input(data, settings.max_pixels, header))
        except ImageError as exc:
            raise _image_error(exc, f"images[{i}]" if parsed.batch else None) from None
    return np.stack(inputs)


async def _parse(request: Request) -> PredictRequest:
    body = await _read_body(request)
    if request.headers.get("content-type", "").lower().startswith("multipart/"):
        return await read_request(request, body, settings.max_batch)  # the form parser awaits its file writes
    # The body is in hand, so nothing here waits: parse it on a worker thread, off the event loop.
    return await run_in_threadpool(asyncio.run, read_request(request, body, settings.max_batch))


@app.post("/predict", response_model=None, openapi_extra=openapi.PREDICT, responses=openapi.PREDICT_RESPONSES)
async def predict(request: Request) -> Response:
    """Recognise the digit in one image (or each image of a batch)."""
    parsed = await _parse(request)
    return await run_in_threadpool(_answer, request, parsed)


def _answer(request: Request, parsed: PredictRequest) -> Response:
    """The CPU and store work of a predict, on a worker thread."""
    inputs = _inputs(parsed)
    with deadline(settings.store_timeout):
        entry = _model(parsed.model)
    request.state.model_version = entry.version
    reading = digits.read(entry.graph, inputs)  # the one decision: closest digit, calibrated, is it a digit
    if not np.isfinite(reading.confidences).all():  # the load-time check makes this unreachable; never answer NaN
        raise ApiError(503, "model_invalid", f"model version {entry.version} gave a non-finite answer")
    request.state.confidences = reading.confidences.max(axis=1).tolist()
    request.state.not_digits = int((~reading.is_digit).sum())
    results = [
        answers.result(label, conf, x if parsed.explain else None, is_digit=flag)
        for label, conf, flag, x in zip(reading.labels.tolist(), reading.confidences, reading.is_digit.tolist(), inputs)
    ]
    info = model_info(entry)
    return _json({"results": results, "model": info} if parsed.batch else {**results[0], "model": info})


@app.post("/read", response_model=None, openapi_extra=openapi.READ, responses=openapi.READ_RESPONSES)
async def read(request: Request) -> Response:
    """Read the whole number in one image: its digits, a decimal point, a leading minus sign."""
    parsed = await _parse(request)
    if parsed.batch:
        raise ApiError(400, "invalid_field", "/read reads one image at a time: send image, not images")
    return await run_in_threadpool(_read_answer, request, parsed)


def _read_answer(request: Request, parsed: PredictRequest) -> Response:
    """The CPU and store work of a read, on a worker thread."""
    try:
        prepared = prepare_number(parsed.images[0], settings.max_pixels)
        with deadline(settings.store_timeout):
            entry = _model(parsed.model)
        request.state.model_version = entry.version
        found = read_number(prepared, functools.partial(digits.read, entry.graph))
    except ImageError as exc:
        raise _image_error(exc) from None
    if not all(np.isfinite(d.confidences).all() for d in found.digits):  # unreachable after the load-time check
        raise ApiError(503, "model_invalid", f"model version {entry.version} gave a non-finite answer")
    request.state.confidences = [float(d.confidences[d.label]) for d in found.digits]
    request.state.not_digits = sum(not d.is_digit for d in found.digits)
    return _json({**answers.reading(found, parsed.explain), "model": model_info(entry)})


@app.get("/models", response_model=None, responses=openapi.MODELS_RESPONSES)
def models(request: Request) -> Response:
    """Every published version (newest first, without loading any), which one ``latest`` serves, and recent promotions."""
    try:
        with deadline(settings.store_timeout):  # one deadline for all of its store calls
            return _json(catalogue.listing())
    except StoreError as exc:
        raise _store_down(exc) from None


@app.get("/health", response_model=None, responses=openapi.HEALTH_RESPONSES)
async def health() -> Response:
    """Liveness; never touches the store, and answers on the event loop, so a busy thread pool never delays it."""
    return _json({"status": "ok", "btf_version": btf.__version__, "cached_models": cache.cached_versions()})


@functools.cache
def _page() -> tuple[str, dict[str, str]]:
    """The page and its headers: a Content-Security-Policy that admits only its own inline code, by hash."""
    html = _PAGE.read_text(encoding="utf-8")
    scripts, styles = swagger.inline_hashes(html, "script"), swagger.inline_hashes(html, "style")
    policy = (
        f"default-src 'self'; script-src {scripts}; style-src {styles}; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return html, {"content-security-policy": policy, "referrer-policy": "no-referrer"}


@app.get("/docs", include_in_schema=False)
def docs() -> HTMLResponse:
    """Swagger UI for the API: a pinned version, checked by hash, under its own Content-Security-Policy."""
    html, headers = swagger.page(f"{app.title} - docs")
    return HTMLResponse(html, headers=headers)


# Browsers ask every site for /favicon.ico; answering it keeps their consoles free of 404s.
_FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#111"/>'
    '<path d="M9 8h14l-8 17" stroke="#fff" stroke-width="3.5" fill="none" stroke-linecap="round"/></svg>'
)


@app.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    return Response(_FAVICON, media_type="image/svg+xml", headers={"cache-control": "public, max-age=86400"})


@app.get("/", response_class=HTMLResponse, include_in_schema=False)
def page() -> HTMLResponse:
    """The drawing page: one self-contained HTML file, every URL in it relative."""
    html, headers = _page()
    return HTMLResponse(html, headers=headers)


_mangum = Mangum(app, lifespan="off")


def handler(event: object, context: object) -> dict:
    """The Lambda entry point. A malformed event (bad base64, missing fields) is a JSON 400, not a crash.

    Lambda calls it on one thread, one event at a time; tests and harnesses may call it from
    several threads at once, and each thread runs on its own event loop.
    """
    loops.use_thread_loop()
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
