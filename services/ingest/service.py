"""Ingest logic: turn a feed's article into a stored, versioned document and a render event."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import redis

from services.ingest.feeds import Feed, FeedRegistry
from services.ingest.sanitize import clean_body
from services.ingest.schemas import ArticleAccepted, ArticleIn, ArticleState
from services.ingest.settings import IngestSettings
from shared.celery_app import app as celery_app
from shared.http import Problem
from shared.ids import article_id, is_article_id
from shared.keys import Keys
from shared.logging import get_logger
from shared.models import Article, ArticleStatus, article_key, pending_key, version_key
from shared.site import SiteConfig
from shared.storage import Storage, StorageUnavailable

log = get_logger("pressroom.ingest")


class IngestError(Problem):
    """Base of every error ingest answers with."""


class UnknownChannel(IngestError):
    def __init__(self, channel: str, known: list[str]) -> None:
        super().__init__(
            422,
            "Unknown channel",
            f"channel {channel!r} is not configured; known: {', '.join(known)}",
            errors=[{"field": "channel", "message": "unknown channel"}],
        )


class ArticleNotFound(IngestError):
    def __init__(self, article_id: str) -> None:
        super().__init__(404, "Article not found", f"no article {article_id!r} in this feed")


class StoreUnavailable(IngestError):
    def __init__(self, retry_after: int, what: str) -> None:
        super().__init__(
            503,
            f"{what} unavailable",
            "Nothing was stored; retry later.",
            headers={"Retry-After": str(retry_after)},
        )


@dataclass
class IngestContext:
    settings: IngestSettings
    storage: Storage
    redis: redis.Redis
    feeds: FeedRegistry
    site: SiteConfig
    keys: Keys


def content_fingerprint(article: ArticleIn) -> str:
    fields = article.model_dump(mode="json", exclude={"version"})
    return hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hexdigest()


def publish_article(ctx: IngestContext, feed: Feed, incoming: ArticleIn) -> ArticleAccepted:
    """Store a new version durably, index it, and ask render for the page."""
    channel = incoming.channel or ctx.site.default_channel
    if ctx.site.channel(channel) is None:
        raise UnknownChannel(channel, [c.slug for c in ctx.site.channels])
    aid = article_id(feed.name, incoming.external_id)
    _require_redis(ctx)
    current = _load(ctx, aid)
    fingerprint = content_fingerprint(incoming)
    unchanged = _unchanged_reason(current, incoming, fingerprint)
    if current is not None and unchanged:
        return _accepted(ctx, current, changed=False, detail=unchanged)
    version = incoming.version or (current.version + 1 if current else 1)
    now = datetime.now(UTC)
    article = Article(
        id=aid,
        feed=feed.name,
        external_id=incoming.external_id,
        version=version,
        title=incoming.title,
        body_html=clean_body(incoming.body_html),
        summary=incoming.summary,
        source=incoming.source,
        author=incoming.author,
        editor=incoming.editor,
        channel=channel,
        tags=incoming.tags,
        headline=incoming.headline,
        published_at=incoming.published_at or (current.published_at if current else now),
        cover_image=str(incoming.cover_image) if incoming.cover_image else None,
        received_at=now,
        fingerprint=fingerprint,
    )
    _store(ctx, article)
    _index_and_enqueue(ctx, article)
    log.info("ingest.article.accepted", id=aid, version=version, feed=feed.name)
    return _accepted(ctx, article, changed=True)


def unpublish_article(ctx: IngestContext, feed: Feed, aid: str) -> ArticleAccepted:
    current = _owned(ctx, feed, aid)
    if current.unpublished:
        return _accepted(ctx, current, changed=False, detail="already unpublished")
    _require_redis(ctx)
    withdrawn = current.model_copy(
        update={
            "version": current.version + 1,
            "unpublished": True,
            "received_at": datetime.now(UTC),
            "fingerprint": "",
        }
    )
    _store(ctx, withdrawn)
    _index_and_enqueue(ctx, withdrawn)
    log.info("ingest.article.unpublished", id=aid, version=withdrawn.version)
    return _accepted(ctx, withdrawn, changed=True)


def article_state(ctx: IngestContext, feed: Feed, aid: str) -> ArticleState:
    article = _owned(ctx, feed, aid)
    meta: dict[str, str] = {}
    try:
        meta = ctx.redis.hgetall(ctx.keys.article(aid))  # type: ignore[assignment]
    except redis.RedisError:
        log.warning("ingest.status.redis_unavailable", id=aid)
    rendered = int(meta["rendered_version"]) if meta.get("rendered_version") else None
    return ArticleState(
        id=aid,
        status=_status(article, meta, rendered),
        version=article.version,
        rendered_version=rendered,
        url=_public_url(ctx, article),
        title=article.title,
        channel=article.channel,
        received_at=article.received_at,
        published_at=article.published_at,
        rendered_at=datetime.fromisoformat(meta["rendered_at"])
        if meta.get("rendered_at")
        else None,
        error=meta.get("error") or None,
    )


def _status(article: Article, meta: dict[str, str], rendered: int | None) -> ArticleStatus:
    if rendered is not None and rendered >= article.version:
        return ArticleStatus.UNPUBLISHED if article.unpublished else ArticleStatus.PUBLISHED
    if meta.get("error"):
        return ArticleStatus.FAILED
    return ArticleStatus.QUEUED


def _unchanged_reason(current: Article | None, incoming: ArticleIn, fingerprint: str) -> str:
    if current is None:
        return ""
    if incoming.version is not None and incoming.version <= current.version:
        return f"version {incoming.version} is not newer than stored version {current.version}"
    if incoming.version is None and not current.unpublished and current.fingerprint == fingerprint:
        return "identical to the stored version"
    return ""


def _owned(ctx: IngestContext, feed: Feed, aid: str) -> Article:
    if not is_article_id(aid):
        raise ArticleNotFound(aid[:64])
    article = _load(ctx, aid)
    if article is None or article.feed != feed.name:
        raise ArticleNotFound(aid)
    return article


def _load(ctx: IngestContext, aid: str) -> Article | None:
    try:
        raw = ctx.storage.data.get_json(article_key(aid))
    except StorageUnavailable as exc:
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Object store") from exc
    return None if raw is None else Article.model_validate(raw)


def _store(ctx: IngestContext, article: Article) -> None:
    """Outbox first, then the version, then the current pointer: a crash anywhere in between
    leaves either nothing visible or a pending entry the reconciler will finish."""
    document = article.model_dump(mode="json")
    try:
        ctx.storage.data.put_json(
            pending_key(article.id), {"id": article.id, "version": article.version}
        )
        ctx.storage.data.put_json(version_key(article.id, article.version), document)
        ctx.storage.data.put_json(article_key(article.id), document)
    except StorageUnavailable as exc:
        log.warning("ingest.store.unavailable", id=article.id, error=str(exc))
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Object store") from exc


def _index_and_enqueue(ctx: IngestContext, article: Article) -> None:
    # The article is durable now: a Redis or broker failure from here on only delays
    # publication (the reconciler finds the pending entry), so it must not fail the request.
    try:
        ctx.redis.hset(
            ctx.keys.article(article.id),
            mapping={"version": article.version, "received_at": article.received_at.isoformat()},
        )
        ctx.redis.hdel(ctx.keys.article(article.id), "error")
        celery_app.send_task("render.article", args=[article.id, article.version])
    except Exception as exc:  # kombu raises its own and redis' errors
        log.warning("ingest.enqueue.deferred", id=article.id, error=repr(exc))


def _require_redis(ctx: IngestContext) -> None:
    try:
        ctx.redis.ping()
    except redis.RedisError as exc:
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Redis") from exc


def _public_url(ctx: IngestContext, article: Article) -> str:
    path = ctx.site.article_path(article.id, article.channel, article.published_at)
    return f"{ctx.site.base_url.rstrip('/')}/{path}"


def _accepted(
    ctx: IngestContext, article: Article, *, changed: bool, detail: str = ""
) -> ArticleAccepted:
    status = ArticleStatus.UNPUBLISHED if article.unpublished else ArticleStatus.QUEUED
    return ArticleAccepted(
        id=article.id,
        version=article.version,
        status=status,
        url=_public_url(ctx, article),
        changed=changed,
        detail=detail,
    )
