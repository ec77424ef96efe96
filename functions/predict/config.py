"""Settings for the predict function, read from the environment once per container.

Every value has a default that works locally with no AWS account: the store defaults to
.models/ (gitignored, seeded from the shipped models/ on first use). A malformed value fails
loudly at start-up with btf's ConfigError naming the variable, rather than serving with a
silently different limit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from btf.errors import ConfigError
from btf.images.imageheader import DEFAULT_MAX_PIXELS

__all__ = ["DEFAULT_STORE", "ConfigError", "Settings", "seed_for"]

# Locally, with no MODEL_STORE: the checkout's gitignored .models/, seeded from the shipped
# models/ on first use (as the commands do). In Lambda, the template always sets MODEL_STORE.
_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STORE = str(_ROOT / ".models")
SHIPPED_MODELS = str(_ROOT / "models")


def seed_for(uri: str) -> str | None:
    """What the store at ``uri`` is seeded from when it does not exist yet: the shipped models, for the default."""
    default = not uri.startswith("s3://") and Path(uri).resolve() == Path(DEFAULT_STORE).resolve()
    return SHIPPED_MODELS if default and Path(SHIPPED_MODELS).is_dir() else None


# Lambda's synchronous payload is 6 MB (6,291,456 bytes) for the whole event, and API Gateway
# delivers binary bodies (raw images, multipart) base64-encoded, 4/3 their size. 4.4 MB of body
# is what fits with room for the event's envelope, so every body under it reaches the function
# and gets its answer, and a body over it gets the function's JSON 413 wherever the platform
# delivers it at all (locally, and for JSON up to about 6 MB in the cloud).
DEFAULT_MAX_BODY_BYTES = 4_400_000
# Without AWS_LAMBDA_FUNCTION_MEMORY_SIZE (locally), size the model cache as for the template's 1024 MB.
DEFAULT_MEMORY_MB = 1024


def default_cache_mb() -> int:
    """A quarter of the function's memory: the rest holds the runtime (~100 MB), one model being
    loaded, and a request's image decode and forward pass (docs/reliability.md)."""
    return _number("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", DEFAULT_MEMORY_MB, minimum=128) // 4


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
    max_body_bytes: int
    max_pixels: int
    max_batch: int
    latest_ttl: float
    store_timeout: float
    max_models: int
    model_cache_mb: int
    cors_origins: tuple[str, ...]

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            model_store=os.environ.get("MODEL_STORE", "").strip() or DEFAULT_STORE,
            max_body_bytes=_number("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, minimum=1),
            # Per request, summed over its images; the decode budget is 3 bytes a pixel of it.
            max_pixels=_number("MAX_PIXELS", DEFAULT_MAX_PIXELS, minimum=1),
            max_batch=_number("MAX_BATCH", 16, minimum=1),
            latest_ttl=_number("LATEST_TTL_SECONDS", 60.0, float),
            # One deadline per request, shared by all its store calls; well under Lambda's 15 s.
            store_timeout=_number("STORE_TIMEOUT_SECONDS", 3.0, float, minimum=0.1),
            max_models=_number("MAX_CACHED_MODELS", 8, minimum=1),
            model_cache_mb=_number("MODEL_CACHE_MB", default_cache_mb(), minimum=1),
            cors_origins=tuple(o.strip() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip()),
        )
