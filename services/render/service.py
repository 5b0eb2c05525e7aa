"""Render logic: publish (or withdraw) one article's page, then mark what depends on it.

Publishing touches the article's own page and a fixed set of dependants: its channel's
index, the newest archive page(s), the neighbours whose previous/next links change, the
feeds, the newest sitemap file, home and the sidebar. None of it grows with the archive.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup
from redis.client import Pipeline
from redis.typing import EncodableT, FieldT

from services.render import schedule
from services.render.articles import (
    ArticlePage,
    Neighbours,
    article_page,
    load_article,
    neighbours,
    neighbours_at,
    page_fingerprint,
)
from services.render.context import HTML, RenderContext
from services.render.dirty import flush_soon, queue_dirty
from services.render.failures import INFRASTRUCTURE, check_article, fail_article, reason_of
from services.render.pages import sidebar_html
from services.render.pagination import page_of
from services.render.pictures import prepare, release, thumbnail_fields
from services.render.search.index import queue_document
from shared.logging import get_logger
from shared.models import Article

log = get_logger("pressroom.render")

__all__ = ["RenderContext", "publish_article"]
# What lists, feeds and neighbours' links show of an article: a change moves its neighbours.
SHOWN = ("title", "url", "published_at", "summary", "headline", "updated_at")


@dataclass(frozen=True)
class Placement:
    """Where an article sits in the indexes, and what lists show of it."""

    channel: str
    rank: int  # in its channel, oldest first
    published_rank: int  # among all published articles
    neighbour_ids: tuple[str, ...]
    shown: tuple[str, ...]  # what lists, feeds and neighbours' links show


def publish_article(ctx: RenderContext, article_id: str, version: int) -> str:
    """Render (or withdraw) the article's page from its stored document. Idempotent.

    An article whose own content cannot be rendered is marked failed and taken out of the
    lists (returns "failed"), so that retrying it can never hold up any other article;
    faults of the store or Redis propagate, for the task to retry.
    """
    try:
        return _publish(ctx, article_id, version)
    except INFRASTRUCTURE:
        raise
    except Exception as exc:
        fail_article(ctx, article_id, reason_of(exc), stage="article", version=version)
        return "failed"


def _publish(ctx: RenderContext, article_id: str, version: int) -> str:
    """A new article costs one S3 GET, one PUT and five Redis round trips: what it reads is
    asked together, and everything recorded after the page is written (hashes, status,
    outbox, dirty marks) goes in one pipeline, since each round trip waits for a CPU that
    ingest, the store and the other workers share.
    """
    started = time.perf_counter()
    finish = ctx.redis.pipeline(transaction=False)
    loaded = load_article(ctx, article_id, remember=finish)
    if loaded is None:
        log.warning("render.article.missing", id=article_id, version=version)
        return "missing"
    article, document_md5 = loaded
    held = article.held_at(ctx.clock())  # checked here: a re-enqueue must never publish early
    hidden = article.unpublished or held
    if not hidden:
        check_article(article)
    # From ingest's receipt to this task starting: the queue (and ingest's own writes).
    waited = (datetime.now(UTC) - article.received_at).total_seconds() - (
        time.perf_counter() - started
    )
    url = ctx.article_url(article.id, article.channel, article.published_at)
    previous, side, known = _read_state(ctx, article.id, url)
    before = placement(ctx, article.id, previous)
    if previous.get("url") and previous["url"] != url:
        ctx.delete_page(previous["url"])
    if hidden:
        ctx.delete_page(url)
        _unindex(ctx, article.id, {article.channel, previous.get("channel") or article.channel})
        release(ctx, article.id, had_pictures=bool(previous.get("picture")))
        after = None
    else:
        rank, published_rank = _index(ctx, article, url)
        links = neighbours_at(ctx, article.channel, article.id, rank)
        side = side if side is not None else sidebar_html(ctx)
        found = prepare(ctx, article, had_pictures=bool(previous.get("picture")))
        page = ArticlePage(article, url, links, Markup(side), document_md5, found)
        new = not previous.get("rendered_version") or previous.get("url") != url
        _write(ctx, finish, page, known, new=new)
        shown = tuple(str(index_fields(article, url)[f]) for f in SHOWN)
        after = Placement(article.channel, rank, published_rank, links.ids(), shown)
    outcome = "scheduled" if held else "unpublished" if article.unpublished else "published"
    _record(ctx, finish, article, outcome)
    schedule.track(ctx.keys, finish, article, held)
    queue_document(ctx, finish, article, url, published=outcome == "published")
    latest = len(finish)
    finish.hget(ctx.keys.article(article.id), "received_at")
    queue_dirty(ctx, finish, *dependants(ctx, article.id, before, after))
    answers = finish.execute()
    flush_soon(ctx, answers[-1])
    if _superseded(ctx, article, document_md5, answers[latest]):
        # A newer version was stored while this one rendered, and its own task may have
        # finished first: render again so that the last page written is the newest.
        log.info("render.article.superseded", id=article.id, version=article.version)
        return _publish(ctx, article_id, version)
    ms = round((time.perf_counter() - started) * 1000, 1)
    log.info(
        f"render.article.{outcome}",
        id=article.id,
        version=article.version,
        ms=ms,
        waited_ms=round(waited * 1000, 1),
    )
    return outcome


def _superseded(
    ctx: RenderContext, article: Article, document_md5: str, received_at: str | None
) -> bool:
    """Whether the stored document changed since it was read. Ingest records each stored
    version's receipt time after storing it, so a mismatch read after the page was written
    is the cue to compare the document itself (a GET only in that rare case)."""
    if received_at in (None, article.received_at.isoformat()):
        return False
    loaded = load_article(ctx, article.id)
    return loaded is not None and loaded[1] != document_md5


def _read_state(
    ctx: RenderContext, article_id: str, url: str
) -> tuple[dict[str, str], str | None, str | None]:
    """The article's hash, the sidebar every page embeds, and the MD5 of its page as last
    written: one round trip."""
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.hgetall(ctx.keys.article(article_id))
    pipe.get(ctx.keys.sidebar_html)
    pipe.hget(ctx.keys.page_hashes, url)
    previous, side, known = pipe.execute()
    return previous, side, known


def _write(
    ctx: RenderContext, finish: Pipeline, page: ArticlePage, known: str | None, *, new: bool
) -> None:
    """Put the page if its bytes changed (asking S3 only when Redis has no record of an
    older page); its hash and fingerprint are recorded on `finish`."""
    body = article_page(ctx, page.article, page.url, page.links, page.side, page.pictures)
    md5 = hashlib.md5(body).hexdigest()
    finish.hincrby(ctx.keys.render_count, "article", 1)
    if md5 != known:
        ctx.storage.site.put(
            page.url,
            body,
            content_type=HTML,
            cache_control=ctx.settings.html_cache_control,
            only_if_changed=known is None and not (new or ctx.page_hashes_complete),
        )
        finish.hset(ctx.keys.page_hashes, page.url, md5)
    fingerprint = page_fingerprint(ctx, page.document_md5, page.links, str(page.side))
    finish.hset(ctx.keys.page_inputs, page.article.id, fingerprint)


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
    return Placement(
        channel=channel,
        rank=int(rank),
        published_rank=int(published_rank),
        neighbour_ids=links.ids(),
        shown=tuple(meta.get(f, "") for f in SHOWN),
    )


def dependants(
    ctx: RenderContext, article_id: str, before: Placement | None, after: Placement | None
) -> tuple[set[str], dict[str, int]]:
    """Pages to re-render, and the lowest dirty page of each numbered series."""
    pages = {"home", "sidebar", "feeds:site", "search"}
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


def _index(ctx: RenderContext, article: Article, url: str) -> tuple[int, int]:
    """Index the article; its rank in its channel and among all published (oldest first)."""
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
    pipe.zrank(ctx.keys.channel(article.channel), article.id)
    pipe.zrank(ctx.keys.published, article.id)
    *_, rank, published_rank = pipe.execute()
    return int(rank), int(published_rank)


def index_fields(article: Article, url: str) -> dict[FieldT, EncodableT]:
    """What lists, feeds and the sitemap show of an article (kept in its Redis hash)."""
    return {
        "title": article.title,
        "url": url,
        "channel": article.channel,
        "published_at": article.published_at.isoformat(),
        "updated_at": (article.updated_at or article.published_at).isoformat(),
        "summary": article.summary,
        "correction": article.correction,
        "headline": int(article.headline),
        **thumbnail_fields(article),
    }


def _unindex(ctx: RenderContext, article_id: str, channels: set[str]) -> None:
    pipe = ctx.redis.pipeline(transaction=False)
    for channel in channels:
        pipe.zrem(ctx.keys.channel(channel), article_id)
    pipe.zrem(ctx.keys.published, article_id)
    pipe.zrem(ctx.keys.headlines, article_id)
    pipe.hdel(ctx.keys.page_inputs, article_id)
    pipe.execute()


def _record(ctx: RenderContext, finish: Pipeline, article: Article, outcome: str) -> None:
    """The article's status, and its outbox entry handed to the next flush (which deletes
    a burst's entries in one request)."""
    finish.hset(
        ctx.keys.article(article.id),
        mapping={
            "status": outcome,
            "rendered_version": article.version,
            "rendered_at": datetime.now(UTC).isoformat(),
            "error": "",
        },
    )
    finish.sadd(ctx.keys.outbox_done, article.id)
