"""The article as stored in the data bucket: the durable source of truth every page comes from."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

import orjson
from pydantic import BaseModel, Field, model_validator


class ArticleStatus(StrEnum):
    QUEUED = "queued"
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"
    FAILED = "failed"
    SCHEDULED = "scheduled"  # held by an embargo until its instant


class ArticleImage(BaseModel):
    """A picture an article shows: fetched by media, served from the site bucket."""

    ref: str = Field(default="", description="media's picture ref; empty: derive from source")
    source: str = Field(description="http(s) URL or media:<id> (an upload)")
    caption: str = ""
    credit: str = Field(default="", description="图片来源")
    alt: str = ""
    decorative: bool = False
    inline: bool = Field(default=False, description="Shown inside body_html, not as the lead")


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
    cover_image: str | None = Field(default=None, description="Legacy: read into images")
    images: list[ArticleImage] = Field(default_factory=list)
    lead_image: str | None = Field(default=None, description="ref of the lead; else the first")
    received_at: datetime
    unpublished: bool = False
    embargoed: datetime | None = Field(default=None, description="Shown nowhere before this")
    updated_at: datetime | None = Field(default=None, description="Last change after publication")
    correction: str = Field(default="", description="更正: what a correction changed")
    fingerprint: str = Field(default="", description="Hash of the feed's input, to spot replays")

    @model_validator(mode="after")
    def _cover_is_an_image(self) -> Article:
        """Documents stored before pictures had a bare cover_image URL: it becomes the lead
        picture, so old articles are served from the site bucket like new ones."""
        if self.cover_image and not any(i.source == self.cover_image for i in self.images):
            self.images.insert(0, ArticleImage(source=self.cover_image))
        self.cover_image = None
        return self

    @property
    def lead(self) -> ArticleImage | None:
        """The picture above the body: `lead_image` if it names one, else the first that is
        not inline (an inline picture already shows in the body)."""
        named = [i for i in self.images if self.lead_image and i.ref == self.lead_image]
        return next(iter(named or [i for i in self.images if not i.inline]), None)

    @property
    def thumbnail(self) -> ArticleImage | None:
        """What lists and the 焦点图 show: the lead, else the first picture of the body."""
        return self.lead or next(iter(self.images), None)

    def held_at(self, now: datetime) -> bool:
        """Whether an embargo still hides this version at `now` (readers see nothing of it)."""
        return not self.unpublished and self.embargoed is not None and self.embargoed > now


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


def pending_entry(article_id: str, version: int) -> bytes:
    """The outbox entry's bytes, always built here: their MD5 (the entry's ETag) then tells
    which version an entry holds without reading it."""
    return orjson.dumps({"id": article_id, "version": version})


def pending_etag(article_id: str, version: int) -> str:
    return hashlib.md5(pending_entry(article_id, version)).hexdigest()
