"""One structured JSON log line per request: request id, path, status, outcome, model version, latency.

A plain ASGI middleware (not BaseHTTPMiddleware) so it adds microseconds, not a task per
request. The request id is Lambda's ``aws_request_id`` when Mangum provides one.
"""

from __future__ import annotations

import json
import sys
import time
import uuid


class AccessLog:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        context = scope.get("aws.context")
        request_id = getattr(context, "aws_request_id", None) or uuid.uuid4().hex
        state = scope.setdefault("state", {})
        status = 500

        async def send_wrapper(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                headers.append((b"x-request-id", request_id.encode()))
                # Every answer, error or page: browsers must never guess another content type.
                headers.append((b"x-content-type-options", b"nosniff"))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            record = {
                "level": "INFO" if status < 500 else "ERROR",
                "request_id": request_id,
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": status,
                "outcome": state.get("outcome", "ok" if status < 400 else "error"),
                "model_version": state.get("model_version"),
                "latency_ms": round((time.perf_counter() - start) * 1000, 2),
            }
            # One write per line: Lambda sends each stdout line to CloudWatch as it is, with no
            # logging-handler prefix, and nothing else can interleave into it.
            sys.stdout.write(json.dumps(record) + "\n")
