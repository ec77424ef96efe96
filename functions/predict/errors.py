"""The one error shape of the API, ``{"error": {"code": ..., "message": ...}}``, and every failure mapped to it, here.

The use cases raise what went wrong in their own terms: ``ApiError`` for a bad request (the
parser knows its status and code), btf's ``ImageError`` for an image, the model cache's and
the store's errors for a model. ``install`` registers one exception handler per kind on the
app, each turning its exception into an ``ApiError`` (a 4xx, or a 503 for the store), and
``error_response`` is the one builder of the JSON answer, for the app and for the Lambda
handler's own fallback (``event_error``) alike. Anything else is a bug: it is logged with its
traceback and answered as a plain 500 in the same shape, and the container keeps serving.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from btf.images.imageheader import ImageError
from btf.store import StoreError, VersionNotFound
from functions.predict.cache import InvalidModel, NoModel
from functions.predict.observe import log


class ApiError(Exception):
    """A failure the client is told about: its HTTP status, a stable code, and a message for people."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


# An image that cannot become network input, by ImageError.code; any other code is a 400.
IMAGE_STATUS = {
    "unsupported_format": 415,
    "image_too_large": 413,
    "no_digit": 422,
    "too_many_digits": 422,
    "corrupt_image": 400,
}
# Starlette's and FastAPI's own HTTP errors (an unknown route, a wrong method), by status.
HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}
_JSON_HEADERS = {"content-type": "application/json", "x-content-type-options": "nosniff"}


def error_body(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}})


def error_response(
    status: int, code: str, message: str, request: Request | None = None, headers: dict | None = None
) -> Response:
    """The JSON error answer; the code becomes the request's outcome in its access-log line."""
    if request is not None:
        request.state.outcome = code
    return Response(error_body(code, message), status_code=status, media_type="application/json", headers=headers)


def event_error(status: int, code: str, message: str) -> dict:
    """The same answer as a Lambda proxy response, for an event the app never saw (it could not be parsed)."""
    return {
        "statusCode": status,
        "headers": dict(_JSON_HEADERS),
        "body": error_body(code, message),
        "isBase64Encoded": False,
    }


# ---------------------------------------------------------------- each kind of failure, as an ApiError
def _image(exc: ImageError) -> ApiError:
    return ApiError(IMAGE_STATUS.get(exc.code, 400), exc.code, str(exc))


def _not_found(exc: VersionNotFound) -> ApiError:
    version = getattr(exc, "version", None)
    which = f"model version {version}" if version is not None else "that model version"
    return ApiError(404, "model_not_found", f"{which} does not exist; GET /models lists them")


def _invalid(exc: InvalidModel) -> ApiError:
    log.warning("model %s invalid: %s", exc.version, exc)
    return ApiError(503, "model_invalid", f"model version {exc.version} failed validation and cannot serve")


def _no_model(exc: NoModel) -> ApiError:
    log.warning("no model: %s", exc)
    return ApiError(503, "no_model", "no valid model has been published yet; try again later")


def _store_down(exc: StoreError) -> ApiError:
    # The detail (bucket names, IAM hints) is for operators' logs, not for API clients.
    log.warning("model store unavailable: %s", exc)
    return ApiError(503, "store_unavailable", "the model store is unavailable; try again shortly")


def _http(exc: HTTPException) -> ApiError:
    # Starlette's 405 names the allowed methods in an Allow header, as RFC 9110 requires: keep it.
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return ApiError(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))


def _validation(exc: RequestValidationError) -> ApiError:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return ApiError(400, "invalid_request", f"{where}: {first.get('msg', 'invalid')}")


# The most specific class an exception is an instance of picks its entry (Starlette walks the MRO).
MAPPING: dict[type[Exception], Callable[[Exception], ApiError]] = {
    ApiError: lambda exc: exc,
    ImageError: _image,
    VersionNotFound: _not_found,
    InvalidModel: _invalid,
    NoModel: _no_model,
    StoreError: _store_down,
    HTTPException: _http,
    RequestValidationError: _validation,
}


def _handler(mapping: Callable[[Exception], ApiError]) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(request: Request, exc: Exception) -> Response:
        error = mapping(exc)
        return error_response(error.status, error.code, error.message, request, error.headers)

    return handle


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error")
    return error_response(500, "internal_error", "internal error; it has been logged", request)


class CatchAll:
    """The innermost middleware: a bug becomes the JSON 500, logged once, inside the other middlewares.

    Starlette sends a handler for ``Exception`` to its outermost layer, outside AccessLog and
    CORS (no request id, no nosniff, no CORS headers on the answer), and re-raises it there, so
    Mangum logs a second, plain-text traceback. Caught here, a 500 is an answer like any other.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if started:  # half an answer is out: nothing to replace it with but the server's own handling
                raise
            log.exception("unhandled error")
            scope.setdefault("state", {})["outcome"] = "internal_error"
            await error_response(500, "internal_error", "internal error; it has been logged")(scope, receive, send)


def install(app: FastAPI) -> None:
    """Answer every failure in the one shape: a handler per kind, and the 500 for anything else.

    Call it before adding any other middleware: CatchAll must be the innermost.
    """
    for kind, mapping in MAPPING.items():
        app.add_exception_handler(kind, _handler(mapping))
    app.add_exception_handler(Exception, _unexpected)  # the last resort, should CatchAll ever be bypassed
    app.add_middleware(CatchAll)
