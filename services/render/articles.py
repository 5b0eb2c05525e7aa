"""Article pages: the page itself, its previous/next links, and the fingerprint of its inputs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import orjson
from markupsafe import Markup

from services.render.context import Entry, RenderContext
from services.render.pages import entries, sidebar_html
from shared.models import Article, article_key

DOCUMENT_TTL = 120  # seconds: long enough for the flush after a burst


@dataclass(frozen=True)
class Neighbours:
    """The articles just before and after one in its channel (by publication time)."""

    older: Entry | None
    newer: Entry | None

    def signature(self) -> str:
        return "|".join(f"{e.id}:{e.title}:{e.url}" if e else "-" for e in (self.older, self.newer))


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
    around: dict[str, tuple[str | None, str | None]] = {}
    for (_, aid), rank in zip(articles, ranks, strict=True):
        ids: list[str] = next(windows) if rank is not None else []
        at = ids.index(aid) if aid in ids else -1
        older = ids[at - 1] if at > 0 else None
        newer = ids[at + 1] if 0 <= at < len(ids) - 1 else None
        around[aid] = (older, newer)
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
    ctx: RenderContext, article_id: str, *, cached: bool = False, remember: bool = False
) -> tuple[Article, str] | None:
    """The stored document and its MD5 (the ETag S3 gives a single-part upload).

    render.article always reads the data bucket and leaves the bytes in Redis (`remember`)
    for a couple of minutes; a flush re-rendering the neighbours of what was just published
    (`cached`) takes them from there instead of asking S3 again.
    """
    raw: bytes | None = None
    if cached:
        raw = ctx.binary_redis.get(ctx.keys.document_cache(article_id))  # type: ignore[assignment]
    if raw is None:
        raw = ctx.storage.data.get(article_key(article_id))
        if raw is None:
            return None
        if remember:
            ctx.binary_redis.set(ctx.keys.document_cache(article_id), raw, ex=DOCUMENT_TTL)
    return Article.model_validate(orjson.loads(raw)), hashlib.md5(raw).hexdigest()


def render_article_page(
    ctx: RenderContext,
    article: Article,
    document_md5: str,
    *,
    links: Neighbours | None = None,
    side: Markup | None = None,
    new: bool = False,
) -> bool:
    """Write the article's page; `new` when it was never rendered (no need to ask S3)."""
    url = ctx.article_url(article.id, article.channel, article.published_at)
    links = links or neighbours(ctx, article.channel, article.id)
    side = side if side is not None else sidebar_html(ctx)
    body = article_page(ctx, article, url, links, side)
    written = ctx.write_page(url, body, "article", new=new)
    fingerprint = page_fingerprint(ctx, document_md5, links, str(side))
    ctx.redis.hset(ctx.keys.page_inputs, article.id, fingerprint)
    return written


def article_page(
    ctx: RenderContext, article: Article, url: str, links: Neighbours, side: Markup
) -> bytes:
    return ctx.render(
        "article.html.j2",
        article=article,
        url=url,
        older=links.older,
        newer=links.newer,
        sidebar_html=side,
    )


def rerender_article(ctx: RenderContext, article_id: str) -> bool:
    """Re-render a published article whose neighbours changed (from a flush).

    Skipped when its page was already rendered with today's neighbours (a worker running
    beside the one that published the newer article may have seen it already).
    """
    loaded = load_article(ctx, article_id, cached=True)
    if loaded is None or loaded[0].unpublished:
        return False
    article, md5 = loaded
    if ctx.redis.zscore(ctx.keys.channel(article.channel), article.id) is None:
        return False  # not indexed yet: its own render.article will render it
    links = neighbours(ctx, article.channel, article.id)
    side = sidebar_html(ctx)
    known = ctx.redis.hget(ctx.keys.page_inputs, article.id)
    if known == page_fingerprint(ctx, md5, links, str(side)):
        return False
    return render_article_page(ctx, article, md5, links=links, side=side)
