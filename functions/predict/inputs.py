"""Read a /predict or /read request into image bytes and a model selector, or an ApiError that says what is wrong.

``read_body`` reads the body on the event loop, bounded before and while it arrives;
``read_request`` parses it, synchronously, so the caller runs it on a worker thread.

Accepted bodies: JSON ``{"image": <data URI or base64>, "model": N | "latest"}`` (``pretrained``
is the original API's alias of ``model``, read as leniently as the original: see parse_pretrained;
base64 may be URL-safe and unpadded, as the original accepted), JSON ``{"images": [...]}`` for a batch, a raw
``image/png`` / ``image/jpeg`` / ``image/bmp`` / ``image/webp`` body with ``?model=N``, and
``multipart/form-data`` with an ``image`` file field (and optionally a ``model`` field).
``explain`` (``?explain=1``, or a JSON or form field) asks for what the model saw.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import ClientDisconnect, Request

from btf.store import MAX_VERSION
from functions.predict import forms
from functions.predict.errors import ApiError

# Every content type /predict reads, in one place: the parser below and the OpenAPI document use these.
JSON_TYPE = "application/json"
RAW_TYPES = ("image/png", "image/jpeg", "image/jpg", "image/bmp", "image/webp", "application/octet-stream")
MULTIPART_TYPE = "multipart/form-data"
ACCEPTED_TYPES = (JSON_TYPE, *RAW_TYPES, MULTIPART_TYPE)
_DATA_URI = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(;[\w.+-]+=[\w.+-]+)*;base64,", re.IGNORECASE)
_URLSAFE = str.maketrans("-_", "+/")


@dataclass
class PredictRequest:
    images: list[bytes]
    model: int | str
    batch: bool
    explain: bool = False


# What an explain flag accepts as text (query string, form field); JSON takes true/false too.
FLAGS = {"1": True, "true": True, "0": False, "false": False}


def parse_flag(value: object, where: str) -> bool:
    """A yes/no field: JSON true/false, or 1/0/true/false as text; absent is no."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value in FLAGS:
        return FLAGS[value]
    shown = repr(value)[:40]
    raise ApiError(400, "invalid_field", f"{where} must be true or false (1 or 0), not {shown}")


def parse_model(value: object, where: str = "model") -> int | str:
    """``"latest"`` or a version number 1..999999999; anything else is a 400 that says so."""
    if value is None or value == "latest":
        return "latest"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ApiError(400, "invalid_model", f'{where} must be a version number or "latest", not {value!r}')
    if isinstance(value, str):
        # The length is checked before int(): Python refuses to parse over 4,300 digits, and
        # no version has more than len(str(MAX_VERSION)) anyway.
        if not value.isascii() or not value.isdigit() or len(value.lstrip("0")) > len(str(MAX_VERSION)):
            shown = value if len(value) <= 40 else value[:40] + "..."
            raise ApiError(400, "invalid_model", f'{where} must be a version number or "latest", not {shown!r}')
        value = int(value)
    if not 1 <= value <= MAX_VERSION:
        raise ApiError(400, "invalid_model", f"{where} must be between 1 and {MAX_VERSION}, not {value}")
    return value


def parse_pretrained(value: object) -> int | str:
    """The original API's ``pretrained``: a number not above zero meant the server's current model
    (``latest``), and a whole float such as 3.0 named that version (it was formatted with %d).
    ``model`` stays strict; this leniency is only for clients written for the original."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value <= 0:
        return "latest"
    return parse_model(value, "pretrained")


def decode_image_field(value: object, where: str) -> bytes:
    """A data URI or bare base64 string -> bytes."""
    if not isinstance(value, str):
        raise ApiError(
            400, "invalid_field", f"{where} must be a string (a data URI or base64), not {type(value).__name__}"
        )
    match = _DATA_URI.match(value)
    if value.startswith("data:") and not match:
        raise ApiError(
            400, "invalid_data_uri", f"{where} is a data URI but not a base64 one (data:image/png;base64,...)"
        )
    # str.split() drops whitespace at C speed; a regex takes ~100 ms over a 4 MB body.
    payload = "".join((value[match.end() :] if match else value).split())
    if not payload:
        raise ApiError(400, "invalid_base64", f"{where} is empty")
    # The original server decoded URL-safe base64; the two alphabets differ only in "-_" and
    # "+/", which never mean anything else, so both are read, and missing padding is restored.
    payload = payload.translate(_URLSAFE)
    try:
        return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_base64", f"{where} is not valid base64") from None


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused as soon as its declared or its real size is over ``limit`` bytes."""
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
    return b"".join(chunks)


