"""Article pages of a rebuild: which must be rendered, and rendering a share of them.

The process that runs the rebuild sorts the archive into unchanged pages and jobs (Redis
round trips only); shares of jobs go to worker processes. Each runs one asyncio loop with
up to PRESSROOM_REBUILD_THREADS jobs in flight, each reading one document, rendering it
and writing it if its bytes changed (shared.storage's asyncio client: one loop spends
less client CPU per request than threads do; `bench render_rebuild` prints both). A
batch's page hashes, fingerprints and progress are recorded in one Redis round trip.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from markupsafe import Markup

from services.render.articles import (
    Neighbours,
    article_page,
    neighbours,
    neighbours_of,
    page_fingerprint,
    parse_document,
)
from services.render.context import RenderContext
from services.render.pictures import link_pictures
from services.render.settings import RenderSettings
from services.render.summary import BATCH, Summary, batches
from shared.logging import describe, get_logger
from shared.models import article_key
from shared.storage import AsyncObjects, StorageUnavailable

log = get_logger("pressroom.render.rebuild")
_worker: RenderContext | None = None


@dataclass(frozen=True)
class Job:
    """One article page to render, with what the batch already looked up for it."""

    article_id: str
    links: Neighbours | None
    page: str  # where the index says its page lives
    known_md5: str | None  # MD5 of the page in the bucket (from the listing), if any


@dataclass(frozen=True)
class Rendered:
    """What rendering one page did; recorded in Redis with the rest of its batch."""

    article_id: str
    written: bool | None  # None: it failed (counted, logged, retried next run)
    page: str = ""
    md5: str = ""
    fingerprint: str = ""
    version: int = 0
    store_failed: bool = False  # failed because the store did not answer (or refused)


def stale_jobs(
    ctx: RenderContext,
    batch: list[tuple[str, str]],
    side: str,
    channel: str | None,
    summary: Summary,
) -> list[Job]:
    """The batch's pages that must be rendered; the rest count as unchanged."""
    pipe = ctx.redis.pipeline(transaction=False)
    for aid, _ in batch:
        pipe.hmget(ctx.keys.article(aid), "channel", "status", "url")
        pipe.hget(ctx.keys.page_inputs, aid)
    answers = pipe.execute()
    metas, stored = answers[0::2], answers[1::2]
    placed = [(m[0], aid) for (aid, _), m in zip(batch, metas, strict=True) if m[0]]
    links = neighbours_of(ctx, placed)
    stale = []
    for (aid, etag), (home, status, url), known in zip(batch, metas, stored, strict=True):
        if channel and home and home != channel:
            continue
        fresh = known and status == "published" and aid in links
        if fresh and known == page_fingerprint(ctx, etag, links[aid], side):
            summary.unchanged += 1
            continue
        stale.append((aid, links.get(aid), url or ""))
    known = _page_hashes(ctx, [url for *_, url in stale])
    return [Job(aid, near, url, md5) for (aid, near, url), md5 in zip(stale, known, strict=True)]


def _page_hashes(ctx: RenderContext, pages: list[str]) -> list[str | None]:
    if not pages:
        return []
    return ctx.redis.hmget(ctx.keys.page_hashes, pages)  # type: ignore[return-value]


async def _rebuild_one(
    ctx: RenderContext, objects: AsyncObjects, job: Job, channel: str | None, side: str
) -> Rendered:
    """Render one article's page and write it if its bytes changed (no Redis write here:
    the batch records every page at once)."""
    try:
        raw = await objects.get(ctx.storage.data.name, article_key(job.article_id))
        if raw is None:
            return Rendered(job.article_id, False)
        article, md5 = parse_document(raw)
        if channel and article.channel != channel:
            return Rendered(job.article_id, False)
        url = ctx.article_url(article.id, article.channel, article.published_at)
        if article.unpublished or article.held_at(ctx.clock()):
            ctx.delete_page(url)
            return Rendered(job.article_id, False)
        link_pictures(ctx, [article])  # as reindex does: media fetches what it has no record of
        links = job.links
        if links and any(e and e.channel != article.channel for e in (links.older, links.newer)):
            links = None  # the index disagrees with the document: look them up afresh
        links = links or neighbours(ctx, article.channel, article.id)
        known = job.known_md5 if url == job.page else ctx.redis.hget(ctx.keys.page_hashes, url)
        body = article_page(ctx, article, url, links, Markup(side))
        page_md5 = hashlib.md5(body).hexdigest()
        written = page_md5 != known
        if written:
            await ctx.put_page_over(objects, url, body)
        fingerprint = page_fingerprint(ctx, md5, links, side)
        return Rendered(article.id, written, url, page_md5, fingerprint, article.version)
    except Exception as exc:  # one bad document must not stop a rebuild of thousands
        log.warning("render.rebuild.failed", id=job.article_id, error=describe(exc))
        return Rendered(job.article_id, None, store_failed=isinstance(exc, StorageUnavailable))


