"""Ingest logic: turn a feed's article into a stored, versioned document and a render event."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import redis

from services.ingest import bulk, editorial
from services.ingest.errors import (
    ArticleBodyTooLarge,
    ArticleBusy,
    ArticleNotFound,
    InvalidArticle,
    StoreUnavailable,
    UnknownChannel,
)
from services.ingest.feeds import Feed, FeedRegistry
from services.ingest.pictures import article_images, picture_states
from services.ingest.sanitize import (
    BodyLimits,
    BodyTooComplex,
    BodyTooLarge,
    check_body,
    clean_body_within,
)
from services.ingest.schemas import ArticleAccepted, ArticleIn, ArticleState
from services.ingest.settings import IngestSettings
from shared.ids import article_id, is_article_id
from shared.keys import Keys
from shared.logging import get_logger
from shared.models import (
    Article,
    ArticleStatus,
    article_key,
    pending_entry,
    pending_key,
    version_key,
)
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


# Writers of one article that keep losing the compare-and-set get a 409 after this many reads.
COMMIT_ATTEMPTS = 20
# What a request wants stored, given the article as it is now: the new version, or why not.
Decision = Callable[[Article | None], "Article | str"]


def publish_article(
    ctx: IngestContext, feed: Feed, incoming: ArticleIn, *, held: bool = False
) -> ArticleAccepted:
    """Store a new version durably, index it, and ask render for the page (or, `held`,
    store it shown nowhere until a later version releases it): a batch of one."""
    return bulk.one(bulk.publish_many(ctx, feed, [bulk.Publish(incoming, held)])[0])


def publish_decision(
    ctx: IngestContext, feed: Feed, incoming: ArticleIn, *, held: bool = False
) -> tuple[str, Decision]:
    """The article's id and what to store given its current version (bulk.py commits it)."""
    channel = incoming.channel or ctx.site.default_channel
    if ctx.site.channel(channel) is None:
        raise UnknownChannel(channel, [c.slug for c in ctx.site.channels])
    aid = article_id(feed.name, incoming.external_id)
    body = sanitized_body(ctx, incoming.body_html)  # the slow part, before anything is decided
    fingerprint = content_fingerprint(incoming)

    def decide(current: Article | None) -> Article | str:
        if held:
            unchanged = editorial.held_unchanged(current, incoming)
        else:
            unchanged = _unchanged_reason(current, incoming, fingerprint)
        if unchanged:
            return unchanged
        new = _new_version(aid, feed, incoming, channel, body, current, fingerprint)
        return editorial.revise(new, incoming, current, new.received_at, held=held)

    return aid, decide


def sanitized_body(ctx: IngestContext, html: str) -> str:
    """The allow-listed body, after checking what sanitizing it would cost (422) and that it
    would not grow far beyond its size (413): the work one request causes is bounded first."""
    limits = BodyLimits(
        depth=ctx.settings.body_max_depth,
        elements=ctx.settings.body_max_elements,
        references=ctx.settings.body_max_references,
        growth=ctx.settings.body_max_growth,
        size=ctx.settings.max_body_bytes,
    )
    try:
        check_body(html, limits)
        return clean_body_within(html, limits)
    except BodyTooComplex as exc:
        raise InvalidArticle(
            [{"field": "body_html", "message": str(exc)}], "Article body too complex"
        ) from exc
    except BodyTooLarge as exc:
        raise ArticleBodyTooLarge(str(exc)) from exc


def _new_version(
    aid: str,
    feed: Feed,
    incoming: ArticleIn,
    channel: str,
    body: str,
    current: Article | None,
    fingerprint: str,
) -> Article:
    now = datetime.now(UTC)
    images, lead_image = article_images(incoming, body)
    return Article(
        id=aid,
        feed=feed.name,
        external_id=incoming.external_id,
        version=incoming.version or (current.version + 1 if current else 1),
        title=incoming.title,
        body_html=body,
        summary=incoming.summary,
        source=incoming.source,
        author=incoming.author,
        editor=incoming.editor,
        channel=channel,
        tags=incoming.tags,
        headline=incoming.headline,
        published_at=incoming.published_at or (current.published_at if current else now),
        images=images,
        lead_image=lead_image,
        received_at=now,
        fingerprint=fingerprint,
    )


