"""is_digit through the handler: drawings that are not digits are flagged, digits are not; old models' default rule."""

import base64

import cv2
import numpy as np
import pytest

from btf.store import open_store, registry
from infra.apigw import json_event
from tests.support.handler import ROOT
from tests.support.images import canvas_png
from tests.support.models import tiny_model

pytest.importorskip("PIL")
from btf.digits import negatives  # noqa: E402 - needs Pillow

SHIPPED = open_store(str(ROOT / "models"))
LATEST = registry.latest_version(SHIPPED)


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _font_digit(digit: int, font: int, thickness: int) -> bytes:
    canvas = np.full((280, 280), 255, np.uint8)
    cv2.putText(canvas, str(digit), (85, 200), font, 5, 0, thickness, cv2.LINE_AA)
    return cv2.imencode(".png", canvas)[1].tobytes()


def _answers(api, images: list[bytes], model="latest") -> list[dict]:
    results = []
    for start in range(0, len(images), 3):
        status, _, body = api.invoke(
            json_event("/predict", {"images": [_uri(p) for p in images[start : start + 3]], "model": model})
        )
        assert status == 200, body
        results += body["results"]
    return results


def test_the_shipped_model_flags_non_digits_and_reads_digits(shipped):
    if SHIPPED.read(LATEST) and registry.read_sidecar(SHIPPED, LATEST).get("sizes", [None, None])[-1] != 11:
        pytest.skip("the promoted model has no 'not a digit' output")
    drawings = [
        png for _, png in negatives.render(24, seed=7, split="heldout", kinds=("scribble", "shape", "hershey", "font"))
    ]
    flagged = [not r["is_digit"] for r in _answers(shipped, drawings)]
    assert sum(flagged) >= 0.75 * len(flagged), flagged
    digits = [(d, _font_digit(d, cv2.FONT_HERSHEY_SIMPLEX, t)) for d in range(10) for t in (8, 16)]
    read = _answers(shipped, [png for _, png in digits] + [canvas_png("7"), canvas_png("1")])
    truth = [d for d, _ in digits] + [7, 1]
    right = [r["is_digit"] and r["label"] == d for r, d in zip(read, truth)]
    assert sum(right) >= len(right) - 1, list(zip(truth, read))
    for r in read:  # what stays as it was: ten predictions summing to 1, label the closest digit
        assert len(r["predictions"]) == 10 and abs(sum(p["confidence"] for p in r["predictions"]) - 1) < 1e-4


def test_old_models_answer_with_the_default_rule(tmp_path, make_api):
    folder = tmp_path / "models"
    store = open_store(str(folder))
    store.publish(tiny_model(1))  # untrained, ten outputs, no stored rule: every confidence near 0.1
    store.publish((ROOT / "models" / "model-v5.npz").read_bytes())  # v5: ten outputs, no stored rule
    api = make_api(str(folder))
    unsure = _answers(api, [canvas_png("7")], model=1)[0]
    assert unsure["confidence"] < 0.5 and unsure["is_digit"] is False
    sure = _answers(api, [canvas_png("7")], model=2)[0]
    assert sure["label"] == 7 and sure["confidence"] >= 0.5 and sure["is_digit"] is True


def test_read_uses_the_same_decision_for_each_digit(shipped):
    if registry.read_sidecar(SHIPPED, LATEST).get("sizes", [None, None])[-1] != 11:
        pytest.skip("the promoted model has no 'not a digit' output")
    canvas = np.zeros((280, 280, 4), np.uint8)
    for a, b in (((60, 50), (220, 230)), ((220, 50), (60, 230))):  # an X, drawn as the page draws
        cv2.line(canvas, a, b, (0, 0, 0, 255), 18, cv2.LINE_AA)
    status, _, body = shipped.invoke(json_event("/read", {"image": _uri(cv2.imencode(".png", canvas)[1].tobytes())}))
    assert status == 200, body
    assert body["digits"] and not any(d["is_digit"] for d in body["digits"]) and set(body["text"]) == {"?"}
    status, _, body = shipped.invoke(json_event("/read", {"image": _uri(canvas_png("7"))}))
    assert status == 200 and body["text"] == "7" and body["digits"][0]["is_digit"] is True
