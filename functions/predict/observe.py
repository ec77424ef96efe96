"""Structured logs and CloudWatch metrics for the predict function, with the standard library only.

- **One logger, one format.** ``log`` ("btf.predict") writes one JSON object per line to
  stdout: level, time, message, the request id of the request being served (Lambda's
  ``aws_request_id`` under Lambda) and any ``extra`` fields. Warnings from the model cache,
  the store and the handler all go through it.
- **One line per request**, written by the ``AccessLog`` middleware, which is also that
  request's metrics in CloudWatch's embedded metric format (EMF): CloudWatch turns the
  ``_aws`` block into metrics with no agent and no API call. Metrics, in namespace ``btf``:
  ``Requests`` (count), ``Latency`` (ms), ``Answers`` (images answered, or a number's digits
  read), ``Confidence`` (their mean top confidence), ``LowConfidence`` (how many were under
  LOW_CONFIDENCE) and ``NotDigit`` (how many were answered ``is_digit: false``), by
  ``Service`` (``predict`` for /predict, ``read`` for /read), by ``Outcome`` (ok, a 4xx code,
  or error) and by ``ModelVersion``.
  LowConfidence / Answers is the share of answers the model was unsure of: it rises when
  people draw unlike MNIST.

Measured against Powertools for AWS Lambda (Logger + Metrics do the same): importing it costs
more than this whole module; see docs/architecture.md.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
import uuid

NAMESPACE = "btf"
SERVICE = "predict"
# The endpoints whose requests are metrics, and the Service each is counted under.
METERED = {"/predict": SERVICE, "/read": "read"}
# An answer whose top confidence is under this counts as low-confidence.
LOW_CONFIDENCE = 0.7
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "level": record.levelname,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
        }
        doc.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


class _Stdout(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time (Lambda's, uvicorn's, or a test's capture)."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _logger() -> logging.Logger:
    logger = logging.getLogger("btf.predict")
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = _Stdout()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    # Lambda's runtime puts its own handler on the root logger; one line per record is enough.
    logger.propagate = False
    return logger


log = _logger()


def emf(record: dict, metrics: dict[str, tuple[float, str]], service: str = SERVICE) -> dict:
    """``record`` with an EMF block: each metric's value as a field, by Service, Outcome and ModelVersion."""
    record.update({name: value for name, (value, _) in metrics.items()})
    record.update({"Service": service, "Outcome": record["outcome"], "ModelVersion": str(record["model_version"])})
    dimensions = [["Service"], ["Service", "Outcome"]]
    if record["model_version"] is not None:
        dimensions.append(["Service", "ModelVersion"])
    record["_aws"] = {
        "Timestamp": int(time.time() * 1000),
        "CloudWatchMetrics": [
            {
                "Namespace": NAMESPACE,
                "Dimensions": dimensions,
                "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()],
            }
        ],
    }
    return record


class AccessLog:
    """A plain ASGI middleware (not BaseHTTPMiddleware), so it adds microseconds, not a task per request."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        context = scope.get("aws.context")
        rid = getattr(context, "aws_request_id", None) or uuid.uuid4().hex
        token = request_id.set(rid)
        state = scope.setdefault("state", {})
        status = 500

        async def send_wrapper(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                headers.append((b"x-request-id", rid.encode()))
                # Every answer, error or page: browsers must never guess another content type.
                headers.append((b"x-content-type-options", b"nosniff"))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self._write(scope, state, status, rid, (time.perf_counter() - start) * 1000)
            request_id.reset(token)

    @staticmethod
    def _write(scope, state: dict, status: int, rid: str, latency_ms: float) -> None:
        outcome = state.get("outcome", "ok" if status < 400 else "error")
        record = {
            "method": scope.get("method"),
            "path": scope.get("path"),
            "status": status,
            "outcome": outcome if status < 500 else "error",
            "model_version": state.get("model_version"),
            "latency_ms": round(latency_ms, 2),
        }
        service = METERED.get(scope.get("path"))
        if service is not None:
            metrics = {"Requests": (1, "Count"), "Latency": (record["latency_ms"], "Milliseconds")}
            confidences = state.get("confidences")
            if confidences:  # one per image answered (a batch has several)
                metrics["Answers"] = (len(confidences), "Count")
                metrics["Confidence"] = (round(sum(confidences) / len(confidences), 6), "None")
                metrics["LowConfidence"] = (sum(c < LOW_CONFIDENCE for c in confidences), "Count")
                metrics["NotDigit"] = (int(state.get("not_digits", 0)), "Count")
            record = emf(record, metrics, service)
        # Through the one logger, so the line has the same fields and time format as every other.
        log.log(logging.INFO if status < 500 else logging.ERROR, "request", extra=record)