def unpublish_article(
    ctx: IngestContext, feed: Feed, aid: str, version: int | None = None
) -> ArticleAccepted:
    """Withdraw the page: a kill is a version like any other (the stored one when `version`
    is None), it beats a publish of the same version, and only a newer version undoes it.
    The history stays stored."""
    if not is_article_id(aid):
        raise ArticleNotFound(aid[:64])

    def decide(current: Article | None) -> Article | str:
        if current is None or current.feed != feed.name:
            raise ArticleNotFound(aid)
        target = current.version if version is None else version
        if target < current.version:
            return f"version {target} is not newer than stored version {current.version}"
        if target == current.version and current.unpublished:
            return "already unpublished"
        # the fingerprint stays: a replay of the withdrawn text must not bring it back
        now = datetime.now(UTC)
        update = {"version": target, "unpublished": True, "received_at": now}
        return current.model_copy(update=update | editorial.withdrawal_update(current, now))

    withdrawn, changed, detail = _commit(ctx, aid, decide)
    if changed:
        _index_and_enqueue(ctx, withdrawn)
        log.info("ingest.article.unpublished", id=aid, version=withdrawn.version)
    return _accepted(ctx, withdrawn, changed=changed, detail=detail)


def _commit(ctx: IngestContext, aid: str, decide: Decision) -> tuple[Article, bool, str]:
    """Decide against the stored article and store the outcome with a compare-and-set on the
    current document, so that the newest version wins whatever the timing: a writer that
    lost the race reads again and decides again (it never waits on a lock that could expire
    under its work). Returns (the article as stored, whether this request changed it, why
    not)."""
    require_redis(ctx)  # without Redis the render event could not be sent: store nothing
    return commit_attempts(ctx, aid, decide)


def commit_attempts(
    ctx: IngestContext, aid: str, decide: Decision, *, assume_new: bool = False
) -> tuple[Article, bool, str]:
    """_commit's loop, for a caller that checked Redis once for a whole batch. With
    `assume_new` (the caller listed the bucket and the article was not there) the first
    attempt skips the read: its create is conditional, so an article made meanwhile is read
    and decided against as usual."""
    for attempt in range(COMMIT_ATTEMPTS):
        current, etag = (None, None) if assume_new and not attempt else _load_tagged(ctx, aid)
        outcome = decide(current)
        if isinstance(outcome, str):
            assert current is not None, "a first version is always stored"
            return current, False, outcome
        if _store(ctx, outcome, current, etag):
            return outcome, True, ""
        log.info("ingest.article.raced", id=aid, version=outcome.version)
    raise ArticleBusy(aid)


def article_state(ctx: IngestContext, feed: Feed, aid: str) -> ArticleState:
    article = _owned(ctx, feed, aid)
    meta = _render_state(ctx, aid)
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
        embargoed=article.embargoed,
        updated_at=article.updated_at,
        correction=article.correction,
        pictures=picture_states(ctx.redis, ctx.keys, article),
    )


def require_redis(ctx: IngestContext) -> None:
    try:
        ctx.redis.ping()
    except redis.RedisError as exc:
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Redis") from exc


def _render_state(ctx: IngestContext, aid: str) -> dict[str, str]:
    """What render recorded of the article; empty when Redis does not answer."""
    try:
        return ctx.redis.hgetall(ctx.keys.article(aid))  # type: ignore[return-value]
    except redis.RedisError:
        log.warning("ingest.status.redis_unavailable", id=aid)
        return {}


def _status(article: Article, meta: dict[str, str], rendered: int | None) -> ArticleStatus:
    if article.held_at(datetime.now(UTC)):
        return ArticleStatus.SCHEDULED
    done = ArticleStatus.UNPUBLISHED if article.unpublished else ArticleStatus.PUBLISHED
    # a kill shares its version with the publish it withdraws: the render's outcome tells them
    # apart
    if rendered is not None and (
        rendered > article.version or (rendered == article.version and meta.get("status") == done)
    ):
        return done
    if meta.get("error"):
        return ArticleStatus.FAILED
    return ArticleStatus.QUEUED


def _unchanged_reason(current: Article | None, incoming: ArticleIn, fingerprint: str) -> str:
    if current is None:
        return ""
    stored = "withdrawn version" if current.unpublished else "stored version"
    if incoming.version is not None and incoming.version <= current.version:
        return f"version {incoming.version} is not newer than {stored} {current.version}"
    if incoming.version is None and current.fingerprint == fingerprint:
        if current.unpublished:  # a replay of what was withdrawn is not a newer version
            return f"identical to {stored} {current.version}; send a newer version to republish"
        return "identical to the stored version"
    return ""


