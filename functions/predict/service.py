"""The predict function's use cases: recognise digits, read a number, list the models, report health.

``Service`` holds what they need (the settings, the model cache, the catalogue) and knows
nothing of HTTP. Each use case takes a parsed request (functions.predict.inputs) and returns
a JSON-ready dict, raising what went wrong in its own terms (ApiError, btf's ImageError, the
cache's and the store's errors), which functions.predict.errors maps to answers. They run on
a worker thread, since decoding, the store and the model are CPU and I/O work. Each request's
images share one decode budget, checked from their headers before any is decoded, and its
store calls share one deadline (``STORE_TIMEOUT_SECONDS``). What a request's access-log line
and metrics need (its model version and confidences) is written to ``state``, the request's.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

import btf
from btf import digits
from btf.digits.numbers import prepare as prepare_number
from btf.digits.numbers import read as read_number
from btf.images.vision import ImageError, check_budget, image_to_input, read_headers
from btf.store import deadline, registry
from functions.predict import answers
from functions.predict.cache import Entry, ModelCache
from functions.predict.catalogue import Catalogue
from functions.predict.config import Settings
from functions.predict.errors import ApiError
from functions.predict.inputs import PredictRequest


def model_info(entry: Entry) -> dict[str, Any]:
    """The ``model`` of an answer: its version, architecture and scores, as the listing shows them."""
    graph, meta = entry.graph, entry.graph.metadata
    fields = {
        "layers": [layer.spec() for layer in graph.layers],
        "sizes": list(graph.sizes),
        "cost": graph.cost,
        "epochs": graph.epochs,
        **{key: meta.get(key) for key in ("test_accuracy", "val_accuracy", "created")},
    }
    # Metadata comes from the store: served only as the listing serves it, typed and bounded.
    clean = registry.clean_row(fields)
    return {"version": entry.version, **{key: clean.get(key) for key in fields}}


def _finite(entry: Entry, confidences: list[np.ndarray]) -> None:
    # The load-time check makes a non-finite answer unreachable; never answer NaN all the same.
    if not all(np.isfinite(c).all() for c in confidences):
        raise ApiError(503, "model_invalid", f"model version {entry.version} gave a non-finite answer")


class Service:
    def __init__(self, settings: Settings, cache: ModelCache) -> None:
        self.settings, self.cache, self.catalogue = settings, cache, Catalogue(cache)

    def model(self, selector: int | str) -> Entry:
        """The cached model for a selector, within the request's one store deadline."""
        with deadline(self.settings.store_timeout):
            return self.cache.resolve(selector)

    def inputs(self, parsed: PredictRequest) -> np.ndarray:
        """Every image's network input, once their headers show the request is within its one decode budget."""
        headers = read_headers(parsed.images, label=parsed.batch)
        check_budget(headers, self.settings.max_pixels)
        inputs = []
        for i, (data, header) in enumerate(zip(parsed.images, headers)):
            try:
                inputs.append(image_to_input(data, self.settings.max_pixels, header))
            except ImageError as exc:
                if not parsed.batch:
                    raise
                raise ImageError(exc.code, f"images[{i}]: {exc}") from None  # which image of the batch
        return np.stack(inputs)

    def predict(self, parsed: PredictRequest, state: Any) -> dict[str, Any]:
        """The digit in each image: closest digit, calibrated confidences, whether it is a digit at all."""
        inputs = self.inputs(parsed)
        entry = self.model(parsed.model)
        state.model_version = entry.version
        reading = digits.read(entry.graph, inputs)
        _finite(entry, [reading.confidences])
        state.confidences = reading.confidences.max(axis=1).tolist()
        state.not_digits = int((~reading.is_digit).sum())
        flags = reading.is_digit.tolist()
        results = [
            answers.result(label, conf, x if parsed.explain else None, is_digit=flag)
            for label, conf, flag, x in zip(reading.labels.tolist(), reading.confidences, flags, inputs)
        ]
        info = model_info(entry)
        return {"results": results, "model": info} if parsed.batch else {**results[0], "model": info}

    def read(self, parsed: PredictRequest, state: Any) -> dict[str, Any]:
        """The whole number in one image: its digits, a decimal point, a leading minus sign."""
        if parsed.batch:
            raise ApiError(400, "invalid_field", "/read reads one image at a time: send image, not images")
        prepared = prepare_number(parsed.images[0], self.settings.max_pixels)  # image errors before the store
        entry = self.model(parsed.model)
        state.model_version = entry.version
        found = read_number(prepared, functools.partial(digits.read, entry.graph))
        _finite(entry, [d.confidences for d in found.digits])
        state.confidences = [float(d.confidences[d.label]) for d in found.digits]
        state.not_digits = sum(not d.is_digit for d in found.digits)
        return {**answers.reading(found, parsed.explain), "model": model_info(entry)}

    def models(self) -> dict[str, Any]:
        """Every published version (newest first, without loading any), which one ``latest`` serves, and recent promotions."""
        with deadline(self.settings.store_timeout):  # one deadline for all of its store calls
            return self.catalogue.listing()

    def health(self) -> dict[str, Any]:
        """Liveness; never touches the store."""
        return {"status": "ok", "btf_version": btf.__version__, "cached_models": self.cache.cached_versions()}
