"""Ingest settings (PRESSROOM_*)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import CommonSettings


class IngestSettings(CommonSettings):
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    feed_cache_seconds: float = Field(default=10.0, ge=0)
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    retry_after_seconds: int = Field(default=5, ge=1)
