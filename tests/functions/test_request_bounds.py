"""A request's cost is bounded per request, through the handler and on a real local server (issue 17 §3, §6).

One decode budget for all of a request's images, checked from their headers; capped header
walks; every decoder exception a JSON 4xx; the event loop never blocked by a predict; the
Lambda handler safe to call from several threads at once.
"""

import threading

import cv2
import httpx
import numpy as np
import pytest

from btf.images import imageheader
from btf.images.imageheader import MAX_WALK_STEPS
from functions.predict.cache import ModelCache
from infra.apigw import http_event, json_event
from tests.conftest import ROOT
from tests.support.api import Api
from tests.support.images import canvas_png, data_uri, encode, wide_bmp, with_markers
from tests.support.server import serve

GUARD = 60  # seconds: a hang guard, never a timing assertion


def raw(data: bytes) -> dict:
    return http_event("POST", "/predict", body=data, content_type="application/octet-stream")


def big_canvas() -> bytes:
    """A 2000x2000 RGBA '7': 4 MP and 16 MB to decode."""
    img = np.zeros((2000, 2000, 4), np.uint8)
    cv2.line(img, (500, 430), (1500, 430), (0, 0, 0, 255), 140)
    cv2.line(img, (1500, 430), (860, 1640), (0, 0, 0, 255), 140)
    return encode(img)


# The shipped, trained models (read only) serve here, so answers can be checked: every image here is a 7.
@pytest.fixture
def small_budget(make_api):
    return make_api(str(ROOT / "models"), max_pixels=6_000_000)  # 6 MP and 18 MB a request: one big canvas, not three


def test_a_batch_shares_one_decode_budget(small_budget):
    one = big_canvas()
    status, _, body = small_budget.invoke(json_event("/predict", {"images": [data_uri(one)]}))
    assert status == 200 and body["results"][0]["label"] == 7
    status, _, body = small_budget.invoke(json_event("/predict", {"images": [data_uri(one)] * 3}))
    assert (status, body["error"]["code"]) == (413, "image_too_large")
    assert "the 3 images are" in body["error"]["message"] and "per request" in body["error"]["message"]


def test_over_budget_batches_are_refused_before_any_decoding(small_budget, monkeypatch):
    monkeypatch.setattr(cv2, "imdecode", lambda *a: pytest.fail("decoded part of a refused request"))
    status, _, body = small_budget.invoke(json_event("/predict", {"images": [data_uri(big_canvas())] * 3}))
    assert status == 413


@pytest.mark.parametrize(
    "data, status, code",
    [
        (wide_bmp(2_000_000), 413, "image_too_large"),  # the 1 KB BMP that was a 500 with a traceback
        (with_markers(encode(np.zeros((64, 64), np.uint8), ".jpg"), MAX_WALK_STEPS + 1), 413, "image_too_large"),
    ],
    ids=["bmp-2M-wide", "jpeg-com-markers"],
)
def test_hostile_headers_are_a_json_4xx(data, status, code, api):
    answer, headers, body = api.invoke(raw(data))
    assert (answer, body["error"]["code"]) == (status, code)
    assert headers["content-type"] == "application/json"


def test_any_decoder_exception_is_a_json_400(api, monkeypatch):
    def broken(*args):
        raise cv2.error("OpenCV(5.0.0) error: (-2:Unspecified error) the codec gave up")

    monkeypatch.setattr(cv2, "imdecode", broken)
    for data in (canvas_png(), encode(np.full((40, 40, 3), 255, np.uint8), ".jpg")):
        status, _, body = api.invoke(raw(data))
        assert (status, body["error"]["code"]) == (400, "corrupt_image")


def test_the_lambda_handler_answers_four_threads_at_once(shipped):
    event = json_event("/predict", {"image": data_uri(canvas_png())})
    start, answers = threading.Barrier(4), []

    def call():
        start.wait()
        answers.append(shipped.invoke(event))

    threads = [threading.Thread(target=call, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GUARD)
    assert len(answers) == 4, "the handler hung when called from several threads"
    assert all(status == 200 and body["label"] == 7 for status, _, body in answers)


# ---------------------------------------------------------------------------- on a real local server
class HeldCache(ModelCache):
    """A model cache whose lookups wait (on a worker thread, as every lookup runs) until the test releases them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.busy, self.release = threading.Event(), threading.Event()

    def resolve(self, selector):
        self.busy.set()
        self.release.wait(GUARD)
        return super().resolve(selector)


def test_health_answers_while_a_predict_is_busy(shipped):
    held = HeldCache(shipped.cache.open_store)
    answer = {}

    def predict():
        answer["predict"] = httpx.post(f"{url}/predict", json={"image": data_uri(canvas_png())}, timeout=GUARD)

    with serve(Api.serving(shipped.settings, held).app) as url:
        thread = threading.Thread(target=predict, daemon=True)
        thread.start()
        try:
            assert held.busy.wait(GUARD), "the predict never started"
            health = httpx.get(f"{url}/health", timeout=GUARD)
            # /health answered while the predict was still held: the event loop was free.
            assert health.status_code == 200 and health.json()["status"] == "ok"
            assert thread.is_alive() and "predict" not in answer
        finally:
            held.release.set()
            thread.join(GUARD)
    assert answer["predict"].status_code == 200 and answer["predict"].json()["label"] == 7


def test_the_local_server_refuses_over_budget_and_hostile_requests(small_budget):
    one = data_uri(big_canvas())
    with serve(small_budget.app) as server:
        assert httpx.post(f"{server}/predict", json={"images": [one]}, timeout=GUARD).status_code == 200
        response = httpx.post(f"{server}/predict", json={"images": [one] * 3}, timeout=GUARD)
        assert response.status_code == 413 and response.json()["error"]["code"] == "image_too_large"
        hostile = (wide_bmp(2_000_000), with_markers(encode(np.zeros((8, 8), np.uint8), ".jpg"), MAX_WALK_STEPS + 1))
        for data in hostile:
            headers = {"content-type": "application/octet-stream"}
            response = httpx.post(f"{server}/predict", content=data, headers=headers, timeout=GUARD)
            assert response.status_code == 413 and response.json()["error"]["code"] == "image_too_large"


def test_the_default_budget_takes_a_phone_photo(monkeypatch):
    photo = np.full((3024, 4032, 3), 215, np.uint8)
    cv2.putText(photo, "7", (1300, 2700), cv2.FONT_HERSHEY_SIMPLEX, 70, (30, 30, 30), 220)
    monkeypatch.delenv("MAX_PIXELS", raising=False)
    api = Api.build(str(ROOT / "models"))  # the settings' default, as the environment leaves it
    status, _, body = api.invoke(raw(encode(photo, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90])))
    assert status == 200 and body["label"] == 7
    assert api.settings.max_pixels == imageheader.DEFAULT_MAX_PIXELS >= 4032 * 3024
