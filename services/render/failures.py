"""Articles that cannot be rendered: refused by their own content, they fail only themselves.

A failed article leaves every list, feed and the sitemap, its status says `failed` with the
reason (ingest's status route reads it), and its outbox entry is finished, so neither a
retry nor the reconciler sends it round again; a newer version starts afresh.
"""

from __future__ import annotations

from datetime import datetime

from celery.exceptions import SoftTimeLimitExceeded
from prometheus_client import Counter
from redis import RedisError

from services.render.context import RenderContext
from services.render.dirty import mark_dirty
from services.render.pagination import page_of
from shared.celery_app import TRANSIENT_ERRORS
from shared.logging import describe, get_logger
from shared.models import Article
from shared.text import EARLIEST, LATEST, in_range

log = get_logger("pressroom.render")

ARTICLES_FAILED = Counter(
    "pressroom_render_articles_failed_total",
    "Articles marked failed because their own content could not be rendered",
    ["stage"],
)
# Faults of the machinery, not of the article: the task retries them instead.
INFRASTRUCTURE: tuple[type[BaseException], ...] = (
    *TRANSIENT_ERRORS,
    RedisError,
    OSError,
    SoftTimeLimitExceeded,
)
REASON_LIMIT = 500


class Unrenderable(ValueError):
    """The article's own content cannot be rendered."""


def check_dates(**moments: datetime) -> None:
    """Refuse dates that some time zone or filter could not convert (named in the reason)."""
    for name, moment in moments.items():
        if not in_range(moment):
            raise Unrenderable(
                f"{name} {moment.isoformat()} lies outside {EARLIEST:%Y-%m-%d}.."
                f"{LATEST:%Y-%m-%d} (UTC) and cannot be shown"
            )


def check_article(article: Article) -> None:
    check_dates(published_at=article.published_at, received_at=article.received_at)


def reason_of(exc: BaseException) -> str:
    reason = str(exc) if isinstance(exc, Unrenderable) else describe(exc)
    return reason[:REASON_LIMIT]


def fail_article(
    ctx: RenderContext, article_id: str, reason: str, *, stage: str, version: int | None = None
) -> None:
    """Mark the article failed, take it out of every index, and mark what listed it dirty."""
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.hmget(ctx.keys.article(article_id), "channel", "version")
    pipe.zrank(ctx.keys.published, article_id)
    for channel in ctx.site.channels:
        pipe.zrank(ctx.keys.channel(channel.slug), article_id)
    (channel, stored), published_rank, *ranks = pipe.execute()
    pages, series = _listed_on(ctx, article_id, published_rank, ranks, channel)
    pipe.hset(
        ctx.keys.article(article_id),
        mapping={
            "status": "failed",
            "error": reason,
            "failed_version": max(int(stored or 0), version or 0),
        },
    )
    pipe.hdel(ctx.keys.article(article_id), "rendered_version", "rendered_at")
    for place in ctx.site.channels:
        pipe.zrem(ctx.keys.channel(place.slug), article_id)
    pipe.zrem(ctx.keys.published, article_id)
    pipe.zrem(ctx.keys.headlines, article_id)
    pipe.hdel(ctx.keys.page_inputs, article_id)
    pipe.sadd(ctx.keys.outbox_done, article_id)
    # a released embargo that cannot be rendered is not released again every lease
    pipe.zrem(ctx.keys.due, article_id)
    pipe.zrem(ctx.keys.releasing, article_id)
    pipe.hincrby(ctx.keys.render_count, "failed", 1)
    pipe.execute()
    mark_dirty(ctx, pages, series)
    ARTICLES_FAILED.labels(stage).inc()
    log.warning("render.article.failed", id=article_id, stage=stage, error=reason)


def _listed_on(
    ctx: RenderContext,
    article_id: str,
    published_rank: int | None,
    ranks: list[int | None],
    channel: str | None,
) -> tuple[set[str], dict[str, int]]:
    """The pages that list the article (or may, if its channel is all that is known),
    with the lowest page of each numbered series it sits in, and its neighbours' pages."""
    pages = {"home", "sidebar", "feeds:site"}
    series: dict[str, int] = {}
    if published_rank is not None:
        series["sitemap"] = page_of(int(published_rank), ctx.settings.sitemap_urls_per_file)
    for place, rank in zip(ctx.site.channels, ranks, strict=True):
        if rank is None and place.slug != channel:
            continue
        pages |= {f"channel:{place.slug}", f"feeds:{place.slug}"}
        if rank is not None:
            series[f"archive:{place.slug}"] = page_of(int(rank), ctx.site.page_size)
            window: list[str] = ctx.redis.zrange(  # type: ignore[assignment]
                ctx.keys.channel(place.slug), max(int(rank) - 1, 0), int(rank) + 1
            )
            pages |= {f"article:{n}" for n in window if n != article_id}
    return pages, series
