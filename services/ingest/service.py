"""Ingest logic: turn a feed's article into a stored, versioned document and a render event."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import redis

from services.ingest.errors import (
    ArticleBusy,
    ArticleNotFound,
    StoreUnavailable,
    UnknownChannel,
)
from services.ingest.feeds import Feed, FeedRegistry
from services.ingest.sanitize import clean_body
from services.ingest.schemas import ArticleAccepted, ArticleIn, ArticleState
from services.ingest.settings import IngestSettings
from shared.celery_app import app as celery_app
from shared.ids import article_id, is_article_id
from shared.keys import Keys
from shared.logging import describe, get_logger
from shared.models import Article, ArticleStatus, article_key, pending_key, version_key
from shared.site import SiteConfig
from shared.storage import Storage, StorageUnavailable

log = get_logger("pressroom.ingest")


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
    with article_lock(ctx, aid):
        current = _load(ctx, aid)
        fingerprint = content_fingerprint(incoming)
        unchanged = _unchanged_reason(current, incoming, fingerprint)
        if current is not None and unchanged:
            return _accepted(ctx, current, changed=False, detail=unchanged)
        article = _new_version(aid, feed, incoming, channel, current, fingerprint)
        _store(ctx, article, current)
    _index_and_enqueue(ctx, article)
    log.info("ingest.article.accepted", id=aid, version=article.version, feed=feed.name)
    return _accepted(ctx, article, changed=True)


def _new_version(
    aid: str,
    feed: Feed,
    incoming: ArticleIn,
    channel: str,
    current: Article | None,
    fingerprint: str,
) -> Article:
    now = datetime.now(UTC)
    return Article(
        id=aid,
        feed=feed.name,
        external_id=incoming.external_id,
        version=incoming.version or (current.version + 1 if current else 1),
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


def unpublish_article(ctx: IngestContext, feed: Feed, aid: str) -> ArticleAccepted:
    """Withdraw the page (a new version marked unpublished); the history stays stored."""
    with article_lock(ctx, aid):
        current = _owned(ctx, feed, aid)
        if current.unpublished:
            return _accepted(ctx, current, changed=False, detail="already unpublished")
        withdrawn = current.model_copy(
            update={
                "version": current.version + 1,
                "unpublished": True,
                "received_at": datetime.now(UTC),
                "fingerprint": "",
            }
        )
        _store(ctx, withdrawn, current)
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


def require_redis(ctx: IngestContext) -> None:
    try:
        ctx.redis.ping()
    except redis.RedisError as exc:
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Redis") from exc


@contextmanager
def article_lock(ctx: IngestContext, aid: str) -> Iterator[None]:
    """One writer per article. Taking it also proves Redis answers: without Redis nothing
    is stored (503), because the render event could not be sent either."""
    lock = ctx.redis.lock(
        ctx.keys.ingest_lock(aid), timeout=30, blocking_timeout=ctx.settings.article_lock_seconds
    )
    try:
        acquired = lock.acquire()
    except redis.RedisError as exc:
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Redis") from exc
    if not acquired:
        raise ArticleBusy(aid)
    try:
        yield
    finally:
        try:
            lock.release()
        except redis.RedisError:  # expired or Redis gone: it times out on its own
            log.warning("ingest.lock.release_failed", id=aid)


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
    """The article, if it belongs to this feed; another feed's article is simply not found."""
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


def _store(ctx: IngestContext, article: Article, current: Article | None) -> None:
    """Outbox first, then the version, then the current pointer: a crash anywhere in between
    leaves either nothing visible or a pending entry the reconciler will finish."""
    document = article.model_dump(mode="json")
    data = ctx.storage.data
    try:
        data.put_json(pending_key(article.id), {"id": article.id, "version": article.version})
        data.put_json(version_key(article.id, article.version), document)
        data.put_json(article_key(article.id), document)
    except StorageUnavailable as exc:
        log.warning("ingest.store.unavailable", id=article.id, error=str(exc))
        _undo_store(ctx, article, current)
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Object store") from exc


def _undo_store(ctx: IngestContext, article: Article, current: Article | None) -> None:
    """Best effort: take back a version the client was never told about. If the store is
    still down, the reconciler drops the orphan pending entry after reconcile_abandon."""
    data = ctx.storage.data
    try:
        if data.get_json(article_key(article.id)) == article.model_dump(mode="json"):
            return  # the last write landed after all: the version is complete
        data.delete(version_key(article.id, article.version))
        if current is None:
            data.delete(pending_key(article.id))
        else:
            data.put_json(pending_key(article.id), {"id": article.id, "version": current.version})
    except StorageUnavailable:
        log.warning("ingest.store.undo_deferred", id=article.id, version=article.version)


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
        log.warning("ingest.enqueue.deferred", id=article.id, error=describe(exc))


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
