"""Article pages: the page itself, its previous/next links, and the fingerprint of its inputs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import orjson
from markupsafe import Markup
from redis.client import Pipeline

from services.render.context import Entry, RenderContext
from services.render.pages import entries
from services.render.pictures import (
    Pictures,
    body_with_pictures,
    og_image,
    ref_of,
    states,
    view,
    with_body_pictures,
)
from shared.models import Article, article_key
from shared.text import Printed

DOCUMENT_TTL = 120  # seconds: long enough for the flush after a burst
INLINE_SIZES = "(max-width: 800px) 100vw, 760px"  # the body column is at most 760 px wide


@dataclass(frozen=True)
class Neighbours:
    """The articles just before and after one in its channel (by publication time)."""

    older: Entry | None
    newer: Entry | None

    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in (self.older, self.newer) if e)

    def signature(self) -> str:
        return "|".join(f"{e.id}:{e.title}:{e.url}" if e else "-" for e in (self.older, self.newer))


@dataclass(frozen=True)
class ArticlePage:
    """Everything one article page is rendered from."""

    article: Article
    url: str
    links: Neighbours
    side: Markup
    document_md5: str
    pictures: Pictures | None = None  # their states, when already read


def neighbours(ctx: RenderContext, channel: str, article_id: str) -> Neighbours:
    return neighbours_of(ctx, [(channel, article_id)])[article_id]


def neighbours_of(ctx: RenderContext, articles: list[tuple[str, str]]) -> dict[str, Neighbours]:
    """Neighbours of many (channel, id) at once: three pipelined round trips in all."""
    pipe = ctx.redis.pipeline(transaction=False)
    for channel, aid in articles:
        pipe.zrank(ctx.keys.channel(channel), aid)
    ranks = pipe.execute()
    for (channel, _), rank in zip(articles, ranks, strict=True):
        if rank is not None:
            pipe.zrange(ctx.keys.channel(channel), max(int(rank) - 1, 0), int(rank) + 1)
    windows = iter(pipe.execute())
    around = {
        aid: _either_side(next(windows) if rank is not None else [], aid)
        for (_, aid), rank in zip(articles, ranks, strict=True)
    }
    return _shown(ctx, around)


def neighbours_at(ctx: RenderContext, channel: str, article_id: str, rank: int) -> Neighbours:
    """Neighbours of an article whose rank in its channel is known: two round trips."""
    window: list[str] = ctx.redis.zrange(ctx.keys.channel(channel), max(rank - 1, 0), rank + 1)  # type: ignore[assignment]
    return _shown(ctx, {article_id: _either_side(window, article_id)})[article_id]


def _either_side(ids: list[str], article_id: str) -> tuple[str | None, str | None]:
    at = ids.index(article_id) if article_id in ids else -1
    older = ids[at - 1] if at > 0 else None
    newer = ids[at + 1] if 0 <= at < len(ids) - 1 else None
    return older, newer


def _shown(
    ctx: RenderContext, around: dict[str, tuple[str | None, str | None]]
) -> dict[str, Neighbours]:
    wanted = sorted({n for pair in around.values() for n in pair if n})
    shown = {e.id: e for e in entries(ctx, wanted)}
    return {
        aid: Neighbours(shown.get(older or ""), shown.get(newer or ""))
        for aid, (older, newer) in around.items()
    }


def page_fingerprint(ctx: RenderContext, document_md5: str, links: Neighbours, side: str) -> str:
    """Everything an article page is made of, hashed: equal means the page is unchanged.

    Lets a rebuild skip an article without reading its document or rendering it.
    """
    parts = [
        document_md5,
        ctx.theme.fingerprint,
        str(datetime.now(ctx.theme.tz).year),  # the footer's copyright year may follow today
        links.signature(),
        hashlib.md5(side.encode()).hexdigest(),
    ]
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()


def load_article(
    ctx: RenderContext,
    article_id: str,
    *,
    cached: bool = False,
    remember: Pipeline | None = None,
) -> tuple[Article, str] | None:
    """The stored document and its MD5 (the ETag S3 gives a single-part upload).

    render.article always reads the data bucket and leaves the bytes in Redis (queued on
    the `remember` pipeline) for a couple of minutes; a flush re-rendering the neighbours
    of what was just published (`cached`) takes them from there instead of asking S3 again.
    """
    raw: bytes | None = None
    if cached:
        raw = ctx.binary_redis.get(ctx.keys.document_cache(article_id))  # type: ignore[assignment]
    if raw is None:
        raw = ctx.storage.data.get(article_key(article_id))
        if raw is None:
            return None
        if remember is not None:
            remember.set(ctx.keys.document_cache(article_id), raw, ex=DOCUMENT_TTL)
    return parse_document(raw)


def parse_document(raw: bytes) -> tuple[Article, str]:
    """A stored document's article and MD5 (the ETag S3 gives a single-part upload)."""
    article = with_body_pictures(Article.model_validate(orjson.loads(raw)))
    return article, hashlib.md5(raw).hexdigest()


def article_page(
    ctx: RenderContext,
    article: Article,
    url: str,
    links: Neighbours,
    side: Markup,
    found: Pictures | None = None,
) -> bytes:
    """The page; `found` is the pictures' states when the caller read them already."""
    if found is None:
        found = states(ctx, [ref_of(i) for i in article.images])
    inline = ctx.theme.env.get_template("_picture.html.j2").module.picture  # type: ignore[attr-defined]
    og = og_image(article, found)
    return ctx.render(
        "article.html.j2",
        article=article,
        url=url,
        older=links.older,
        newer=links.newer,
        sidebar_html=Printed(side),  # refresh_sidebar's, printed by the theme already
        lead_picture=view(article.lead, found, lead=True, title=article.title),
        body_html=body_with_pictures(
            article.body_html, article, found, lambda shown: str(inline(shown, INLINE_SIZES))
        ),
        og_image=ctx.theme.absolute(og) if og else None,
    )
