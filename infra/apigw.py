"""Build API Gateway HTTP API (payload v2.0) events and a Lambda-like context, as Lambda passes them.

Used by the Docker-free invoke (scripts.invoke), by the generator of infra/events/, and by
the tests, so all three exercise the handler with the same event shape.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field


def http_event(
    method: str,
    path: str,
    *,
    body: bytes | str | None = None,
    content_type: str | None = None,
    query: str = "",
    headers: dict[str, str] | None = None,
    binary: bool | None = None,
) -> dict:
    """An HTTP API v2 event. Binary bodies (anything but JSON and text) are base64, as API Gateway does."""
    raw = body.encode() if isinstance(body, str) else body
    is_text = content_type is None or content_type.startswith(("application/json", "text/"))
    encode = (not is_text) if binary is None else binary
    all_headers = {"host": "example.execute-api.us-east-1.amazonaws.com", "user-agent": "curl/8.5.0"}
    if content_type:
        all_headers["content-type"] = content_type
    if raw is not None:
        all_headers["content-length"] = str(len(raw))
    all_headers.update(headers or {})
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": all_headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "example",
            "domainName": all_headers["host"],
            "domainPrefix": "example",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": all_headers["user-agent"],
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": bool(raw is not None and encode),
    }
    if query:
        event["queryStringParameters"] = dict(p.split("=", 1) if "=" in p else (p, "") for p in query.split("&"))
    if raw is not None:
        event["body"] = base64.b64encode(raw).decode() if encode else raw.decode()
    return event


def json_event(path: str, doc: object) -> dict:
    return http_event("POST", path, body=json.dumps(doc), content_type="application/json")


def multipart_event(path: str, field_name: str, filename: str, data: bytes, content_type: str = "image/png") -> dict:
    # From the content, not random: the same event is written byte for byte every time, and a
    # hash of the data does not occur in the data.
    boundary = "btf" + hashlib.sha256(data).hexdigest()[:32]
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return http_event("POST", path, body=body, content_type=f"multipart/form-data; boundary={boundary}", binary=True)


@dataclass
class LambdaContext:
    """The attributes and method of Lambda's context object that handlers use."""

    function_name: str = "PredictFunction"
    memory_limit_in_mb: int = 1024
    timeout_seconds: float = 30.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/PredictFunction"
    log_stream_name: str = "local"
    _start: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._start)) * 1000))
