"""The site configuration: everything on a page that does not come from the article."""

from __future__ import annotations

import tomllib
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, model_validator


class Link(BaseModel):
    """A link of the nav or footer: to a URL, or to a site page by its slug."""

    title: str
    url: str = ""
    page: str | None = Field(default=None, description="A site page's slug: url /{page}.html")

    @model_validator(mode="after")
    def _page_or_url(self) -> Link:
        if (self.page is None) == (not self.url):
            raise ValueError("a link names either a url or a page")
        if self.page is not None:
            self.url = f"/{self.page}.html"
        return self


class Channel(BaseModel):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    name: str
    in_nav: bool = True
    description: str = Field(default="", description="Meta description of its list pages")


class Footer(BaseModel):
    links: list[Link] = Field(default_factory=list)
    copyright_start: int
    copyright_end: int | None = None
    licence: str = ""
    icp: str = ""
    icp_url: str = "https://beian.miit.gov.cn/"
    public_security: str = ""
    public_security_url: str = "https://www.beian.gov.cn/"
    address: str = ""
    report_phone: str = ""


class SiteConfig(BaseModel):
    name: str
    base_url: str = Field(description="Public origin of the site, e.g. https://news.example.cn")
    description: str = Field(default="", description="Meta description of the home page")
    language: str = "zh-CN"
    timezone: str = Field(default="Asia/Shanghai", description="Dates on pages are shown here")
    counter_path: str = Field(
        default="/api/counter", description="Where pages reach the counter (same origin)."
    )
    article_url: str = Field(
        default="{channel}/{published_at:%Y%m}/{id}.html",
        description="Path of an article page; fields: id, channel, published_at.",
    )
    home_label: str = "首页"
    article_crumb: str = "新闻内页"
    headline_title: str = "头条"
    hot_title: str = "点击排行"
    notices_channel: str = "notices"
    default_channel: str = "news"
    page_size: int = Field(default=20, ge=1, le=200)
    sidebar_size: int = Field(default=8, ge=1, le=50)
    nav: list[Link] = Field(default_factory=list)
    channels: list[Channel]
    friend_links: list[Link] = Field(default_factory=list)
    footer: Footer

    def channel(self, slug: str) -> Channel | None:
        return next((c for c in self.channels if c.slug == slug), None)

    def article_path(self, article_id: str, channel: str, published_at: datetime) -> str:
        return self.article_url.format(id=article_id, channel=channel, published_at=published_at)


@lru_cache(maxsize=8)
def load_site(path: Path, base_url: str | None = None) -> SiteConfig:
    """Read the site file; `base_url` (PRESSROOM_SITE_BASE_URL) overrides its base_url, so
    one file serves staging and production."""
    with path.open("rb") as f:
        site = SiteConfig.model_validate(tomllib.load(f))
    return site.model_copy(update={"base_url": base_url}) if base_url else site
