"""Settings from the environment: sensible defaults, and a clear error naming a malformed variable."""

import pytest

from functions.predict.config import DEFAULT_STORE, ConfigError, Settings


def test_defaults(monkeypatch):
    for key in ("MODEL_STORE", "MAX_BODY_BYTES", "MAX_PIXELS", "MAX_BATCH", "LATEST_TTL_SECONDS", "CORS_ORIGINS",
                "STORE_TIMEOUT_SECONDS", "MAX_CACHED_MODELS"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    s = Settings.from_env()
    assert s.model_store == DEFAULT_STORE and DEFAULT_STORE.endswith("models")
    assert (s.max_body_bytes, s.max_pixels, s.max_batch, s.latest_ttl) == (4_400_000, 12_600_000, 16, 60.0)
    assert s.cors_origins == () and (s.store_timeout, s.max_models) == (3.0, 8)


def test_values_are_read(monkeypatch):
    monkeypatch.setenv("MODEL_STORE", "s3://b/p/")
    monkeypatch.setenv("MAX_BATCH", "4")
    monkeypatch.setenv("LATEST_TTL_SECONDS", "0.5")
    monkeypatch.setenv("CORS_ORIGINS", "http://a.example, http://b.example")
    s = Settings.from_env()
    assert s.model_store == "s3://b/p/" and s.max_batch == 4 and s.latest_ttl == 0.5
    assert s.cors_origins == ("http://a.example", "http://b.example")


@pytest.mark.parametrize("key,value", [("MAX_BATCH", "ten"), ("MAX_BATCH", "0"), ("MAX_PIXELS", "1.5"),
                                       ("LATEST_TTL_SECONDS", "-1"), ("LATEST_TTL_SECONDS", "nan"), ("STORE_TIMEOUT_SECONDS", "0")])  # fmt: skip
def test_malformed_values_name_the_variable(monkeypatch, key, value):
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=key):
        Settings.from_env()


def test_the_model_cache_is_sized_from_the_functions_memory(monkeypatch):
    from btf import footprint

    monkeypatch.delenv("MODEL_CACHE_MB", raising=False)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", raising=False)
    assert Settings.from_env().model_cache_mb == 256  # a quarter of the template's 1024 MB
    assert 8 * footprint.LIMITS.parameters * 4 <= 256 << 20  # eight of the largest models the loader admits
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008")
    assert Settings.from_env().model_cache_mb == 752
    monkeypatch.setenv("MODEL_CACHE_MB", "100")
    assert Settings.from_env().model_cache_mb == 100
    monkeypatch.setenv("MODEL_CACHE_MB", "")  # as the template leaves it: the default
    assert Settings.from_env().model_cache_mb == 752


@pytest.mark.parametrize(
    "key,value", [("MODEL_CACHE_MB", "0"), ("MODEL_CACHE_MB", "lots"), ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "x")]
)
def test_malformed_cache_sizes_name_the_variable(monkeypatch, key, value):
    monkeypatch.delenv("MODEL_CACHE_MB", raising=False)
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=key):
        Settings.from_env()


def test_the_cache_size_is_in_the_template_and_the_readme():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    assert 'MODEL_CACHE_MB: ""' in (root / "template.yaml").read_text()
    assert "| `MODEL_CACHE_MB` |" in (root / "README.md").read_text()


def test_only_the_default_store_is_seeded_and_the_library_knows_no_checkout():
    import btf.store
    from functions.predict.config import SHIPPED_MODELS, seed_for

    assert seed_for(DEFAULT_STORE) == SHIPPED_MODELS and seed_for("/tmp/elsewhere") is None
    assert seed_for("s3://b/p/") is None and not hasattr(btf.store, "DEFAULT_STORE")
