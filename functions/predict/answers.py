"""The JSON answers of /predict and /read: one digit's result, a whole number's reading, and what the model saw.

``input_uri`` turns a 28x28 network input into a small grayscale PNG data URI (white ink on
black, exactly the pixels the model read), so a client can show why a digit was misread.
"""

from __future__ import annotations

import base64

import cv2
import numpy as np

from btf.digits.numbers import Reading


def input_uri(x: np.ndarray) -> str:
    """A (784,) input in [0, 1] -> ``data:image/png;base64,...`` of its 28x28 image (about 300 bytes)."""
    pixels = np.clip(np.rint(np.asarray(x, dtype=np.float32).reshape(28, 28) * 255), 0, 255).astype(np.uint8)
    ok, png = cv2.imencode(".png", pixels)
    if not ok:  # OpenCV always encodes a 28x28 uint8 image; never answer half a result
        raise RuntimeError("could not encode the 28x28 input as PNG")
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode("ascii")


def result(label: int, confidences: np.ndarray, x: np.ndarray | None = None, *, is_digit: bool) -> dict:
    """One digit: its label, confidence, whether it is a digit at all, ten confidences; with ``x``, the input the model saw."""
    answer = {
        "label": int(label),
        "confidence": round(float(confidences[label]), 6),
        "is_digit": bool(is_digit),
        "predictions": [{"label": i, "confidence": round(float(c), 6)} for i, c in enumerate(confidences.tolist())],
    }
    if x is not None:
        answer["input"] = input_uri(x)
    return answer


def reading(found: Reading, explain: bool) -> dict:
    """A whole number: its text and confidence, each digit with its box, and the decimal points and minus sign."""
    digits = []
    for digit in found.digits:
        answer = result(digit.label, digit.confidences, digit.input if explain else None, is_digit=digit.is_digit)
        digits.append({**answer, "box": list(digit.box)})
    return {
        "text": found.text,
        "confidence": round(found.confidence, 6),
        "digits": digits,
        "marks": [{"text": text, "box": list(box)} for text, box in found.marks],
    }
