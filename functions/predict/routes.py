"""The HTTP routes: each reads its request, runs its use case (off the event loop under a server), and answers once.

The hot path avoids pydantic: the body is read and parsed by hand (functions.predict.inputs)
and the answer serialised once, which keeps a warm call close to the bare
decode-preprocess-forward time; the OpenAPI document comes from functions.predict.openapi.
Under an ASGI server nothing blocks the event loop: the body is read asynchronously, and
parsing, decoding, the store and the model run on the thread pool, so /health answers while a
predict works. Under Lambda they run inline (``_off_loop``): a container serves one event at a
time, so a thread hop there buys nothing and costs about half a millisecond each.
The use cases come from the app's ``Service`` (``app.state.service``, set by create_app).
Failures are raised, and answered by the handlers functions.predict.errors installs.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from btf.checkpoint import json_safe
from functions.predict import openapi, swagger
from functions.predict.inputs import PredictRequest, read_body, read_request
from functions.predict.service import Service

router = APIRouter()
_PAGE = Path(__file__).with_name("page.html")


def json_response(payload: dict) -> Response:
    try:
        body = json.dumps(payload, allow_nan=False)
    except ValueError:  # a NaN from a store's metadata must still make valid JSON: null
        body = json.dumps(json_safe(payload), allow_nan=False)
    return Response(body, status_code=200, media_type="application/json")


def _service(request: Request) -> Service:
    return request.app.state.service


async def _off_loop(request: Request, fn: Callable, *args):
    """``fn(*args)`` on a worker thread, or inline under Lambda (Mangum puts the event in the scope). Mangum runs
    one request per run of a calling thread's own event loop (functions.predict.loops), so nothing else waits
    on that loop; two hops and a new worker thread (anyio's pool lives for one run) were a third of a warm
    canvas request (benchmarks/bench_predict.py). /models, a plain def, still takes a worker: it is rare."""
    if "aws.event" in request.scope:
        return fn(*args)
    return await run_in_threadpool(fn, *args)


async def _parse(request: Request, service: Service) -> PredictRequest:
    body = await read_body(request, service.settings.max_body_bytes)
    content_type = request.headers.get("content-type", "")
    # The body is in hand, so parsing it waits on nothing: off the event loop (or inline, under Lambda).
    return await _off_loop(request, read_request, content_type, request.query_params, body, service.settings.max_batch)


def _answer(use_case: Callable[[PredictRequest, object], dict], parsed: PredictRequest, request: Request) -> Response:
    """A use case and the serialisation of its answer: the CPU and store work of a request (see ``_off_loop``)."""
    return json_response(use_case(parsed, request.state))


@router.post("/predict", response_model=None, openapi_extra=openapi.PREDICT, responses=openapi.PREDICT_RESPONSES)
async def predict(request: Request) -> Response:
    """Recognise the digit in one image (or each image of a batch)."""
    service = _service(request)
    parsed = await _parse(request, service)
    return await _off_loop(request, _answer, service.predict, parsed, request)


@router.post("/read", response_model=None, openapi_extra=openapi.READ, responses=openapi.READ_RESPONSES)
async def read(request: Request) -> Response:
    """Read the whole number in one image: its digits, a decimal point, a leading minus sign."""
    service = _service(request)
    parsed = await _parse(request, service)
    return await _off_loop(request, _answer, service.read, parsed, request)


@router.get("/models", response_model=None, responses=openapi.MODELS_RESPONSES)
def models(request: Request) -> Response:
    """Every published version (newest first, without loading any), which one ``latest`` serves, and recent promotions."""
    return json_response(_service(request).models())  # a plain def: FastAPI runs it on the thread pool


@router.get("/health", response_model=None, responses=openapi.HEALTH_RESPONSES)
async def health(request: Request) -> Response:
    """Liveness; never touches the store, and answers on the event loop, so a busy thread pool never delays it."""
    return json_response(_service(request).health())


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


@router.get("/docs", include_in_schema=False)
def docs(request: Request) -> HTMLResponse:
    """Swagger UI for the API: a pinned version, checked by hash, under its own Content-Security-Policy."""
    html, headers = swagger.page(f"{request.app.title} - docs")
    return HTMLResponse(html, headers=headers)


# Browsers ask every site for /favicon.ico; answering it keeps their consoles free of 404s.
_FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#111"/>'
    '<path d="M9 8h14l-8 17" stroke="#fff" stroke-width="3.5" fill="none" stroke-linecap="round"/></svg>'
)


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    return Response(_FAVICON, media_type="image/svg+xml", headers={"cache-control": "public, max-age=86400"})


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page() -> HTMLResponse:
    """The drawing page: one self-contained HTML file, every URL in it relative."""
    html, headers = _page()
    return HTMLResponse(html, headers=headers)
