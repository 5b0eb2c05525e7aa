"""The article as stored in the data bucket: the durable source of truth every page comes from."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class ArticleStatus(StrEnum):
    QUEUED = "queued"
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"
    FAILED = "failed"


class Article(BaseModel):
    """One version of an article, already validated and sanitized by ingest."""

    id: str
    feed: str
    external_id: str
    version: int = Field(ge=1)
    title: str
    body_html: str = ""
    summary: str = ""
    source: str = ""
    author: str = ""
    editor: str = ""
    channel: str
    tags: list[str] = Field(default_factory=list)
    headline: bool = False
    published_at: datetime
    cover_image: str | None = None
    received_at: datetime
    unpublished: bool = False
    embargoed: datetime | None = Field(default=None, description="Shown nowhere before this")
    updated_at: datetime | None = Field(default=None, description="Last change after publication")
    correction: str = Field(default="", description="更正: what a correction changed")
    fingerprint: str = Field(default="", description="Hash of the feed's input, to spot replays")


def article_key(article_id: str) -> str:
    """Data-bucket key of an article's current version."""
    return f"articles/{article_id}.json"


def version_key(article_id: str, version: int, withdrawn: bool = False) -> str:
    """History: each version as received. A withdrawal shares its version number with the
    publish it takes down, so it is kept beside it (and lists after it)."""
    return f"articles/{article_id}/v{version:010d}{'.withdrawn' if withdrawn else ''}.json"


def pending_key(article_id: str) -> str:
    """Outbox entry: written with the article, removed once its page is rendered."""
    return f"pending/{article_id}"
