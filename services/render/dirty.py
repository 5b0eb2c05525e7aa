"""Dirty marks: what an article changed, remembered in Redis for the burst's one flush.

Kept apart from the flush itself so that anything rendering a list (which may find an
article it has to drop) can mark pages without importing the flush.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.client import Pipeline

from services.render.context import RenderContext

FLUSH_TASK = "render.flush"


def mark_dirty(ctx: RenderContext, pages: Iterable[str], series: dict[str, int]) -> None:
    """Remember pages to re-render, and for each numbered series the lowest dirty page."""
    pipe = ctx.redis.pipeline(transaction=False)
    queue_dirty(ctx, pipe, pages, series)
    flush_soon(ctx, pipe.execute()[-1])


def queue_dirty(
    ctx: RenderContext, pipe: Pipeline, pages: Iterable[str], series: dict[str, int]
) -> None:
    """mark_dirty's commands, queued last on a caller's pipeline; hand the answer of the
    last one to flush_soon."""
    pages = sorted(pages)
    if pages:
        pipe.sadd(ctx.keys.dirty, *pages)
    if series:
        pipe.zadd(ctx.keys.dirty_from, series, lt=True)  # LT also adds new members
    # Short: a worker killed between setting the flag and sending the flush leaves marks
    # unflushed until it lapses; a flush still queued when it does only gains a twin.
    ttl = int(ctx.settings.flush_delay_seconds * 5) + 10
    pipe.set(ctx.keys.flush_scheduled, "1", nx=True, ex=ttl)


def flush_soon(ctx: RenderContext, flagged: object) -> None:
    """Schedule the burst's one flush, if this mark was the first since the last flush."""
    if flagged:
        ctx.schedule(FLUSH_TASK, ctx.settings.flush_delay_seconds)
