"""Ingest's request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.models import ArticleStatus
from shared.text import EARLIEST, LATEST, in_range, visible, xml_unsafe

EXAMPLE_ARTICLE: dict[str, Any] = {
    "external_id": "cctv-2022-07-11-0001",
    "title": "教育部:推动1000所以上高校支撑服务10000家以上企业科技进步和产业发展",
    "body_html": "<p>总台记者今天(7月11日)从教育部获悉……</p>",
    "source": "央视新闻",
    "editor": "单思月",
    "channel": "news",
    "headline": True,
    "published_at": "2022-07-11T09:30:00+08:00",
}


class ImageIn(BaseModel):
    """One picture of a native article: a remote URL (`href`) or an upload (`media_id`)."""

    model_config = ConfigDict(extra="forbid")

    href: HttpUrl | None = Field(default=None, description="http(s) only")
    media_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="from POST /v1/media"
    )
    caption: str = Field(default="", max_length=1_000)
    credit: str = Field(default="", max_length=200, description="图片来源")
    alt: str = Field(default="", max_length=1_000, description="else the caption")
    decorative: bool = Field(default=False, description='alt="" on the page')

    @field_validator("caption", "credit", "alt")
    @classmethod
    def _text(cls, value: str) -> str:
        if bad := xml_unsafe(value):
            raise ValueError(f"contains {bad}, a character XML 1.0 does not allow")
        return value.strip()

    @model_validator(mode="after")
    def _one_source(self) -> ImageIn:
        if (self.href is None) == (self.media_id is None):
            raise ValueError("give exactly one of href and media_id")
        return self

    @property
    def source(self) -> str:
        return str(self.href) if self.href is not None else f"media:{self.media_id}"

    def names(self, value: str) -> bool:
        """Whether `lead_image` means this picture: its media_id, or its href as sent or as
        normalized ("https://a.cn" is "https://a.cn/")."""
        if self.href is None:
            return value in {self.media_id, self.source}
        try:
            return str(self.href) == str(HttpUrl(value))
        except ValueError:
            return False


class ArticleIn(BaseModel):
    """A native article as an upstream feed sends it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_ARTICLE]})

    external_id: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    title: str = Field(min_length=1, max_length=300)
    body_html: str = Field(default="", max_length=1_000_000)
    summary: str = Field(default="", max_length=2_000)
    source: str = Field(default="", max_length=100, description="来源")
    author: str = Field(default="", max_length=100)
    editor: str = Field(default="", max_length=100, description="编辑")
    channel: str | None = Field(default=None, max_length=40)
    tags: list[str] = Field(default_factory=list, max_length=50)
    headline: bool = Field(default=False, description="头条 flag")
    published_at: AwareDatetime | None = Field(default=None, description="RFC 3339")
    embargoed: AwareDatetime | None = Field(
        default=None, description="RFC 3339: shown nowhere before this instant; null lifts it"
    )
    updated_at: AwareDatetime | None = Field(
        default=None, description="RFC 3339: when the story last changed (更新时间)"
    )
    correction: str = Field(default="", max_length=2_000, description="更正 notice to show")
    version: int | None = Field(default=None, ge=1, le=2**53)
    cover_image: HttpUrl | None = Field(default=None, description="Same as a first image")
    images: list[ImageIn] = Field(default_factory=list, max_length=50)
    lead_image: str | None = Field(
        default=None, max_length=2_100, description="href or media_id of the lead; else the first"
    )

    @field_validator("*")
    @classmethod
    def _publishable(cls, value: Any) -> Any:
        """Every field, present and future: only text XML can carry, only dates every time
        zone can show, so that no single article can break a page, a feed or a flush."""
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, datetime) and not in_range(item):
                raise ValueError(
                    f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"
                )
            if isinstance(item, str | HttpUrl) and (bad := xml_unsafe(str(item))):
                raise ValueError(f"contains {bad}, a character XML 1.0 does not allow")
        return value

    @field_validator("title", "source", "author", "editor", "summary", "correction")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("title")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not visible(value):
            raise ValueError("title must have a visible character")
        return value

    @field_validator("lead_image")
    @classmethod
    def _lead_is_an_image(cls, value: str | None, info: ValidationInfo) -> str | None:
        images: list[ImageIn] = info.data.get("images", [])
        if value is not None and not any(i.names(value) for i in images):
            raise ValueError("must be the href or media_id of one of images")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        cleaned = [t.strip() for t in tags if t.strip()]
        if any(len(t) > 50 for t in cleaned):
            raise ValueError("each tag must be at most 50 characters")
        return cleaned