def read_request(content_type: str, query: Mapping[str, str], body: bytes, max_batch: int) -> PredictRequest:
    """The request in ``body``, sent as ``content_type`` (the whole header) with query parameters ``query``."""
    kind = content_type.split(";")[0].strip().lower()
    query_model = query.get("model")
    explain = parse_flag(query.get("explain"), "query parameter explain")
    if kind in (JSON_TYPE, "") or kind.endswith("+json"):
        parsed = _from_json(body, max_batch, query_model)
    elif kind in RAW_TYPES:
        if not body:
            raise ApiError(400, "missing_image", "the request body is empty: send the image bytes")
        parsed = PredictRequest([body], parse_model(query_model, "query parameter model"), False)
    elif kind == MULTIPART_TYPE:
        parsed = _from_form(content_type, body, max_batch, query_model)
    else:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type {kind[:60]!r} is not supported: send one of {', '.join(ACCEPTED_TYPES)}",
        )
    parsed.explain = parsed.explain or explain
    return parsed


def _from_json(body: bytes, max_batch: int, query_model: str | None) -> PredictRequest:
    if not body.strip():
        raise ApiError(400, "invalid_json", 'the body is empty: send {"image": "data:image/png;base64,..."}')
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ApiError(400, "invalid_json", 'the body must be a JSON object like {"image": "..."}')
    if "model" in doc and "pretrained" in doc and doc["model"] != doc["pretrained"]:
        raise ApiError(400, "invalid_model", "give model or pretrained (its alias), not both with different values")
    if "model" in doc or "pretrained" not in doc:
        model = parse_model(doc.get("model", query_model), "model")
    else:
        model = parse_pretrained(doc["pretrained"])
    explain = parse_flag(doc.get("explain"), "explain")
    if "image" in doc and "images" in doc:
        raise ApiError(400, "invalid_field", "give image or images, not both")
    if "images" in doc:
        items = doc["images"]
        if not isinstance(items, list) or not items:
            raise ApiError(400, "invalid_field", "images must be a non-empty list of data URIs or base64 strings")
        if len(items) > max_batch:
            raise ApiError(413, "batch_too_large", f"images holds {len(items)} images; the limit is {max_batch}")
        return PredictRequest(
            [decode_image_field(v, f"images[{i}]") for i, v in enumerate(items)], model, True, explain
        )
    if "image" not in doc:
        raise ApiError(400, "missing_image", 'the JSON body needs an "image" field (a data URI or base64 string)')
    return PredictRequest([decode_image_field(doc["image"], "image")], model, False, explain)


def _from_form(content_type: str, body: bytes, max_batch: int, query_model: str | None) -> PredictRequest:
    try:
        parts = forms.parse(content_type, body, max_files=max_batch, max_fields=8)
    except forms.FormError as exc:
        raise ApiError(400, "invalid_multipart", f"the multipart body could not be parsed ({exc})") from None
    fields = {part.name: part.value for part in parts}  # as a form reads: the last part of a name
    model = parse_model(fields.get("model") if isinstance(fields.get("model"), str) else query_model, "model")
    explain = parse_flag(fields.get("explain") if isinstance(fields.get("explain"), str) else None, "explain")
    named = [part.value for part in parts if part.name == "image"]
    images = [v for v in named if isinstance(v, bytes)] + [
        decode_image_field(v, "image") for v in named if isinstance(v, str)
    ]
    if not images:
        raise ApiError(400, "missing_image", "the multipart body needs an 'image' file field")
    if len(images) > max_batch:
        raise ApiError(413, "batch_too_large", f"{len(images)} images; the limit is {max_batch}")
    return PredictRequest(images, model, len(images) > 1, explain)
