"""Write the API Gateway HTTP API v2 events in infra/events/ (for sam local invoke and scripts.invoke).

    .venv/bin/python -m scripts.make_events

The digit in them is a 280x280 canvas drawing of a 7, and the number a 560x280 drawing of
"42": black ink on a transparent background, as a browser canvas's toDataURL() makes it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import cv2
import numpy as np

from btf.store import display_path
from infra.apigw import http_event, json_event, multipart_event

OUT = Path(__file__).resolve().parents[1] / "infra" / "events"


def canvas_seven() -> bytes:
    img = np.zeros((280, 280, 4), np.uint8)
    pts = np.array([[70, 60], [210, 60], [120, 240]], np.int32)
    cv2.polylines(img, [pts], False, (0, 0, 0, 255), 18, cv2.LINE_AA)
    return cv2.imencode(".png", img)[1].tobytes()


def canvas_number() -> bytes:
    """ "42" drawn on the page's number canvas: a 4 in two strokes, then a 2."""
    img = np.zeros((280, 560, 4), np.uint8)
    strokes = [
        [[190, 50], [90, 170], [230, 170]],
        [[190, 90], [190, 240]],
        [[290, 100], [320, 60], [380, 50], [430, 80], [430, 130], [290, 235], [450, 235]],
    ]
    for stroke in strokes:
        cv2.polylines(img, [np.array(stroke, np.int32)], False, (0, 0, 0, 255), 18, cv2.LINE_AA)
    return cv2.imencode(".png", img)[1].tobytes()


def events() -> dict[str, dict]:
    png = canvas_seven()
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    number = "data:image/png;base64," + base64.b64encode(canvas_number()).decode()
    return {
        "read": json_event("/read", {"image": number, "model": "latest", "explain": True}),
        "predict": json_event("/predict", {"image": uri, "model": "latest"}),
        "predict-binary": http_event("POST", "/predict", body=png, content_type="image/png"),
        "predict-multipart": multipart_event("/predict", "image", "digit.png", png),
        "predict-batch": json_event("/predict", {"images": [uri, uri]}),
        "models": http_event("GET", "/models"),
        "health": http_event("GET", "/health"),
        "page": http_event("GET", "/"),
        "bad-request": http_event("POST", "/predict", body='{"image": "not base64!"', content_type="application/json"),
    }


def render() -> dict[Path, bytes]:
    """Every file this command writes, and its exact content."""
    samples = OUT.parent / "samples"
    files = {samples / "canvas-7.png": canvas_seven(), samples / "canvas-42.png": canvas_number()}
    for name, event in events().items():
        # Fixed ids and times keep the committed files stable across regenerations.
        event["requestContext"].update(
            requestId="c6af9ac6-7b61-11e6-9a41-93e8deadbeef", time="27/Nov/2026:00:00:00 +0000", timeEpoch=1795737600000
        )
        files[OUT / f"{name}.json"] = (json.dumps(event, indent=2) + "\n").encode()
    return files


def main() -> None:
    for path, content in render().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        print(f"wrote {display_path(path)}")


if __name__ == "__main__":
    main()