class ArticleAccepted(BaseModel):
    id: str
    version: int
    status: ArticleStatus
    url: str
    changed: bool = Field(description="False when the request changed nothing (replay or older)")
    detail: str = ""


class PictureStatus(BaseModel):
    """One picture of an article, as media last recorded it."""

    ref: str
    source: str
    state: str = Field(description="pending, ready or failed")
    error: str | None = Field(default=None, description="why it failed")
    lead: bool = False


class ArticleState(BaseModel):
    id: str
    status: ArticleStatus
    version: int
    rendered_version: int | None = None
    url: str
    title: str
    channel: str
    received_at: datetime
    published_at: datetime
    rendered_at: datetime | None = None
    error: str | None = None
    embargoed: datetime | None = Field(default=None, description="scheduled: live at this instant")
    updated_at: datetime | None = None
    correction: str = ""
    pictures: list[PictureStatus] = Field(default_factory=list)


class VersionOut(BaseModel):
    """One stored version of an article, as the feed sent it."""

    version: int
    received_at: datetime
    title: str
    correction: str = ""
    embargoed: datetime | None = None
    withdrawn: bool = Field(description="A kill or hold: the page was taken down")


class VersionsOut(BaseModel):
    id: str
    versions: list[VersionOut] = Field(description="Oldest first; a withdrawal after its publish")


class BatchIn(BaseModel):
    """`POST /v1/articles:batch` with application/json: native articles, each on its own."""

    articles: list[dict[str, Any]] = Field(
        min_length=1, description="Native articles (ArticleIn); at most max_batch_items"
    )


class ItemResult(BaseModel):
    """The outcome of one item of a batch or feed document."""

    index: int
    external_id: str | None = None
    status: int = Field(description="HTTP status this item would have had on its own")
    article: ArticleAccepted | None = None
    problem: dict[str, Any] | None = Field(default=None, description="problem+json when refused")


class BatchAccepted(BaseModel):
    accepted: int = Field(description="Items stored as a new version")
    unchanged: int = Field(description="Items that changed nothing (replay, older version)")
    rejected: int
    items: list[ItemResult]


class PageIn(BaseModel):
    """`PUT /v1/pages/{slug}`: a site page (about, disclaimer, ad rates...)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"title": "关于我们", "body_html": "<p>本站简介……</p>"}]},
    )

    title: str = Field(min_length=1, max_length=300)
    body_html: str = Field(default="", max_length=1_000_000)

    @field_validator("title", "body_html")
    @classmethod
    def _printable(cls, value: str) -> str:
        if bad := xml_unsafe(value):
            raise ValueError(f"contains {bad}, a character XML 1.0 does not allow")
        return value

    @field_validator("title")
    @classmethod
    def _visible_title(cls, value: str) -> str:
        value = value.strip()
        if not visible(value):
            raise ValueError("title must have a visible character")
        return value


class PageState(BaseModel):
    slug: str
    url: str = Field(description="Public address of the page")
    title: str
    body_html: str = Field(description="As stored: sanitized")
    updated_at: datetime


class PageAccepted(BaseModel):
    slug: str
    url: str
    status: str = Field(description="queued: the page is (re)rendered or removed shortly")
    changed: bool = Field(description="False when the request changed nothing")
