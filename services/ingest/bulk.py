"""The one way articles reach the store: a batch of decisions committed side by side.

A single POST is a batch of one; `POST /v1/articles:batch` and `pressroom import` send many.
Each article keeps its own compare-and-set (service._commit's loop, unchanged), the articles
of a batch are stored on threads (the object store is the slow part), and Redis sees one
ping, one pipeline of index updates and one pipeline of status reads per batch.
"""

from __future__ import annotations

import threading
from collections.abc import Container, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from services.ingest import service
from services.ingest.errors import IngestError
from services.ingest.feeds import Feed
from services.ingest.schemas import ArticleAccepted, ArticleIn
from shared.celery_app import app as celery_app
from shared.logging import describe, get_logger
from shared.models import Article

log = get_logger("pressroom.ingest.bulk")

# Producers sending a batch's render events side by side (within kombu's pool of ten).
RENDER_SENDERS = 4
# Threads that store articles side by side, shared by every batch of a process (a pool per
# request would pay its threads' start each time).
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def store_pool(threads: int) -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(threads, "ingest-store")
        return _pool


@dataclass(frozen=True)
class Publish:
    """One article to publish: what the feed sent, and whether it is held (shown nowhere)."""

    article: ArticleIn
    held: bool = False


@dataclass(frozen=True)
class Committed:
    article: Article
    changed: bool
    detail: str


Outcome = ArticleAccepted | IngestError


def publish_many(
    ctx: service.IngestContext,
    feed: Feed,
    requests: Sequence[Publish],
    *,
    stored: Container[str] | None = None,
) -> list[Outcome]:
    """Publish every article (external ids distinct); each gets its answer or its error,
    exactly as it would alone. `stored`, the ids the data bucket held when the caller
    listed it, spares a read for each article not among them."""
    service.require_redis(ctx)  # without Redis no render event could be sent: store nothing
    prepared: list[tuple[str, service.Decision] | IngestError] = []
    for request in requests:
        try:
            prepared.append(service.publish_decision(ctx, feed, request.article, held=request.held))
        except IngestError as exc:
            prepared.append(exc)
    wanted = [p for p in prepared if not isinstance(p, IngestError)]
    committed = iter(commit_many(ctx, wanted, stored))
    results = [p if isinstance(p, IngestError) else next(committed) for p in prepared]
    changed = [r.article for r in results if isinstance(r, Committed) and r.changed]
    enqueue_many(ctx, changed)
    for article in changed:
        log.info("ingest.article.accepted", id=article.id, version=article.version, feed=feed.name)
    return answers(ctx, results)


def commit_many(
    ctx: service.IngestContext,
    decisions: Sequence[tuple[str, service.Decision]],
    stored: Container[str] | None = None,
) -> list[Committed | IngestError]:
    """Each (article id, decision) committed with its own compare-and-set; ids distinct."""

    def one(decision: tuple[str, service.Decision]) -> Committed | IngestError:
        aid, decide = decision
        new = stored is not None and aid not in stored
        try:
            return Committed(*service.commit_attempts(ctx, aid, decide, assume_new=new))
        except IngestError as exc:
            return exc

    if len(decisions) <= 1:  # a single request does not wait for a thread
        return [one(d) for d in decisions]
    return list(store_pool(ctx.settings.batch_threads).map(one, decisions))


def enqueue_many(ctx: service.IngestContext, articles: Sequence[Article]) -> None:
    """Index the stored articles in one pipeline and ask render for their pages. They are
    durable already: a Redis or broker failure here only delays them (the reconciler finds
    their pending entries), so it never fails the request."""
    if not articles:
        return
    try:
        pipe = ctx.redis.pipeline(transaction=False)
        for article in articles:
            key = ctx.keys.article(article.id)
            received = article.received_at.isoformat()
            pipe.hset(key, mapping={"version": article.version, "received_at": received})
            pipe.hdel(key, "error")
        pipe.execute()
    except Exception as exc:  # redis' errors, and whatever a cluster's pipeline raises
        log.warning("ingest.enqueue.deferred", articles=len(articles), error=describe(exc))
        return
    if len(articles) <= RENDER_SENDERS:
        _send_renders(articles)
    else:  # a few producers side by side, each sending its share over its own connection
        shares = [articles[i::RENDER_SENDERS] for i in range(RENDER_SENDERS)]
        list(store_pool(ctx.settings.batch_threads).map(_send_renders, shares))


def _send_renders(articles: Sequence[Article]) -> None:
    """One producer for many messages: taking one from the pool per message costs more than
    the message (kombu builds a Redis client each time)."""
    try:
        with celery_app.producer_or_acquire() as producer:
            for article in articles:
                try:
                    args = [article.id, article.version]
                    celery_app.send_task("render.article", args=args, producer=producer)
                except Exception as exc:  # kombu raises its own and redis' errors
                    log.warning("ingest.enqueue.deferred", id=article.id, error=describe(exc))
    except Exception as exc:  # no producer at all: the broker is down
        log.warning("ingest.enqueue.deferred", articles=len(articles), error=describe(exc))


def answers(
    ctx: service.IngestContext, results: Sequence[Committed | IngestError]
) -> list[Outcome]:
    """The answer of each: a replay says where the stored version stands (one pipeline of
    status reads for the batch)."""
    replays = [r.article.id for r in results if isinstance(r, Committed) and not r.changed]
    states = service.render_states(ctx, replays)
    out: list[Outcome] = []
    for result in results:
        if isinstance(result, IngestError):
            out.append(result)
            continue
        article = result.article
        status = service.accepted_status(article)
        if not result.changed:
            meta = states.get(article.id, {})
            rendered = int(meta["rendered_version"]) if meta.get("rendered_version") else None
            status = service.status_of(article, meta, rendered)
        out.append(
            ArticleAccepted(
                id=article.id,
                version=article.version,
                status=status,
                url=service.public_url(ctx, article),
                changed=result.changed,
                detail=result.detail,
            )
        )
    return out


def one(outcome: Outcome) -> ArticleAccepted:
    """The answer of a batch of one, its error raised."""
    if isinstance(outcome, IngestError):
        raise outcome
    return outcome
