"""The import: a reader's articles through ingest's bulk path, with their old addresses and
their click counts. Safe to run again: ids come from the source ids (shared/ids.py), so a
second run, or a run after an interruption, finds what is stored and changes only the rest."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Literal
from urllib.parse import urlsplit

from services.importer.mapping import article_in
from services.importer.readers.base import BadRow, Reader, SourceArticle
from services.importer.schemas import ChannelPlan, ImportSummary
from services.ingest import bulk, legacy
from services.ingest.errors import IngestError
from services.ingest.feeds import Feed
from services.ingest.schemas import ArticleAccepted
from services.ingest.service import IngestContext
from shared.ids import article_id
from shared.logging import get_logger
from shared.models import article_key

log = get_logger("pressroom.importer")
ARTICLES = article_key("")[: -len(".json")]  # the current documents' folder
Hidden = Literal["skip", "hide"]
# Adds the old site's count once (the marker key remembers it), then answers the total.
CLICKS_SCRIPT = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('INCRBY', KEYS[2], ARGV[1])
end
return redis.call('GET', KEYS[2])
"""


@dataclass
class ImportJob:
    ctx: IngestContext
    feed: Feed
    channels: dict[str, ChannelPlan]  # category id -> its channel
    hidden: Hidden = "skip"
    batch_size: int = 200
    summary: ImportSummary = field(default_factory=ImportSummary)
    stored: set[str] = field(default_factory=set)  # ids in the data bucket when it began


def run_import(job: ImportJob, reader: Reader, advanced: Callable[[int], None]) -> ImportSummary:
    """Import every article the reader yields; `advanced(n)` after each batch of n rows."""
    _remember_categories(job, reader)
    job.stored = stored_ids(job.ctx)
    for rows in _batches(reader.articles(), job.batch_size):
        _import_batch(job, rows)
        advanced(len(rows))
    log.info(
        "importer.done",
        feed=job.feed.name,
        imported=job.summary.imported,
        unchanged=job.summary.unchanged,
        skipped=sum(job.summary.skipped.values()),
    )
    return job.summary


def stored_ids(ctx: IngestContext) -> set[str]:
    """Every article id the data bucket holds, from one listing of its current documents
    (a thousand a request): an article not among them is written without a read first."""
    top = ctx.storage.data.listing(ARTICLES, delimiter="/")  # versions stay in subfolders
    return {item.key[len(ARTICLES) : -len(".json")] for item in top if item.key.endswith(".json")}


def _batches(
    rows: Iterator[SourceArticle | BadRow], size: int
) -> Iterator[list[SourceArticle | BadRow]]:
    while batch := list(islice(rows, size)):
        yield batch


def _remember_categories(job: ImportJob, reader: Reader) -> None:
    redirects: dict[str, str] = {}
    for category in reader.categories():
        plan = job.channels.get(category.source_id)
        if plan and plan.slug:
            redirects |= dict.fromkeys(category.old_urls, f"/{plan.slug}/")
    ctx = job.ctx
    legacy.remember(ctx.redis, ctx.keys, ctx.storage.data, f"{job.feed.name}/categories", redirects)
    job.summary.redirects += len(redirects)


def _import_batch(job: ImportJob, rows: list[SourceArticle | BadRow]) -> None:
    summary, wanted = job.summary, []
    for row in rows:
        if isinstance(row, BadRow):
            summary.skip(row.source_id, row.reason)
            continue
        plan = job.channels.get(row.category_id)
        if plan is None or not plan.slug:
            summary.skip(row.source_id, f"category {row.category_id} is not imported")
        elif row.hidden and job.hidden == "skip":
            summary.skip(row.source_id, "unpublished on the old site")
        elif isinstance(incoming := article_in(row, plan.slug), str):
            summary.skip(row.source_id, f"invalid: {incoming}")
        else:
            wanted.append((row, bulk.Publish(incoming, held=row.hidden)))
    if not wanted:
        return
    outcomes = bulk.publish_many(job.ctx, job.feed, [p for _, p in wanted], stored=job.stored)
    stored = []
    for (row, _), outcome in zip(wanted, outcomes, strict=True):
        if isinstance(outcome, IngestError):
            summary.skip(row.source_id, f"refused: {outcome.detail or outcome.title}")
            continue
        summary.imported += outcome.changed
        summary.unchanged += not outcome.changed
        summary.hidden += row.hidden
        if not row.hidden:
            stored.append((row, outcome))
    _remember_addresses(job, stored)
    _carry_clicks(job, stored)


Stored = list[tuple[SourceArticle, ArticleAccepted]]


def _remember_addresses(job: ImportJob, stored: Stored) -> None:
    ctx, redirects = job.ctx, dict[str, str]()
    for row, accepted in stored:  # the page as stored, wherever an earlier run put it
        redirects |= dict.fromkeys(row.old_urls, urlsplit(accepted.url).path)
    if redirects:
        part = f"{job.feed.name}/articles-{stored[0][0].source_id}"
        legacy.remember(ctx.redis, ctx.keys, ctx.storage.data, part, redirects)
        job.summary.redirects += len(redirects)


def _carry_clicks(job: ImportJob, stored: Stored) -> None:
    """The old 点击量 becomes the start of each article's hits and its all-time ranking
    score; the hourly series gets nothing (those clicks have no hour)."""
    counted = [(row, accepted.id) for row, accepted in stored if row.clicks > 0]
    if not counted:
        return
    ctx = job.ctx
    pipe = ctx.redis.pipeline(transaction=False)
    for row, aid in counted:  # EVAL, not EVALSHA: a cluster's pipeline cannot reload a script
        pipe.eval(CLICKS_SCRIPT, 2, ctx.keys.imported_clicks(aid), ctx.keys.hits(aid), row.clicks)
    totals = pipe.execute()
    pipe = ctx.redis.pipeline(transaction=False)
    for (row, aid), total in zip(counted, totals, strict=True):
        channel = job.channels[row.category_id].slug
        pipe.zadd(ctx.keys.top("all"), {aid: int(total)}, gt=True)
        pipe.zadd(ctx.keys.top("all", channel), {aid: int(total)}, gt=True)
        pipe.sadd(ctx.keys.top_channels, channel)
    pipe.execute()
    job.summary.clicks += sum(row.clicks for row, _ in counted)


def imported_id(feed: Feed, source_id: str) -> str:
    """The Pressroom id of an imported article (a feed's id for its external id)."""
    return article_id(feed.name, source_id)
