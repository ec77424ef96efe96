"""OpenAPI descriptions of the hand-parsed endpoints (/predict, /read), so /docs shows every accepted body and answer.

Built from the constants the request parser itself uses (btf.store.MAX_VERSION and the
content types in inputs.py), so the document cannot drift from what is accepted, and
schemathesis fuzzes every content type the parser reads.
"""

from btf.digits.numbers import MAX_DIGITS
from btf.store import MAX_VERSION
from functions.predict.inputs import FLAGS, JSON_TYPE, MULTIPART_TYPE, RAW_TYPES

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
_MODEL_SELECTOR = {
    "oneOf": [{"type": "integer", "minimum": 1, "maximum": MAX_VERSION}, {"type": "string", "enum": ["latest"]}],
    "description": 'a model version number, or "latest" (the default)',
}
_IMAGE = {
    "type": "string",
    "description": "a data URI (data:image/png;base64,...) or bare base64 of a PNG, JPEG, BMP or WebP",
}
_MODEL_INFO = {
    "type": "object",
    "required": ["version"],
    "properties": {
        "version": {"type": "integer"},
        "sizes": {"type": "array", "items": {"type": ["integer", "null"]}},
        "layers": {"type": "array", "items": {"type": "string"}},
        "activation": {"type": "string"},
        "bytes": {"type": "integer"},
        "cost": {"type": "string"},
        "epochs": {"type": "integer"},
        "test_accuracy": {"type": ["number", "null"]},
        "val_accuracy": {"type": ["number", "null"]},
        "created": {"type": ["string", "null"]},
        "valid": {
            "type": ["boolean", "null"],
            "description": "true: this container loaded it and it passed the digit contract; false: it failed "
            "validation; null: not loaded here yet (it is checked when first asked for)",
        },
        "error": {"type": "string"},
    },
}
_EXPLAIN = {"type": "boolean", "description": "also answer each digit's 28x28 input (the model's view) as a PNG"}
_RESULT = {
    "type": "object",
    "required": ["label", "confidence", "is_digit", "predictions"],
    "properties": {
        "label": {"type": "integer", "minimum": 0, "maximum": 9, "description": "the closest digit"},
        "confidence": {
            "type": "number",
            "description": "the label's calibrated confidence: of answers given at 0.9, about 9 in 10 are right",
        },
        "is_digit": {
            "type": "boolean",
            "description": "false when the image does not look like a digit (a letter, symbol, scribble or "
            "photo); label is then only the closest guess. Decided by the model's stored rule "
            "(see docs/reliability.md); models without one: top confidence at least 0.5",
        },
        "predictions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["label", "confidence"],
                "properties": {"label": {"type": "integer"}, "confidence": {"type": "number"}},
            },
        },
        "input": {
            "type": "string",
            "description": "with explain: the 28x28 input the model read, white ink on black, as a PNG data URI",
        },
    },
}
_BOX = {
    "type": "array",
    "items": {"type": "integer"},
    "minItems": 4,
    "maxItems": 4,
    "description": "x, y, width, height in the image's pixels (upright, after any EXIF rotation)",
}
_READING = {
    "type": "object",
    "required": ["text", "confidence", "digits", "marks", "model"],
    "properties": {
        "text": {
            "type": "string",
            "description": "the number as read: digits, '.' for a decimal point, a leading '-', '?' for a piece "
            "that is not a digit",
        },
        "confidence": {"type": "number", "description": "the product of the digits' confidences"},
        "digits": {
            "type": "array",
            "maxItems": MAX_DIGITS,
            "items": {
                **_RESULT,
                "required": [*_RESULT["required"], "box"],
                "properties": {
                    **_RESULT["properties"],
                    "is_digit": {
                        **_RESULT["properties"]["is_digit"],
                        "description": "false: not a digit, shown as '?' in text (the same decision as /predict's)",
                    },
                    "box": _BOX,
                },
            },
        },
        "marks": {
            "type": "array",
            "description": "the decimal points and the minus sign, left to right",
            "items": {
                "type": "object",
                "required": ["text", "box"],
                "properties": {"text": {"type": "string", "enum": [".", "-"]}, "box": _BOX},
            },
        },
        "model": _MODEL_INFO,
    },
}
_ERRORS = {
    status: {"description": text, "content": {"application/json": {"schema": _ERROR}}}
    for status, text in {
        400: "bad request: invalid JSON, base64, image, header, Lambda event or model selector",
        404: "unknown model version",
        413: "body, image or batch over its limit",
        415: "unsupported content type or image format",
        422: "no digit found in the image (or, for /read, more digits than it reads)",
        503: "model store unavailable or no valid model",
    }.items()
}

