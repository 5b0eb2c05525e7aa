"""Render logic: publish one article's page, then coalesce the pages that depend on it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from services.render.settings import RenderSettings
from services.render.theme import Theme
from shared.keys import Keys
from shared.logging import get_logger
from shared.models import Article, article_key, pending_key
from shared.site import Channel, SiteConfig
from shared.storage import Storage

log = get_logger("pressroom.render")
HTML = "text/html; charset=utf-8"
SIDEBAR_FRAGMENT = "fragments/sidebar.html"


@dataclass
class RenderContext:
    settings: RenderSettings
    storage: Storage
    redis: redis.Redis
    site: SiteConfig
    keys: Keys
    theme: Theme
    schedule_flush: Callable[[float], object]

    def write_page(self, key: str, body: bytes, kind: str) -> bool:
        self.redis.hincrby(self.keys.render_count, kind, 1)
        return self.storage.site.put(
            key,
            body,
            content_type=HTML,
            cache_control=self.settings.html_cache_control,
            only_if_changed=True,
        )


def publish_article(ctx: RenderContext, article_id: str, version: int) -> str:
    """Render (or withdraw) the article's page from its stored document. Idempotent."""
    raw = ctx.storage.data.get_json(article_key(article_id))
    if raw is None:
        log.warning("render.article.missing", id=article_id, version=version)
        return "missing"
    article = Article.model_validate(raw)
    started = time.perf_counter()
    url = ctx.site.article_path(article.id, article.channel, article.published_at)
    meta_key = ctx.keys.article(article.id)
    previous: dict[str, str] = ctx.redis.hgetall(meta_key)  # type: ignore[assignment]
    old_url, old_channel = previous.get("url"), previous.get("channel")
    if article.unpublished:
        ctx.storage.site.delete(url)
        _unindex(ctx, article.id, {article.channel, old_channel or article.channel})
        outcome = "unpublished"
    else:
        body = ctx.theme.render("article.html.j2", article=article, url=url, sidebar=sidebar(ctx))
        ctx.write_page(url, body, "article")
        _index(ctx, article, url)
        outcome = "published"
    if old_url and old_url != url:
        ctx.storage.site.delete(old_url)
    ctx.redis.hset(
        meta_key,
        mapping={
            "status": outcome,
            "rendered_version": article.version,
            "version": article.version,
            "rendered_at": datetime.now(UTC).isoformat(),
            "error": "",
        },
    )
    _clear_pending(ctx, article.id, article.version)
    mark_dirty(ctx, _dependants(ctx, article, old_channel))
    ms = round((time.perf_counter() - started) * 1000, 1)
    log.info(f"render.article.{outcome}", id=article.id, version=article.version, ms=ms)
    return outcome


def _index(ctx: RenderContext, article: Article, url: str) -> None:
    score = article.published_at.timestamp()
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.hset(
        ctx.keys.article(article.id),
        mapping={
            "title": article.title,
            "url": url,
            "channel": article.channel,
            "published_at": article.published_at.isoformat(),
            "headline": int(article.headline),
        },
    )
    for channel_key in [ctx.keys.channel(c.slug) for c in ctx.site.channels]:
        pipe.zrem(channel_key, article.id)
    pipe.zadd(ctx.keys.channel(article.channel), {article.id: score})
    pipe.zadd(ctx.keys.published, {article.id: score})
    if article.headline:
        pipe.zadd(ctx.keys.headlines, {article.id: score})
    else:
        pipe.zrem(ctx.keys.headlines, article.id)
    pipe.execute()


def _unindex(ctx: RenderContext, article_id: str, channels: set[str]) -> None:
    pipe = ctx.redis.pipeline(transaction=False)
    for channel in channels:
        pipe.zrem(ctx.keys.channel(channel), article_id)
    pipe.zrem(ctx.keys.published, article_id)
    pipe.zrem(ctx.keys.headlines, article_id)
    pipe.execute()


def _clear_pending(ctx: RenderContext, article_id: str, version: int) -> None:
    pending = ctx.storage.data.get_json(pending_key(article_id))
    if pending is not None and int(pending.get("version", 0)) <= version:
        ctx.storage.data.delete(pending_key(article_id))


def _dependants(ctx: RenderContext, article: Article, old_channel: str | None) -> set[str]:
    pages = {"home", "sidebar", f"channel:{article.channel}"}
    if old_channel and old_channel != article.channel:
        pages.add(f"channel:{old_channel}")
    return pages


