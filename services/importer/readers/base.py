"""The one interface every reader implements: categories first, then articles, streamed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class SourceCategory:
    """A category of the old site, which becomes (or maps onto) a channel."""

    source_id: str
    name: str
    directory: str  # its path on the old site, e.g. "/a/news" (no trailing slash)
    old_urls: tuple[str, ...] = ()  # list pages that redirect to the channel


@dataclass(frozen=True)
class SourceArticle:
    source_id: str
    category_id: str
    title: str
    body_html: str
    published_at: datetime
    source: str = ""
    writer: str = ""
    author: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    headline: bool = False
    hidden: bool = False  # unpublished on the old site
    clicks: int = 0
    lead_image: str | None = None
    old_urls: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class BadRow:
    """A row that cannot become an article, with the reason an operator can act on."""

    source_id: str
    reason: str


class Reader(Protocol):
    """What `pressroom import` reads: a format's categories and its articles, in one pass
    over the articles (memory stays flat with the export's size)."""

    format: str

    def categories(self) -> list[SourceCategory]: ...

    def articles(self) -> Iterator[SourceArticle | BadRow]: ...
