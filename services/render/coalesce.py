"""Coalescing: articles mark the pages that depend on them; one flush per burst renders them.

Dirty pages live in Redis (a set of page names, and a sorted set holding the lowest dirty
page of each numbered series), so marks from many workers merge. A SET NX flag plus a
countdown schedules one flush per burst; a lock makes flushes run one at a time, so an
older snapshot never overwrites a newer page. A flush moves the marks it takes into the
`flushing` keys and deletes them only once every page is rendered, so the pages of a flush
killed mid-way are rendered by the next one.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from redis.exceptions import RedisError

from services.render.context import RenderContext
from services.render.dirty import FLUSH_TASK, flush_soon, mark_dirty, queue_dirty
from services.render.feeds import render_feeds, render_sitemap
from services.render.outbox import clear_outbox
from services.render.pages import (
    render_archive,
    render_channel_index,
    render_home,
    render_sidebar,
)
from services.render.relink import rerender_articles
from services.render.search.index import update_index
from services.render.search.page import SEARCH_PAGE, render_search_page
from services.render.site_pages import missing_list_pages
from shared.logging import get_logger

log = get_logger("pressroom.render.flush")
__all__ = ["FLUSH_TASK", "flush", "flush_soon", "mark_dirty", "queue_dirty"]
HOT_TASK = "render.hot_refresh"
# Delete the lock only if it is still ours (it may have expired and been taken since).
RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"
RENEW = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('EXPIRE', KEYS[1], ARGV[2]) end"
)
# One script, since a cluster's pipelines refuse SUNIONSTORE: the keys share the `{render}` slot.
TAKE = """
redis.call('DEL', KEYS[1])
redis.call('SUNIONSTORE', KEYS[4], KEYS[4], KEYS[2])
redis.call('ZUNIONSTORE', KEYS[5], 2, KEYS[5], KEYS[3], 'AGGREGATE', 'MIN')
redis.call('DEL', KEYS[2], KEYS[3])
return {redis.call('SMEMBERS', KEYS[4]), redis.call('ZRANGE', KEYS[5], 0, -1, 'WITHSCORES')}
"""
# Order matters: the sidebar first (every page embeds it), the sitemap last.
ORDER = ("sidebar", "article", "archive", "channel", "home", "feeds", "search", "sitemap")


def flush(ctx: RenderContext) -> dict[str, bool]:
    """Render every dirty page once. Returns page key -> whether its bytes were written."""
    token = uuid.uuid4().hex
    if not ctx.redis.set(ctx.keys.flush_lock, token, nx=True, ex=ctx.settings.flush_lock_seconds):
        ctx.schedule(FLUSH_TASK, max(ctx.settings.flush_delay_seconds, 0.5))
        return {}
    try:
        with _renewing(ctx, token):
            return _flush_locked(ctx)
    finally:
        ctx.redis.eval(RELEASE, 1, ctx.keys.flush_lock, token)


@contextmanager
def _renewing(ctx: RenderContext, token: str) -> Iterator[None]:
    """Renew the flush lock while this flush runs, so that a flush whose worker was killed
    holds it for one short lease only, never for the longest a live flush may take."""
    lease = ctx.settings.flush_lock_seconds
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(lease / 3):
            try:
                ctx.redis.eval(RENEW, 1, ctx.keys.flush_lock, token, lease)
            except RedisError as exc:  # the next renewal tries again; the lease covers one miss
                log.warning("render.flush.lock_not_renewed", error=str(exc))

    renewer = threading.Thread(target=renew, name="flush-lock-renewal", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()


def _flush_locked(ctx: RenderContext) -> dict[str, bool]:
    started = time.perf_counter()
    pages, series = take_dirty(ctx)
    pages |= missing_list_pages(ctx)  # a channel or feed never written yet: never a 404
    written: dict[str, bool] = {}
    try:
        for group in _in_order(pages | set(series)):
            written |= _render_group(ctx, group, series)
    except Exception:
        # What was taken stays in `flushing`; schedule the flush that will merge it (if
        # Redis is what failed, the task's retry or the reconciler sends that flush).
        with suppress(RedisError):
            mark_dirty(ctx, (), {})
        raise
    ctx.redis.delete(ctx.keys.flushing, ctx.keys.flushing_from)
    cleared = clear_outbox(ctx)
    if written or cleared:
        log.info(
            "render.flush.done",
            pages=len(written),
            written=sum(written.values()),
            outbox=cleared,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
    return written


def take_dirty(ctx: RenderContext) -> tuple[set[str], dict[str, int]]:
    """Move the dirty marks into the `flushing` keys, merged with whatever a killed flush
    left there, and return them all; they stay until the flush has rendered every page."""
    keys = ctx.keys
    names = (keys.flush_scheduled, keys.dirty, keys.dirty_from, keys.flushing, keys.flushing_from)
    pages, flat = ctx.redis.eval(TAKE, len(names), *names)
    series = {str(flat[i]): int(float(flat[i + 1])) for i in range(0, len(flat), 2)}
    return set(pages), series


def _in_order(pages: set[str]) -> list[list[str]]:
    """Dirty pages grouped by kind, in ORDER (unknown kinds last, to be logged)."""
    groups: dict[int, list[str]] = {}
    for page in sorted(pages):
        kind = page.partition(":")[0]
        groups.setdefault(ORDER.index(kind) if kind in ORDER else len(ORDER), []).append(page)
    return [groups[k] for k in sorted(groups)]


def _render_group(ctx: RenderContext, group: list[str], series: dict[str, int]) -> dict[str, bool]:
    """Render one kind of page; a burst's neighbours (one per article) go together."""
    if group[0].startswith("article:"):
        return rerender_articles(ctx, [page.partition(":")[2] for page in group])
    written: dict[str, bool] = {}
    for page in group:
        written |= render_dependant(ctx, page, series.get(page, 1))
    return written


def render_dependant(ctx: RenderContext, page: str, dirty_from: int = 1) -> dict[str, bool]:
    kind, _, arg = page.partition(":")
    channel = ctx.site.channel(arg) if arg else None
    if kind == "sidebar":
        return {"fragments/sidebar.html": render_sidebar(ctx)}
    if kind == "home":
        return {"index.html": render_home(ctx)}
    if kind == "article":
        return rerender_articles(ctx, [arg])
    if kind == "channel" and channel:
        return {f"{channel.slug}/index.html": render_channel_index(ctx, channel)}
    if kind == "archive" and channel:
        return render_archive(ctx, channel, dirty_from)
    if kind == "feeds" and (channel or arg == "site"):
        return render_feeds(ctx, channel)
    if kind == "sitemap":
        return render_sitemap(ctx, dirty_from)
    if kind == "search":
        return update_index(ctx) | {SEARCH_PAGE: render_search_page(ctx)}
    log.warning("render.flush.unknown_page", page=page)
    return {}


# --- the hot list ---------------------------------------------------------------------------


def refresh_hot_list(ctx: RenderContext) -> None:
    """Sent by beat every PRESSROOM_HOT_REFRESH_SECONDS: home and sidebar pick up the
    counter's ranking (written only if it changed the page)."""
    mark_dirty(ctx, {"home", "sidebar"}, {})