def _record(ctx: RenderContext, done_key: str, results: list[Rendered], summary: Summary) -> None:
    """Record a batch's pages, fingerprints and progress in one round trip."""
    pipe = ctx.redis.pipeline(transaction=False)
    for r in results:
        summary.count(r.written, r.article_id)
        if not r.page:
            continue
        pipe.hset(ctx.keys.page_hashes, r.page, r.md5)
        pipe.hset(ctx.keys.page_inputs, r.article_id, r.fingerprint)
        pipe.hset(
            ctx.keys.article(r.article_id),
            mapping={"status": "published", "rendered_version": r.version},
        )
    rendered = sum(1 for r in results if r.page)
    if rendered:
        pipe.hincrby(ctx.keys.render_count, "article", rendered)
    finished = [r.article_id for r in results if r.written is not None]
    if finished:
        pipe.sadd(done_key, *finished)
    pipe.execute()


def rebuild_pages(
    ctx: RenderContext, jobs: list[Job], channel: str | None, side: str, done_key: str
) -> Summary:
    """Render a share of jobs, up to PRESSROOM_REBUILD_THREADS at a time (each mostly
    waits on S3), recording by batch."""
    return asyncio.run(_rebuild_pages(ctx, jobs, channel, side, done_key))


async def _rebuild_pages(
    ctx: RenderContext, jobs: list[Job], channel: str | None, side: str, done_key: str
) -> Summary:
    summary = Summary()
    in_flight = ctx.settings.rebuild_threads
    slots = asyncio.Semaphore(in_flight)
    # Jobs the store failed in a row (each after its own retries): past two rounds of them
    # the store is taken as down, and the rest of the share fails at once instead of each
    # job retrying in turn. The next run resumes from what was recorded.
    give_up, in_a_row = 2 * in_flight, 0

    async def one(objects: AsyncObjects, job: Job) -> Rendered:
        nonlocal in_a_row
        async with slots:
            if in_a_row >= give_up:
                return Rendered(job.article_id, None, store_failed=True)
            done = await _rebuild_one(ctx, objects, job, channel, side)
        in_a_row = in_a_row + 1 if done.store_failed else 0
        if in_a_row == give_up:
            log.warning("render.rebuild.store_down", failed_in_a_row=in_a_row)
        return done

    async with ctx.storage.async_client(in_flight=in_flight) as objects:
        for batch in batches(jobs, BATCH):
            results = await asyncio.gather(*(one(objects, job) for job in batch))
            _record(ctx, done_key, results, summary)  # a batch's Redis round trip, between batches
    return summary


def start_worker(settings: RenderSettings) -> None:
    """Process pool initializer: each process builds its own clients."""
    from services.render.tasks import build_context  # tasks imports Celery: only here

    global _worker
    _worker = build_context(settings)


def rebuild_share(jobs: list[Job], channel: str | None, side: str, done_key: str) -> Summary:
    """Run in a pool process (after start_worker): one share of the jobs."""
    assert _worker is not None, "start_worker runs first"
    return rebuild_pages(_worker, jobs, channel, side, done_key)


def job_shares(
    ctx: RenderContext,
    documents: list[tuple[str, str]],
    side: str,
    channel: str | None,
    summary: Summary,
    advance: Callable[[int], None],
) -> Iterator[list[Job]]:
    """Shares of PRESSROOM_REBUILD_SHARE jobs (the last may be short), from batches of
    documents; the unchanged pages are counted (and advanced past) on the way."""
    share: list[Job] = []
    for batch in batches(documents, BATCH):
        jobs = stale_jobs(ctx, batch, side, channel, summary)
        advance(len(batch) - len(jobs))
        share += jobs
        while len(share) >= ctx.settings.rebuild_share:
            yield share[: ctx.settings.rebuild_share]
            share = share[ctx.settings.rebuild_share :]
    if share:
        yield share
