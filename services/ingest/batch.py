"""Many articles in one request (a JSON batch, an RSS channel, an Atom feed), each on its own."""

from __future__ import annotations

from collections import defaultdict

from services.ingest import bulk, service
from services.ingest.errors import IngestError, InvalidArticle, StoreUnavailable
from services.ingest.feeds import Feed
from services.ingest.formats import Item
from services.ingest.metrics import ARTICLES_REJECTED
from services.ingest.schemas import ArticleAccepted, BatchAccepted, ItemResult
from shared.ids import article_id
from shared.logging import get_logger

log = get_logger("pressroom.ingest.batch")


def publish_item(ctx: service.IngestContext, feed: Feed, item: Item) -> ArticleAccepted:
    """Publish or withdraw one parsed item; errors are raised as for a single request."""
    if item.errors or item.article is None:
        raise InvalidArticle(item.errors)
    if item.withdraw:  # ninjs pubstatus canceled, at the document's version
        aid = article_id(feed.name, item.article.external_id)
        return service.unpublish_article(ctx, feed, aid, item.article.version)
    return service.publish_article(ctx, feed, item.article, held=item.hold)


def publish_items(ctx: service.IngestContext, feed: Feed, items: list[Item]) -> BatchAccepted:
    """Every item gets its own result. Items of one article run in order, one round each;
    the publishes of a round go through the bulk path together (bulk.py)."""
    service.require_redis(ctx)
    by_article: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        key = item.article.external_id if item.article else f"#invalid-{item.index}"
        by_article[key].append(item)
    results: list[ItemResult] = []
    for round_ in range(max((len(g) for g in by_article.values()), default=0)):
        results += _round(ctx, feed, [g[round_] for g in by_article.values() if len(g) > round_])
    results.sort(key=lambda r: r.index)
    if all(r.status == 503 for r in results):
        raise StoreUnavailable(ctx.settings.retry_after_seconds, "Object store or Redis")
    summary = BatchAccepted(
        accepted=sum(1 for r in results if r.article and r.article.changed),
        unchanged=sum(1 for r in results if r.article and not r.article.changed),
        rejected=sum(1 for r in results if r.problem),
        items=results,
    )
    log.info(
        "ingest.batch.done",
        feed=feed.name,
        accepted=summary.accepted,
        unchanged=summary.unchanged,
        rejected=summary.rejected,
    )
    return summary


def _round(ctx: service.IngestContext, feed: Feed, items: list[Item]) -> list[ItemResult]:
    """Items of distinct articles: publishes in one bulk call, the rest one by one."""
    publishes = [i for i in items if i.article is not None and not i.errors and not i.withdraw]
    chosen = {id(i) for i in publishes}
    others = [i for i in items if id(i) not in chosen]
    requests = [bulk.Publish(i.article, i.hold) for i in publishes if i.article is not None]
    outcomes = bulk.publish_many(ctx, feed, requests) if requests else []
    results = [_answer(i, o) for i, o in zip(publishes, outcomes, strict=True)]
    return results + [_result(ctx, feed, i) for i in others]


def _result(ctx: service.IngestContext, feed: Feed, item: Item) -> ItemResult:
    try:
        accepted = publish_item(ctx, feed, item)
    except IngestError as exc:
        return _answer(item, exc)
    return _answer(item, accepted)


def _answer(item: Item, outcome: ArticleAccepted | IngestError) -> ItemResult:
    if isinstance(outcome, IngestError):
        ARTICLES_REJECTED.labels(outcome.reason).inc()
        return ItemResult(
            index=item.index,
            external_id=item.external_id,
            status=outcome.status,
            problem=outcome.body(),
        )
    accepted = outcome
    return ItemResult(
        index=item.index,
        external_id=item.external_id,
        status=202 if accepted.changed else 200,
        article=accepted,
    )
