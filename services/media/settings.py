"""Media settings (PRESSROOM_MEDIA_*): what may be fetched, how big, and what is rendered."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from shared.settings import CommonSettings

Network = IPv4Network | IPv6Network


class MediaSettings(CommonSettings):
    media_allowed_networks: Annotated[list[Network], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated networks pictures may be fetched from although they are "
        "loopback, private, link-local or reserved (e.g. 10.20.0.0/16 for an agency's "
        "server on a private link); `pressroom run` adds loopback. Empty: public only.",
    )
    media_max_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024, description="Largest picture fetched or uploaded."
    )
    media_max_pixels: int = Field(
        default=60_000_000,
        ge=1_000_000,
        le=150_000_000,
        description="Largest picture (width x height, read from its header before decoding).",
    )
    media_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    media_read_timeout_seconds: float = Field(
        default=15.0, gt=0, description="Longest wait for the next bytes of a picture."
    )
    media_fetch_seconds: float = Field(
        default=60.0, gt=0, description="Longest a picture's whole download may take."
    )
    media_fetch_attempts: int = Field(
        default=5,
        ge=1,
        le=20,
        description="Tries for an upstream that is down (5xx, no connection), with backoff.",
    )
    media_widths: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [320, 640, 960, 1280, 1920],
        description="Comma-separated widths of the renditions (never wider than the original).",
    )
    media_format: Literal["webp", "avif"] = Field(
        default="webp",
        description="The modern format beside the JPEG fallback (AVIF is smaller and slower).",
    )
    media_jpeg_quality: int = Field(default=80, ge=30, le=95)
    media_modern_quality: int = Field(default=75, ge=30, le=95)
    media_cache_control: str = "public, max-age=31536000, immutable"
    media_sweep_grace_seconds: float = Field(
        default=7 * 86400.0,
        ge=0,
        description="A picture no article has shown for this long is removed by the daily sweep.",
    )
    media_reconcile_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often beat looks for pictures whose fetch was lost, to queue them again.",
    )
    media_user_agent: str = "Pressroom-media/1.0"

    @field_validator("media_allowed_networks", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, str):
            return [ip_network(part, strict=False) for part in _items(value)]
        return value

    @field_validator("media_widths", mode="before")
    @classmethod
    def _widths(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in _items(value)]
        return value

    @field_validator("media_widths")
    @classmethod
    def _widths_sane(cls, value: list[int]) -> list[int]:
        if not value or any(not 16 <= width <= 8192 for width in value):
            raise ValueError("media_widths: one or more widths between 16 and 8192")
        return sorted(set(value))


def _items(value: str) -> list[str]:
    """The items of "a,b" or of a JSON list (how .env.example spells a default)."""
    parts = value.strip().removeprefix("[").removesuffix("]").split(",")
    return [part.strip().strip("\"' ") for part in parts if part.strip().strip("\"' ")]
