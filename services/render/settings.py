"""Render settings (PRESSROOM_*)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.settings import CommonSettings


class RenderSettings(CommonSettings):
    theme_dir: Path | None = Field(
        default=None, description="Operator templates/static that override the built-in theme."
    )
    flush_delay_seconds: float = Field(
        default=1.0, ge=0, description="Coalescing window for list pages, home, feeds, sitemap."
    )
    html_cache_control: str = "public, max-age=60"
    asset_cache_control: str = "public, max-age=31536000, immutable"
    visibility_timeout: int = Field(default=300, ge=5)
    worker_concurrency: int = Field(default=2, ge=1)
