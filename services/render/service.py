"""Render logic: publish (or withdraw) one article's page, then mark what depends on it.

Publishing touches the article's own page and a fixed set of dependants: its channel's
index, the newest archive page(s), the neighbours whose previous/next links change, the
feeds, the newest sitemap file, home and the sidebar. None of it grows with the archive.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.typing import EncodableT, FieldT

from services.render.articles import Neighbours, load_article, neighbours, render_article_page
from services.render.coalesce import mark_dirty
from services.render.context import RenderContext
from services.render.pagination import page_of
from shared.logging import get_logger
from shared.models import Article

log = get_logger("pressroom.render")

__all__ = ["RenderContext", "publish_article"]


@dataclass(frozen=True)
class Placement:
    """Where an article sits in the indexes, and what lists show of it."""

    channel: str
    rank: int  # in its channel, oldest first
    published_rank: int  # among all published articles
    neighbour_ids: tuple[str, ...]
    shown: tuple[str, ...]  # what lists, feeds and neighbours' links show


def publish_article(ctx: RenderContext, article_id: str, version: int) -> str:
    """Render (or withdraw) the article's page from its stored document. Idempotent."""
    loaded = load_article(ctx, article_id, remember=True)
    if loaded is None:
        log.warning("render.article.missing", id=article_id, version=version)
        return "missing"
    article, document_md5 = loaded
    started = time.perf_counter()
    url = ctx.article_url(article.id, article.channel, article.published_at)
    previous: dict[str, str] = ctx.redis.hgetall(ctx.keys.article(article.id))  # type: ignore[assignment]
    before = placement(ctx, article.id, previous)
    if previous.get("url") and previous["url"] != url:
        ctx.delete_page(previous["url"])
    if article.unpublished:
        ctx.delete_page(url)
        _unindex(ctx, article.id, {article.channel, previous.get("channel") or article.channel})
        after = None
    else:
        _index(ctx, article, url)
        links = neighbours(ctx, article.channel, article.id)
        new = not previous.get("rendered_version") or previous.get("url") != url
        render_article_page(ctx, article, document_md5, links=links, new=new)
        shown = {str(k): str(v) for k, v in index_fields(article, url).items()}
        after = placement(ctx, article.id, shown, links)
    outcome = "unpublished" if article.unpublished else "published"
    _record(ctx, article, outcome)
    _clear_pending(ctx, article.id)
    pages, series = dependants(ctx, article.id, before, after)
    mark_dirty(ctx, pages, series)
    ms = round((time.perf_counter() - started) * 1000, 1)
    log.info(f"render.article.{outcome}", id=article.id, version=article.version, ms=ms)
    return outcome


def placement(
    ctx: RenderContext, article_id: str, meta: dict[str, str], links: Neighbours | None = None
) -> Placement | None:
    channel = meta.get("channel")
    if not channel:
        return None
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.zrank(ctx.keys.channel(channel), article_id)
    pipe.zrank(ctx.keys.published, article_id)
    rank, published_rank = pipe.execute()
    if rank is None or published_rank is None:
        return None
    links = links or neighbours(ctx, channel, article_id)
    fields = ("title", "url", "published_at", "summary", "headline", "updated_at")
    return Placement(
        channel=channel,
        rank=int(rank),
        published_rank=int(published_rank),
        neighbour_ids=tuple(e.id for e in (links.older, links.newer) if e),
        shown=tuple(meta.get(f, "") for f in fields),
    )


def dependants(
    ctx: RenderContext, article_id: str, before: Placement | None, after: Placement | None
) -> tuple[set[str], dict[str, int]]:
    """Pages to re-render, and the lowest dirty page of each numbered series."""
    pages = {"home", "sidebar", "feeds:site"}
    series: dict[str, int] = {}
    moved = before is None or after is None or before.shown != after.shown
    size, chunk = ctx.site.page_size, ctx.settings.sitemap_urls_per_file
    for place in (p for p in (before, after) if p is not None):
        pages |= {f"channel:{place.channel}", f"feeds:{place.channel}"}
        if moved:
            pages |= {f"article:{n}" for n in place.neighbour_ids if n != article_id}
        _lowest(series, f"archive:{place.channel}", page_of(place.rank, size))
        _lowest(series, "sitemap", page_of(place.published_rank, chunk))
    return pages, series


def _lowest(series: dict[str, int], name: str, page: int) -> None:
    series[name] = min(series.get(name, page), page)


def _index(ctx: RenderContext, article: Article, url: str) -> None:
    score = article.published_at.timestamp()
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.hset(ctx.keys.article(article.id), mapping=index_fields(article, url))
    for channel in ctx.site.channels:
        if channel.slug != article.channel:
            pipe.zrem(ctx.keys.channel(channel.slug), article.id)
    pipe.zadd(ctx.keys.channel(article.channel), {article.id: score})
    pipe.zadd(ctx.keys.published, {article.id: score})
    if article.headline:
        pipe.zadd(ctx.keys.headlines, {article.id: score})
    else:
        pipe.zrem(ctx.keys.headlines, article.id)
    pipe.execute()


def index_fields(article: Article, url: str) -> dict[FieldT, EncodableT]:
    """What lists, feeds and the sitemap show of an article (kept in its Redis hash)."""
    return {
        "title": article.title,
        "url": url,
        "channel": article.channel,
        "published_at": article.published_at.isoformat(),
        "updated_at": article.received_at.isoformat(),
        "summary": article.summary,
        "headline": int(article.headline),
    }


def _unindex(ctx: RenderContext, article_id: str, channels: set[str]) -> None:
    pipe = ctx.redis.pipeline(transaction=False)
    for channel in channels:
        pipe.zrem(ctx.keys.channel(channel), article_id)
    pipe.zrem(ctx.keys.published, article_id)
    pipe.zrem(ctx.keys.headlines, article_id)
    pipe.hdel(ctx.keys.page_inputs, article_id)
    pipe.execute()


def _record(ctx: RenderContext, article: Article, outcome: str) -> None:
    ctx.redis.hset(
        ctx.keys.article(article.id),
        mapping={
            "status": outcome,
            "rendered_version": article.version,
            "rendered_at": datetime.now(UTC).isoformat(),
            "error": "",
        },
    )


def _clear_pending(ctx: RenderContext, article_id: str) -> None:
    """Hand the outbox entry to the next flush, which deletes a burst's in one request."""
    ctx.redis.sadd(ctx.keys.outbox_done, article_id)
