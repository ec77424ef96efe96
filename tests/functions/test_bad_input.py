"""Every bad request gets a JSON 4xx naming the problem, never a 500, and the container keeps serving."""

import base64
import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from infra.apigw import http_event, json_event, multipart_event
from tests.support.images import canvas_png

PNG = canvas_png()
B64 = base64.b64encode(PNG).decode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _pil(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _bomb_png(width=60_000, height=60_000) -> bytes:
    body = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + body + struct.pack(">I", zlib.crc32(body)) + b"\0" * 64


CASES = [
    # (name, event, status, code)
    (
        "invalid json",
        http_event("POST", "/predict", body="{not json", content_type="application/json"),
        400,
        "invalid_json",
    ),
    ("empty body", http_event("POST", "/predict", body="", content_type="application/json"), 400, "invalid_json"),
    ("json array", json_event("/predict", [1, 2]), 400, "invalid_json"),
    ("missing image", json_event("/predict", {"model": 1}), 400, "missing_image"),
    ("image is a number", json_event("/predict", {"image": 123}), 400, "invalid_field"),
    ("image is null", json_event("/predict", {"image": None}), 400, "invalid_field"),
    ("images not a list", json_event("/predict", {"images": "abc"}), 400, "invalid_field"),
    ("images empty", json_event("/predict", {"images": []}), 400, "invalid_field"),
    ("image and images", json_event("/predict", {"image": B64, "images": [B64]}), 400, "invalid_field"),
    ("model is bool", json_event("/predict", {"image": B64, "model": True}), 400, "invalid_model"),
    ("model is list", json_event("/predict", {"image": B64, "model": [1]}), 400, "invalid_model"),
    ("invalid base64", json_event("/predict", {"image": "not base64!!"}), 400, "invalid_base64"),
    ("empty base64", json_event("/predict", {"image": "data:image/png;base64,"}), 400, "invalid_base64"),
    ("non-base64 data uri", json_event("/predict", {"image": "data:image/png,rawbytes"}), 400, "invalid_data_uri"),
    (
        "data uri of text",
        json_event("/predict", {"image": "data:image/png;base64," + b64(b"hello world")}),
        415,
        "unsupported_format",
    ),
    ("truncated png", json_event("/predict", {"image": b64(PNG[: len(PNG) // 3])}), 400, "corrupt_image"),
    ("png header only", json_event("/predict", {"image": b64(PNG[:30])}), 400, "corrupt_image"),
    (
        "corrupt jpeg",
        json_event("/predict", {"image": b64(b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\x13" * 200)}),
        400,
        "corrupt_image",
    ),
    ("gif", json_event("/predict", {"image": b64(_pil(Image.new("L", (28, 28)), "GIF"))}), 415, "unsupported_format"),
    (
        "tiff raw body",
        http_event("POST", "/predict", body=_pil(Image.new("L", (28, 28)), "TIFF"), content_type="image/png"),
        415,
        "unsupported_format",
    ),
    ("decompression bomb", json_event("/predict", {"image": b64(_bomb_png())}), 413, "image_too_large"),
    (
        "blank canvas",
        json_event("/predict", {"image": b64(cv2.imencode(".png", np.zeros((280, 280, 4), np.uint8))[1].tobytes())}),
        422,
        "no_digit",
    ),
    ("unknown model", json_event("/predict", {"image": B64, "model": 42}), 404, "model_not_found"),
    ("path traversal model", json_event("/predict", {"image": B64, "model": "../../x"}), 400, "invalid_model"),
    ("negative model", json_event("/predict", {"image": B64, "model": -1}), 400, "invalid_model"),
    ("zero model", json_event("/predict", {"image": B64, "model": 0}), 400, "invalid_model"),
    ("float model", json_event("/predict", {"image": B64, "model": 1e9}), 400, "invalid_model"),
    ("huge model", json_event("/predict", {"image": B64, "model": 10**12}), 400, "invalid_model"),
    ("shell model", json_event("/predict", {"image": B64, "model": "7; rm"}), 400, "invalid_model"),
    (
        "bad query model",
        http_event("POST", "/predict", body=PNG, content_type="image/png", query="model=..%2F1"),
        400,
        "invalid_model",
    ),
    ("conflicting alias", json_event("/predict", {"image": B64, "model": 1, "pretrained": 2}), 400, "invalid_model"),
    ("too many images", json_event("/predict", {"images": [B64] * 17}), 413, "batch_too_large"),
    ("bad item in batch", json_event("/predict", {"images": [B64, "%%"]}), 400, "invalid_base64"),
    ("empty raw body", http_event("POST", "/predict", body=b"", content_type="image/png"), 400, "missing_image"),
    (
        "unsupported content type",
        http_event("POST", "/predict", body="x", content_type="text/plain"),
        415,
        "unsupported_media_type",
    ),
    ("multipart without image", multipart_event("/predict", "file", "d.png", PNG), 400, "missing_image"),
    (
        "broken multipart",
        http_event("POST", "/predict", body=b"--x\r\ngarbage", content_type="multipart/form-data; boundary=x"),
        400,
        None,
    ),
    ("unknown route", http_event("GET", "/nope"), 404, "not_found"),
    ("wrong method", http_event("GET", "/predict"), 405, "method_not_allowed"),
]


@pytest.mark.parametrize("name,event,status,code", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_json_4xx(api, name, event, status, code):
    got_status, headers, body = api.invoke(event)
    assert got_status == status, body
    assert headers["content-type"] == "application/json"
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["message"] and "Traceback" not in body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    # The container keeps serving.
    ok_status, _, ok = api.invoke(json_event("/predict", {"image": B64}))
    assert ok_status == 200 and "label" in ok


def test_a_wrong_method_names_the_allowed_ones(api):
    for path, allowed in (("/predict", "POST"), ("/models", "GET"), ("/health", "GET")):
        status, headers, _ = api.invoke(http_event("DELETE", path))
        assert status == 405 and headers["allow"] == allowed, (path, headers)


def test_the_favicon_is_served(api):
    status, headers, body = api.invoke(http_event("GET", "/favicon.ico"))
    assert status == 200 and headers["content-type"].startswith("image/svg+xml") and body.startswith("<svg")


def test_bad_item_in_batch_is_named(api):
    _, _, body = api.invoke(json_event("/predict", {"images": [B64, "%%"]}))
    assert body["error"]["message"].startswith("images[1]")


def test_body_over_limit_is_413(folder_store, make_api):
    api = make_api(str(folder_store), max_body_bytes=1000)
    status, _, body = api.invoke(json_event("/predict", {"image": B64}))
    assert status == 413 and body["error"]["code"] == "body_too_large"


def test_pixel_limit_is_configurable(folder_store, make_api):
    api = make_api(str(folder_store), max_pixels=100 * 100)
    status, _, body = api.invoke(json_event("/predict", {"image": B64}))
    assert status == 413 and "280x280" in body["error"]["message"]


@pytest.mark.parametrize("kind", ["rgba", "palette", "16bit", "cmyk", "gray_alpha", "webp", "bmp", "jpeg"])
def test_image_variants_are_handled(api, kind):
    gray = 255 - cv2.imdecode(np.frombuffer(PNG, np.uint8), cv2.IMREAD_UNCHANGED)[:, :, 3]
    pil = Image.fromarray(gray)
    data = {
        "rgba": lambda: _pil(pil.convert("RGBA"), "PNG"),
        "palette": lambda: _pil(pil.convert("P"), "PNG"),
        "16bit": lambda: cv2.imencode(".png", gray.astype(np.uint16) * 257)[1].tobytes(),
        "cmyk": lambda: _pil(pil.convert("CMYK"), "JPEG"),
        "gray_alpha": lambda: _pil(Image.fromarray(np.dstack([np.zeros_like(gray), 255 - gray]), "LA"), "PNG"),
        "webp": lambda: cv2.imencode(".webp", gray)[1].tobytes(),
        "bmp": lambda: cv2.imencode(".bmp", gray)[1].tobytes(),
        "jpeg": lambda: cv2.imencode(".jpg", gray)[1].tobytes(),
    }[kind]()
    status, _, body = api.invoke(json_event("/predict", {"image": b64(data)}))
    assert status == 200, body
