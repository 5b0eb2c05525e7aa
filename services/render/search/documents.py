"""Search documents: each published article's number, and its fragment on the site bucket.

A document's number orders results by recency without a table the browser must load: it is
the article's publication minute (counted from 1900), moved on to the next free minute when
another article holds it. The fragment (`search/doc/<number>.json`) holds what a result
shows: title, address, date, channel and the start of the text, from which the page cuts
its snippet and checks that the article still says what was searched for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import lxml.html
import orjson
from lxml.etree import ParserError

from services.render.context import RenderContext
from shared.models import Article

EPOCH = datetime(1900, 1, 1, tzinfo=UTC)
FRAGMENT_CHARS = 2_000  # enough for a snippet; past it the page trusts the index's match


@dataclass(frozen=True)
class SearchDocument:
    """What the index needs of a published article (queued by render.article)."""

    id: str
    title: str
    url: str
    published_at: datetime
    channel: str
    text: str

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "title": self.title,
                "url": self.url,
                "published_at": self.published_at.isoformat(),
                "channel": self.channel,
                "text": self.text,
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> SearchDocument:
        data = orjson.loads(raw)
        return cls(**(data | {"published_at": datetime.fromisoformat(data["published_at"])}))

    @classmethod
    def of(cls, article: Article, url: str) -> SearchDocument:
        return cls(
            id=article.id,
            title=article.title,
            url=url,
            published_at=article.published_at,
            channel=article.channel,
            text=plain_text(article.body_html),
        )


def plain_text(body_html: str) -> str:
    """The words of a sanitized body, paragraphs joined by a space."""
    if not body_html.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(body_html, create_parent="div")
    except ParserError:
        return ""
    return " ".join(" ".join(root.itertext()).split())


def fragment_key(number: int) -> str:
    return f"search/doc/{number}.json"


def minute_of(moment: datetime) -> int:
    return max(int((moment - EPOCH).total_seconds() // 60), 0)


def fragment(ctx: RenderContext, doc: SearchDocument) -> bytes:
    channel = ctx.site.channel(doc.channel)
    return orjson.dumps(
        {
            "t": doc.title,
            "u": "/" + doc.url,
            "d": ctx.theme.local_date(doc.published_at),
            "c": channel.name if channel else "",
            "x": doc.text[:FRAGMENT_CHARS],
            "f": len(doc.text) <= FRAGMENT_CHARS,
        }
    )


def assign_number(ctx: RenderContext, doc: SearchDocument) -> tuple[int, int | None]:
    """The document's number, and the one it held before if that changed."""
    held = ctx.redis.hget(ctx.keys.search_numbers, doc.id)
    number = minute_of(doc.published_at)
    while True:
        if ctx.redis.hsetnx(ctx.keys.search_owners, str(number), doc.id):
            break
        if ctx.redis.hget(ctx.keys.search_owners, str(number)) == doc.id:
            break
        number += 1
    old = int(held) if held is not None else None
    if old == number:
        return number, None
    epoch = search_epoch(ctx) if old is not None else 0
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.hset(ctx.keys.search_numbers, doc.id, number)
    pipe.zrem(ctx.keys.search_gone, number)
    if old is not None:
        pipe.hdel(ctx.keys.search_owners, str(old))
        pipe.zadd(ctx.keys.search_gone, {str(old): epoch})
    pipe.execute()
    return number, old


def release_number(ctx: RenderContext, article_id: str) -> int | None:
    """Forget a withdrawn article's number; the index drops it at the next merge."""
    held = ctx.redis.hget(ctx.keys.search_numbers, article_id)
    if held is None:
        return None
    epoch = search_epoch(ctx)
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.hdel(ctx.keys.search_numbers, article_id)
    pipe.hdel(ctx.keys.search_owners, held)
    pipe.zadd(ctx.keys.search_gone, {str(held): epoch})
    pipe.execute()
    return int(held)


def search_epoch(ctx: RenderContext) -> int:
    """The epoch of the newest segment: one written after a withdrawal stamped with it
    cannot hold the withdrawn number."""
    return int(ctx.redis.get(ctx.keys.search_epoch) or 0)
