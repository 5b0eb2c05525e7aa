"""Counter settings (PRESSROOM_*)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import CommonSettings


class CounterSettings(CommonSettings):
    cors_origins: list[str] = Field(
        default_factory=list, description="Site origins whose pages may call the counter."
    )
    dedupe_seconds: int = Field(
        default=30, ge=0, description="One visitor, one article: one hit per window"
    )
    hourly_retention_days: int = Field(default=35, ge=1)
