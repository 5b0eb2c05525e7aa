"""Rebuild every page from the data bucket, and rebuild the Redis indexes it reads.

A rebuild lists the article documents (one LIST per 1,000, with their ETags) and skips
every article whose page fingerprint (document, theme, neighbours, sidebar) is unchanged,
so a second run reads no document and renders nothing it does not have to. Finished ids
are kept in a Redis set until the run completes: an interrupted rebuild resumes.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    wait,
)
from dataclasses import dataclass, field

from services.media.fetch import PictureFetcher
from services.media.settings import MediaSettings
from services.media.store import MediaContext, restore_renditions
from services.render.coalesce import render_dependant
from services.render.context import RenderContext
from services.render.pages import refresh_sidebar
from services.render.rebuild_pages import (
    Job,
    job_shares,
    rebuild_pages,
    rebuild_share,
    start_worker,
)
from services.render.summary import Summary, batches
from shared.logging import describe, get_logger

__all__ = ["Summary", "batches", "rebuild_articles", "rebuild_lists"]

log = get_logger("pressroom.render.rebuild")
Advance = Callable[[int], None]


def article_documents(ctx: RenderContext) -> list[tuple[str, str]]:
    """(id, ETag) of every article's current document, from the bucket listing alone."""
    found = []
    for key, etag in ctx.storage.data.etags("articles/", delimiter="/"):
        if key.endswith(".json"):
            found.append((key.removeprefix("articles/").removesuffix(".json"), etag))
    return found


def rebuild_articles(
    ctx: RenderContext,
    documents: list[tuple[str, str]],
    *,
    channel: str | None = None,
    advance: Advance = lambda _: None,
) -> Summary:
    """Render the article pages whose inputs changed, resuming an interrupted run."""
    summary = Summary()
    restore_pictures(ctx)
    sync_page_hashes(ctx)
    side = refresh_sidebar(ctx)
    done_key = ctx.keys.rebuild_done(channel or "all")
    done: set[str] = ctx.redis.smembers(done_key)  # type: ignore[assignment]
    summary.resumed = len(done)
    todo = [d for d in documents if d[0] not in done]
    del done
    advance(len(documents) - len(todo))
    shares = job_shares(ctx, todo, side, channel, summary, advance)
    with Renderers(ctx, channel, side, done_key, summary, advance) as renderers:
        for share in shares:
            renderers.render(share)
    return summary


def restore_pictures(ctx: RenderContext) -> int:
    """Pictures' renditions back in the site bucket (from the kept originals) before the
    pages that show them are rendered: an emptied site bucket loses them with the pages."""
    settings = MediaSettings.model_validate(ctx.settings.model_dump())
    media = MediaContext(settings, ctx.storage, ctx.redis, ctx.keys, PictureFetcher(settings))
    restored = restore_renditions(media)
    if restored:
        log.info("render.rebuild.pictures_restored", originals=restored)
    return restored


@dataclass
class Renderers:
    """Where shares of jobs are rendered: worker processes, one per core by default.

    Rendering and signing S3 requests are CPU work that one process, holding the GIL,
    cannot spread over the cores. The pool starts with the first full share, so a rebuild
    with little to do (the second one, say) renders it here without starting processes; at
    most two shares per process wait, so memory stays bounded however large the archive.
    """

    ctx: RenderContext
    channel: str | None
    side: str
    done_key: str
    summary: Summary
    advance: Advance
    pool: ProcessPoolExecutor | None = None
    pending: dict[Future[Summary], int] = field(default_factory=dict)

    @property
    def processes(self) -> int:
        return self.ctx.settings.rebuild_processes or os.cpu_count() or 1

    def render(self, share: list[Job]) -> None:
        full = len(share) >= self.ctx.settings.rebuild_share
        if self.processes == 1 or (self.pool is None and not full):
            self._done(
                rebuild_pages(self.ctx, share, self.channel, self.side, self.done_key), len(share)
            )
            return
        if self.pool is None:
            spawn = multiprocessing.get_context("spawn")  # no fork of a process with threads
            self.pool = ProcessPoolExecutor(
                self.processes,
                mp_context=spawn,
                initializer=start_worker,
                initargs=(self.ctx.settings,),
            )
        task = self.pool.submit(rebuild_share, share, self.channel, self.side, self.done_key)
        self.pending[task] = len(share)
        while len(self.pending) >= 2 * self.processes:
            self._collect(FIRST_COMPLETED)

    def _collect(self, until: str) -> None:
        for task in wait(self.pending, return_when=until).done:
            self._done(task.result(), self.pending.pop(task))

    def _done(self, share: Summary, articles: int) -> None:
        self.summary.add(share)
        self.advance(articles)

    def __enter__(self) -> Renderers:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.pending and exc[0] is None:
                self._collect(ALL_COMPLETED)
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)


def list_pages(ctx: RenderContext, channel: str | None) -> list[str]:
    """The dependant pages a rebuild renders after the articles (sidebar first)."""
    slugs = [channel] if channel else [c.slug for c in ctx.site.channels]
    pages = ["sidebar", "home", "feeds:site", "search", "sitemap"]
    for slug in slugs:
        pages += [f"channel:{slug}", f"archive:{slug}", f"feeds:{slug}"]
    return pages


def rebuild_lists(
    ctx: RenderContext, channel: str | None, advance: Advance = lambda _: None
) -> Summary:
    summary = Summary()
    for page in list_pages(ctx, channel):
        try:
            for key, written in render_dependant(ctx, page, 1).items():
                summary.count(written, key)
        except Exception as exc:
            log.warning("render.rebuild.failed", page=page, error=describe(exc))
            summary.count(None, page)
        advance(1)
    return summary


def finish(ctx: RenderContext, channel: str | None, summary: Summary) -> None:
    """Forget the resume point once every page made it."""
    if not summary.failed:
        ctx.redis.delete(ctx.keys.rebuild_done(channel or "all"))


def forget_rendered(ctx: RenderContext) -> None:
    """`--force`: distrust the fingerprints, so every page is rendered again."""
    ctx.redis.delete(ctx.keys.page_inputs)


def sync_page_hashes(ctx: RenderContext) -> int:
    """Replace the record of written pages with the site bucket's own listing (ETag = MD5).

    One LIST per 1,000 pages instead of a HEAD per page; afterwards a page with no entry is
    known to be missing (an emptied bucket is rebuilt), so it is written without asking.
    """
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.delete(ctx.keys.page_hashes)
    pages = 0
    for key, etag in ctx.storage.site.etags(""):
        pipe.hset(ctx.keys.page_hashes, key, etag)
        pages += 1
        if len(pipe) >= 2000:
            pipe.execute()
    pipe.execute()
    ctx.page_hashes_complete = True
    return pages
