"""Settings every service shares: where Redis and the object store live, and what to call things."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "dev", "development", ""}


class CommonSettings(BaseSettings):
    """Base for each service's `Settings`; every field reads `PRESSROOM_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="PRESSROOM_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "production"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_cluster: bool = Field(
        default=False, description="Treat redis_url as a Redis Cluster seed node (counter only)."
    )
    broker_url: str | None = Field(
        default=None, description="Celery broker; defaults to redis_url (kombu cannot use Cluster)."
    )
    key_prefix: str = Field(default="pr:", pattern=r"^[A-Za-z0-9:_.-]{0,32}$")
    queue_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]{0,32}$")

    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = Field(
        default=None,
        description="S3 key pair; when unset, botocore's standard chain (AWS_* variables, "
        "AWS_PROFILE and the shared credentials file, SSO, web identity, container or "
        "instance role)",
    )
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="Secret of PRESSROOM_S3_ACCESS_KEY_ID (both or neither)"
    )
    s3_addressing_style: Literal["path", "virtual", "auto"] = "path"
    site_bucket: str = "pressroom-site"
    data_bucket: str = "pressroom-data"

    site_config: Path = REPO_ROOT / "config" / "site.toml"
    site_base_url: str | None = Field(
        default=None, description="Public origin of the site; overrides base_url in site_config"
    )
    log_level: str = "INFO"
    log_json: bool = True
    worker_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port (all interfaces) a Celery worker serves Prometheus /metrics on; "
        "unset: none. With the prefork pool, PROMETHEUS_MULTIPROC_DIR must name a directory "
        "of that worker's own.",
    )

    @property
    def celery_broker_url(self) -> str:
        if self.redis_cluster and not self.broker_url:
            raise ValueError(
                "PRESSROOM_REDIS_CLUSTER is on but PRESSROOM_BROKER_URL is not set: the Celery "
                "broker needs a single Redis (or Sentinel); kombu cannot use Redis Cluster"
            )
        return self.broker_url or self.redis_url

    @field_validator("s3_access_key_id", "s3_secret_access_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # an empty line in .env leaves the chain on

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> CommonSettings:
        if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
            raise ValueError(
                "set both PRESSROOM_S3_ACCESS_KEY_ID and PRESSROOM_S3_SECRET_ACCESS_KEY, or "
                "neither (then the standard AWS credential chain is used)"
            )
        if self.environment == "production" and self.s3_secret_access_key is not None:
            secret = self.s3_secret_access_key.get_secret_value()
            if secret.lower() in PLACEHOLDER_SECRETS | {"pressroom"}:
                raise ValueError(
                    "PRESSROOM_S3_SECRET_ACCESS_KEY holds a placeholder; set a real secret "
                    "or PRESSROOM_ENVIRONMENT=development"
                )
        return self