def _owned(ctx: IngestContext, feed: Feed, aid: str) -> Article:
    """The article, if it belongs to this feed; another feed's article is simply not found."""
    if not is_article_id(aid):
        raise ArticleNotFound(aid[:64])
    article, _ = _load_tagged(ctx, aid)
    if article is None or article.feed != feed.name:
        raise ArticleNotFound(aid)
    return article


def _load_tagged(ctx: IngestContext, aid: str) -> tuple[Article | None, str | None]:
    """The current document and its ETag (None, None when there is none yet)."""
    try:
        found = ctx.storage.data.get_tagged(article_key(aid))
    except StorageUnavailable as exc:
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Object store") from exc
    if found is None:
        return None, None
    raw, etag = found
    return Article.model_validate(orjson.loads(raw)), etag


def _store(ctx: IngestContext, article: Article, current: Article | None, etag: str | None) -> bool:
    """Outbox first, then the version, then the current pointer, written only if it is still
    `current` (else False: another writer got there first). A crash anywhere in between
    leaves either nothing visible or a pending entry the reconciler will finish; a version
    that lost the race stays in the history as received, never current."""
    document = article.model_dump(mode="json")
    data = ctx.storage.data
    try:
        data.put(
            pending_key(article.id),
            pending_entry(article.id, article.version),
            content_type="application/json",
        )
        data.put_json(version_key(article.id, article.version, article.unpublished), document)
        if data.put_if(
            article_key(article.id),
            orjson.dumps(document),
            etag=etag,
            content_type="application/json",
        ):
            return True
        # a retried PUT that had landed before its connection broke is refused as stale
        stored: object = data.get_json(article_key(article.id))
        return stored == document
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
        data.delete(version_key(article.id, article.version, article.unpublished))
        if current is None:
            data.delete(pending_key(article.id))
        else:
            entry = pending_entry(article.id, current.version)
            data.put(pending_key(article.id), entry, content_type="application/json")
    except StorageUnavailable:
        log.warning("ingest.store.undo_deferred", id=article.id, version=article.version)


def _index_and_enqueue(ctx: IngestContext, article: Article) -> None:
    bulk.enqueue_many(ctx, [article])


def render_states(ctx: IngestContext, ids: list[str]) -> dict[str, dict[str, str]]:
    """What render recorded of each article, in one pipeline; empty when Redis does not
    answer."""
    if not ids:
        return {}
    try:
        pipe = ctx.redis.pipeline(transaction=False)
        for aid in ids:
            pipe.hgetall(ctx.keys.article(aid))
        return dict(zip(ids, pipe.execute(), strict=True))
    except redis.RedisError:
        log.warning("ingest.status.redis_unavailable", articles=len(ids))
        return {}


def status_of(article: Article, meta: dict[str, str], rendered: int | None) -> ArticleStatus:
    return _status(article, meta, rendered)


def public_url(ctx: IngestContext, article: Article) -> str:
    return _public_url(ctx, article)


def _public_url(ctx: IngestContext, article: Article) -> str:
    path = ctx.site.article_path(article.id, article.channel, article.published_at)
    return f"{ctx.site.base_url.rstrip('/')}/{path}"


def accepted_status(article: Article) -> ArticleStatus:
    """Where a version just stored stands: held by its embargo, withdrawn, or queued."""
    if article.held_at(datetime.now(UTC)):
        return ArticleStatus.SCHEDULED
    return ArticleStatus.UNPUBLISHED if article.unpublished else ArticleStatus.QUEUED


def _accepted(
    ctx: IngestContext, article: Article, *, changed: bool, detail: str = ""
) -> ArticleAccepted:
    status = accepted_status(article)
    if not changed:  # a replay: say where the stored version stands, not "queued"
        meta = _render_state(ctx, article.id)
        rendered = int(meta["rendered_version"]) if meta.get("rendered_version") else None
        status = _status(article, meta, rendered)
    return ArticleAccepted(
        id=article.id,
        version=article.version,
        status=status,
        url=_public_url(ctx, article),
        changed=changed,
        detail=detail,
    )
