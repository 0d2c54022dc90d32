"""What the service refuses to start with outside development: settings under which it would
run, but unsafely (README "Security"). Checked once, when the runtime is built."""

from __future__ import annotations

import math
from collections import Counter
from urllib.parse import urlsplit

from pydantic import SecretStr

from service.errors import ConfigurationError
from service.fhir.ehr_client import is_loopback_host
from service.settings import Settings

MIN_SECRET_CHARS = 32
# A rough strength estimate (characters times their Shannon entropy): 32 random hex characters
# give about 120 bits and never below 90; a repeated letter gives 0, a word pattern little more.
MIN_SECRET_BITS = 80.0
_PLACEHOLDERS = ("development", "replace-with")


def refuse_unsafe_production(settings: Settings) -> None:
    if settings.is_development:
        return
    if not settings.payer_identifiers:
        # CRD hook-13: a Coverage of another payer is refused; without our identifiers every
        # payer's Coverage would be taken for ours.
        raise ConfigurationError("PAYER_IDENTIFIERS must name this payer outside development")
    # Whoever knows the access token key could mint our access tokens; whoever knows the audit
    # key could recover patient ids from the audit log's hashes by trying candidates.
    _refuse_weak_secret("ACCESS_TOKEN_KEY", settings.access_token_key)
    _refuse_weak_secret("AUDIT_HASH_KEY", settings.audit_hash_key)
    if settings.bench_mode and settings.environment != "bench":
        # POST /bench/noop answers anyone: a benchmark's baseline, not a production route.
        raise ConfigurationError("BENCH_MODE is for ENVIRONMENT=development or bench only")
    if not _https_or_bench_loopback(settings):
        # The reviewers' session cookie is Secure only on https, and the JWT audience and every
        # canonical URL we publish are built on this.
        raise ConfigurationError("BASE_URL must be https outside development")


def _https_or_bench_loopback(settings: Settings) -> bool:
    """A benchmark measures the service on loopback, where nothing else listens for a cookie."""
    parts = urlsplit(settings.base_url)
    if parts.scheme == "https":
        return True
    loopback = parts.hostname is not None and is_loopback_host(parts.hostname)
    return settings.environment == "bench" and parts.scheme == "http" and loopback


def _refuse_weak_secret(name: str, secret: SecretStr) -> None:
    value = secret.get_secret_value()
    if (
        len(value) < MIN_SECRET_CHARS
        or value.lower().startswith(_PLACEHOLDERS)
        or _estimated_bits(value) < MIN_SECRET_BITS
    ):
        raise ConfigurationError(
            f"{name} must be a random secret of {MIN_SECRET_CHARS} characters or more "
            "(openssl rand -hex 32), not a default, placeholder or repetition"
        )


def _estimated_bits(value: str) -> float:
    counts = Counter(value)
    return -sum(n * math.log2(n / len(value)) for n in counts.values())
