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
    search_cache_control: str = Field(
        default="private, max-age=15",
        description="The search manifest and result fragments. Private: the edge passes them "
        "through (it would serve a stale copy while it refetches), the browser keeps them "
        "this long, so a new or withdrawn article shows in results within it (plus a flush).",
    )
    visibility_timeout: int = Field(default=300, ge=5)
    worker_concurrency: int = Field(
        default=4, ge=1, description="Worker processes; renders wait on S3, so 2 per core."
    )
    flush_lock_seconds: int = Field(
        default=15,
        ge=3,
        description="Lease of the flush lock, renewed while a flush runs: a flush whose worker "
        "died frees it this long after its last renewal.",
    )
    feed_size: int = Field(default=20, ge=1, le=200, description="Items in each RSS/Atom feed.")
    sitemap_urls_per_file: int = Field(
        default=1000,
        ge=10,
        le=50_000,
        description="URLs per sitemap file (the protocol allows 50,000); smaller keeps the "
        "newest file, rewritten on every publish, cheap.",
    )
    hot_window: str = Field(default="all", description="Counter ranking shown as 点击排行.")
    hot_refresh_seconds: float = Field(
        default=60.0, ge=0, description="How often home and sidebar pick up the hot list; 0: off."
    )
    schedule_poll_seconds: float = Field(
        default=0.25,
        gt=0,
        le=10,
        description="How often the scheduler looks for embargoed articles whose instant came.",
    )
    schedule_lease_seconds: float = Field(
        default=30.0,
        ge=1,
        description="An embargoed article the scheduler released but render has not made "
        "live by then (its scheduler died, its message was lost) is released again.",
    )
    rebuild_threads: int = Field(
        default=32,
        ge=1,
        le=64,
        description="S3 requests in flight per rebuild or reindex process; relink threads",
    )
    rebuild_processes: int = Field(
        default=0, ge=0, le=64, description="Rebuild worker processes; 0: one per CPU core."
    )
    rebuild_share: int = Field(
        default=1000, ge=1, description="Articles a rebuild process takes at a time (progress)."
    )
