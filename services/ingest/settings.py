"""Ingest settings (PRESSROOM_*)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from services.ingest.feeds import SecretBox, SecretsKeyMissing, check_secrets_keys
from shared.settings import CommonSettings


class IngestSettings(CommonSettings):
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    body_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        description="A request body must arrive whole within this, or it is answered 408.",
    )
    max_batch_items: int = Field(default=500, ge=1, le=5000)
    batch_threads: int = Field(
        default=8, ge=1, le=32, description="Articles of one batch stored side by side."
    )
    feed_cache_seconds: float = Field(default=10.0, ge=0)
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    retry_after_seconds: int = Field(default=5, ge=1)
    body_max_depth: int = Field(
        default=100,
        ge=10,
        description="body_html nested deeper than this is refused (422) before sanitizing: "
        "the sanitizer's cost grows faster than the nesting.",
    )
    body_max_elements: int = Field(
        default=20_000,
        ge=100,
        description="body_html with more elements than this (counting those an HTML parser "
        "would re-open for misnested formatting tags) is refused (422) before sanitizing.",
    )
    body_max_references: int = Field(
        default=10_000,
        ge=100,
        description="body_html with more character references (&) than this in one text "
        "run is refused (422) before sanitizing: their cost grows with the run's length.",
    )
    body_max_growth: float = Field(
        default=4.0,
        ge=1.0,
        description="A body_html the sanitizer would make this many times larger (beyond "
        "a 64 KiB allowance) is refused (413); it is never larger than max_body_bytes.",
    )
    reconcile_interval_seconds: float = Field(
        default=30.0, gt=0, description="How often beat runs the reconciler."
    )
    reconcile_grace_seconds: float = Field(
        default=20.0, ge=0, description="A pending entry younger than this is left to its render."
    )
    reconcile_requeue_hold_seconds: float | None = Field(
        default=None,
        gt=0,
        description="A pending entry the reconciler re-enqueued is not re-enqueued again "
        "before this, so a backlogged render queue gets no duplicate each run (default: "
        "four reconcile intervals).",
    )
    reconcile_abandon_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="A pending entry whose version never got stored is dropped.",
    )
    signature_window_seconds: float = Field(
        default=300.0,
        ge=10,
        le=3600,
        description="A signed feed's X-Pressroom-Timestamp may be this far from ingest's "
        "clock; each signature is accepted once.",
    )
    accept_legacy_signatures: bool = Field(
        default=True,
        description="Deprecated, and off by default from the next release: also accept "
        "signatures of the timestamp and body alone (sha256=...), which a captured request "
        "could carry to another route; each one accepted is logged "
        "(ingest.signature.legacy) and counted (pressroom_ingest_legacy_signatures_total).",
    )
    feed_secrets_key: SecretStr | None = Field(
        default=None,
        description="Fernet keys sealing feeds' signing secrets in the data bucket, comma-"
        "separated, newest first: the first seals, any opens (`pressroom feeds "
        "new-secrets-key` makes one; `pressroom feeds reseal` moves every secret to the "
        "first). Required in production.",
    )

    @property
    def requeue_hold_seconds(self) -> float:
        return self.reconcile_requeue_hold_seconds or 4 * self.reconcile_interval_seconds

    @property
    def feed_secrets_keys(self) -> list[str]:
        given = self.feed_secrets_key.get_secret_value() if self.feed_secrets_key else ""
        return [key.strip() for key in given.split(",") if key.strip()]

    @model_validator(mode="after")
    def _refuse_unusable_feed_secrets_key(self) -> IngestSettings:
        if self.feed_secrets_key is not None:
            try:
                check_secrets_keys(self.feed_secrets_keys or [""])
            except ValueError:
                raise ValueError(
                    "PRESSROOM_FEED_SECRETS_KEY must be Fernet keys (32 url-safe base64 "
                    "bytes each, comma-separated): make one with `pressroom feeds "
                    "new-secrets-key`"
                ) from None
        return self

    def secret_box(self) -> SecretBox:
        """What seals and opens feeds' signing secrets; production refuses to go without."""
        if not self.feed_secrets_keys and self.environment == "production":
            raise SecretsKeyMissing()
        return SecretBox(self.feed_secrets_keys)
