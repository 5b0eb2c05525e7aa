"""Rebuild every page from the data bucket, and rebuild the Redis indexes it reads.

A rebuild lists the article documents (one LIST per 1,000, with their ETags) and skips
every article whose page fingerprint (document, theme, neighbours, sidebar) is unchanged,
so a second run reads no document and renders nothing it does not have to. Finished ids
are kept in a Redis set until the run completes: an interrupted rebuild resumes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice

from markupsafe import Markup

from services.render.articles import (
    Neighbours,
    load_article,
    neighbours_of,
    page_fingerprint,
    render_article_page,
)
from services.render.coalesce import render_dependant
from services.render.context import RenderContext
from services.render.pages import refresh_sidebar
from shared.logging import get_logger
from shared.models import Article

log = get_logger("pressroom.render.rebuild")
BATCH = 250
Advance = Callable[[int], None]


@dataclass
class Summary:
    written: int = 0
    unchanged: int = 0
    failed: int = 0
    resumed: int = 0
    failures: list[str] = field(default_factory=list)

    def count(self, outcome: bool | None, what: str) -> None:
        if outcome is None:
            self.failed += 1
            self.failures.append(what)
        elif outcome:
            self.written += 1
        else:
            self.unchanged += 1


def article_documents(ctx: RenderContext) -> list[tuple[str, str]]:
    """(id, ETag) of every article's current document, from the bucket listing alone."""
    found = []
    for key, etag in ctx.storage.data.etags("articles/", delimiter="/"):
        if key.endswith(".json"):
            found.append((key.removeprefix("articles/").removesuffix(".json"), etag))
    return found


def batches(items: list[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def rebuild_articles(
    ctx: RenderContext,
    documents: list[tuple[str, str]],
    *,
    channel: str | None = None,
    advance: Advance = lambda _: None,
) -> Summary:
    """Render the article pages whose inputs changed, resuming an interrupted run."""
    summary = Summary()
    sync_page_hashes(ctx)
    side = refresh_sidebar(ctx)
    done_key = ctx.keys.rebuild_done(channel or "all")
    done: set[str] = ctx.redis.smembers(done_key)  # type: ignore[assignment]
    summary.resumed = len(done)
    with ThreadPoolExecutor(ctx.settings.rebuild_threads) as pool:
        for batch in batches([d for d in documents if d[0] not in done], BATCH):
            stale = _stale(ctx, batch, side, channel, summary)
            outcomes = list(
                pool.map(lambda item: _rebuild_one(ctx, item[0], channel, item[1], side), stale)
            )
            for (aid, _), outcome in zip(stale, outcomes, strict=True):
                summary.count(outcome, aid)
            finished = [aid for aid, _ in batch if aid not in set(summary.failures)]
            if finished:
                ctx.redis.sadd(done_key, *finished)
            advance(len(batch))
    return summary


def _stale(
    ctx: RenderContext,
    batch: list[tuple[str, str]],
    side: str,
    channel: str | None,
    summary: Summary,
) -> list[tuple[str, Neighbours | None]]:
    """Ids of the batch whose page must be rendered (with their neighbours, when indexed);
    the rest count as unchanged."""
    pipe = ctx.redis.pipeline(transaction=False)
    for aid, _ in batch:
        pipe.hmget(ctx.keys.article(aid), "channel", "status")
        pipe.hget(ctx.keys.page_inputs, aid)
    answers = pipe.execute()
    metas, stored = answers[0::2], answers[1::2]
    placed = [(m[0], aid) for (aid, _), m in zip(batch, metas, strict=True) if m[0]]
    links = neighbours_of(ctx, placed)
    stale = []
    for (aid, etag), (home, status), known in zip(batch, metas, stored, strict=True):
        if channel and home and home != channel:
            continue
        fresh = known and status == "published" and aid in links
        if fresh and known == page_fingerprint(ctx, etag, links[aid], side):
            summary.unchanged += 1
            continue
        stale.append((aid, links.get(aid)))
    return stale


def _rebuild_one(
    ctx: RenderContext,
    article_id: str,
    channel: str | None,
    links: Neighbours | None,
    side: str,
) -> bool | None:
    """Render one article's page; None if it failed (counted, logged, retried next run)."""
    try:
        loaded = load_article(ctx, article_id)
        if loaded is None:
            return False
        article, md5 = loaded
        if channel and article.channel != channel:
            return False
        if article.unpublished:
            ctx.delete_page(ctx.article_url(article.id, article.channel, article.published_at))
            return False
        if links and any(e and e.channel != article.channel for e in (links.older, links.newer)):
            links = None  # the index disagrees with the document: look them up afresh
        written = render_article_page(ctx, article, md5, links=links, side=Markup(side))
        _mark_rendered(ctx, article)
        return written
    except Exception as exc:  # one bad document must not stop a rebuild of thousands
        log.warning("render.rebuild.failed", id=article_id, error=repr(exc))
        return None


def _mark_rendered(ctx: RenderContext, article: Article) -> None:
    ctx.redis.hset(
        ctx.keys.article(article.id),
        mapping={"status": "published", "rendered_version": article.version},
    )


def list_pages(ctx: RenderContext, channel: str | None) -> list[str]:
    """The dependant pages a rebuild renders after the articles (sidebar first)."""
    slugs = [channel] if channel else [c.slug for c in ctx.site.channels]
    pages = ["sidebar", "home", "feeds:site", "sitemap"]
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
            log.warning("render.rebuild.failed", page=page, error=repr(exc))
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