_PARAMETERS = [
    {
        "name": "model",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "pattern": f"^(latest|[1-9][0-9]{{0,{len(str(MAX_VERSION)) - 1}}})$"},
        "description": f"a version number (1 to {MAX_VERSION}) or latest; for raw and multipart bodies",
    },
    {
        "name": "explain",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(FLAGS)},
        "description": "1: also answer each digit's 28x28 input as a PNG data URI (any body type)",
    },
]


def _request(batch: bool) -> dict:
    """The request body: the same forms for /predict and /read; only /predict takes several images."""
    multipart_image = (
        # One image part is one answer; several are a batch, answered as {"results": [...]}.
        {"type": "array", "items": {"type": "string", "format": "binary"}, "minItems": 1}
        if batch
        else {"type": "string", "format": "binary"}
    )
    batch_field = {"images": {"type": "array", "items": _IMAGE, "minItems": 1}} if batch else {}
    return {
        "requestBody": {
            "required": True,
            "content": {
                JSON_TYPE: {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "image": _IMAGE,
                            **batch_field,
                            "model": _MODEL_SELECTOR,
                            "pretrained": _MODEL_SELECTOR,
                            "explain": _EXPLAIN,
                        },
                        "example": {"image": "data:image/png;base64,iVBORw0KGgo...", "model": "latest"},
                    }
                },
                **{kind: {"schema": {"type": "string", "format": "binary"}} for kind in RAW_TYPES},
                MULTIPART_TYPE: {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "image": multipart_image,
                            "model": _MODEL_SELECTOR,
                            "explain": {"type": "string", "enum": list(FLAGS)},
                        },
                        "required": ["image"],
                    }
                },
            },
        },
        "parameters": _PARAMETERS,
    }


PREDICT = _request(batch=True)
READ = _request(batch=False)
PREDICT_RESPONSES = {
    200: {
        "description": "the digit, its confidence, whether it is a digit at all, all ten confidences and the model"
        " that answered",
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {**_RESULT, "properties": {**_RESULT["properties"], "model": _MODEL_INFO}},
                        {
                            "type": "object",
                            "required": ["results", "model"],
                            "properties": {"results": {"type": "array", "items": _RESULT}, "model": _MODEL_INFO},
                        },
                    ]
                }
            }
        },
    },
    **_ERRORS,
}
READ_RESPONSES = {
    200: {
        "description": f"the number read whole (up to {MAX_DIGITS} digits in one row), each digit, and the model",
        "content": {"application/json": {"schema": _READING}},
    },
    **_ERRORS,
}
MODELS_RESPONSES = {
    200: {
        "description": "published versions, newest first",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["latest", "models"],
                    "properties": {
                        "latest": {"type": ["integer", "null"], "description": "the version latest serves now"},
                        "promoted": {"type": ["integer", "null"], "description": "the alias, if the store has one"},
                        "history": {"type": "array", "items": {"type": "object"}, "description": "recent promotions"},
                        "models": {"type": "array", "items": _MODEL_INFO},
                    },
                }
            }
        },
    },
    503: _ERRORS[503],
}
HEALTH_RESPONSES = {
    200: {
        "description": "alive",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "string"},
                        "btf_version": {"type": "string"},
                        "cached_models": {"type": "array", "items": {"type": "integer"}},
                    },
                }
            }
        },
    }
}