# --- coalescing ------------------------------------------------------------------------


def mark_dirty(ctx: RenderContext, pages: set[str]) -> None:
    """Remember which pages need a re-render and schedule one flush for the whole burst.

    The SET NX flag means many articles in one window share a single flush task; the
    flush clears the flag before it starts, so anything marked during it gets a new one.
    """
    if not pages:
        return
    ctx.redis.sadd(ctx.keys.dirty, *sorted(pages))
    ttl = max(int(ctx.settings.flush_delay_seconds * 10) + 60, 60)
    if ctx.redis.set(ctx.keys.flush_scheduled, "1", nx=True, ex=ttl):
        ctx.schedule_flush(ctx.settings.flush_delay_seconds)


def flush(ctx: RenderContext) -> dict[str, bool]:
    ctx.redis.delete(ctx.keys.flush_scheduled)
    pages: list[str] = ctx.redis.spop(ctx.keys.dirty, 10_000) or []  # type: ignore[assignment]
    written: dict[str, bool] = {}
    try:
        for page in sorted(pages):
            written[page] = render_dependant(ctx, page)
    except Exception:
        ctx.redis.sadd(ctx.keys.dirty, *pages)  # hand them to the retry
        raise
    if written:
        log.info("render.flush.done", pages=len(written), written=sum(written.values()))
    return written


def render_dependant(ctx: RenderContext, page: str) -> bool:
    kind, _, arg = page.partition(":")
    if kind == "home":
        return render_home(ctx)
    if kind == "sidebar":
        return render_sidebar(ctx)
    if kind == "channel":
        channel = ctx.site.channel(arg)
        return render_channel(ctx, channel) if channel else False
    log.warning("render.flush.unknown_page", page=page)
    return False


# --- dependant pages ---------------------------------------------------------------------


def listing(ctx: RenderContext, zset: str, limit: int) -> list[dict[str, Any]]:
    """Newest `limit` articles of an index, with what a list needs to show them."""
    ids: list[str] = ctx.redis.zrevrange(zset, 0, limit - 1)  # type: ignore[assignment]
    return items_for(ctx, ids)


def items_for(ctx: RenderContext, ids: list[str]) -> list[dict[str, Any]]:
    pipe = ctx.redis.pipeline(transaction=False)
    for aid in ids:
        pipe.hmget(ctx.keys.article(aid), "title", "url", "published_at")
    items = []
    for aid, (title, url, published_at) in zip(ids, pipe.execute(), strict=True):
        if not (title and url and published_at):
            continue
        date = ctx.theme.local_date(datetime.fromisoformat(published_at))
        items.append(
            {
                "id": aid,
                "title": title,
                "url": "/" + url,
                "published_at": published_at,
                "date": date,
            }
        )
    return items


def sidebar(ctx: RenderContext) -> dict[str, Any]:
    size = ctx.site.sidebar_size
    notices = ctx.site.channel(ctx.site.notices_channel)
    hot_ids: list[str] = ctx.redis.zrevrange(ctx.keys.top("all"), 0, size - 1)  # type: ignore[assignment]
    return {
        "headlines": listing(ctx, ctx.keys.headlines, size),
        "notices": listing(ctx, ctx.keys.channel(ctx.site.notices_channel), size),
        "notices_title": notices.name if notices else "",
        "hot": items_for(ctx, hot_ids),
    }


def render_sidebar(ctx: RenderContext) -> bool:
    body = ctx.theme.render("sidebar_blocks.html.j2", sidebar=sidebar(ctx))
    return ctx.write_page(SIDEBAR_FRAGMENT, body, "sidebar")


def render_home(ctx: RenderContext) -> bool:
    sections = [
        {"channel": c, "items": listing(ctx, ctx.keys.channel(c.slug), ctx.site.sidebar_size)}
        for c in ctx.site.channels
    ]
    body = ctx.theme.render("home.html.j2", sections=sections, sidebar=sidebar(ctx))
    return ctx.write_page("index.html", body, "home")


def render_channel(ctx: RenderContext, channel: Channel) -> bool:
    items = listing(ctx, ctx.keys.channel(channel.slug), ctx.site.page_size)
    body = ctx.theme.render(
        "list.html.j2", channel=channel, heading=channel.name, items=items, sidebar=sidebar(ctx)
    )
    return ctx.write_page(f"{channel.slug}/index.html", body, "channel")
