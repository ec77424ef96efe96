"""Settings for the predict function, read from the environment once per container.

Every value has a default that works locally with no AWS account: the store defaults to
the repo's models/ folder. A malformed value fails loudly at start-up with the variable's
name, rather than serving with a silently different limit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_STORE = str(Path(__file__).resolve().parents[2] / "models")


class ConfigError(ValueError):
    pass


def _number(name: str, default: float, cast=int, minimum: float = 0):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {cast.__name__}") from None
    if not value >= minimum:  # also refuses NaN
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class Settings:
    model_store: str
    s3_endpoint_url: str | None
    max_body_bytes: int
    max_pixels: int
    max_batch: int
    latest_ttl: float
    store_timeout: float
    cors_origins: tuple[str, ...]

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            model_store=os.environ.get("MODEL_STORE", "").strip() or DEFAULT_STORE,
            # For moto_server, LocalStack or MinIO; empty means AWS itself.
            s3_endpoint_url=os.environ.get("S3_ENDPOINT_URL", "").strip() or None,
            # Lambda's synchronous payload limit is 6 MB; a larger body never reaches us.
            max_body_bytes=_number("MAX_BODY_BYTES", 6_000_000, minimum=1),
            max_pixels=_number("MAX_PIXELS", 25_000_000, minimum=1),
            max_batch=_number("MAX_BATCH", 16, minimum=1),
            latest_ttl=_number("LATEST_TTL_SECONDS", 60.0, float),
            store_timeout=_number("STORE_TIMEOUT_SECONDS", 3.0, float, minimum=0.1),
            cors_origins=tuple(o.strip() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip()),
        )
