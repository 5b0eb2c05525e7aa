"""Re-render, from a flush, the articles whose previous/next links changed: all at once.

A burst of articles in one channel changes the 下一篇 link of each one's older neighbour,
so a flush re-renders about as many pages as articles arrived. Asking Redis page by page
cost nine round trips each; here the whole group asks together (documents still cached by
render.article, ranks, neighbours, fingerprints, page hashes), threads PUT what changed,
and one pipeline records it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from markupsafe import Markup

from services.render.articles import (
    ArticlePage,
    article_page,
    load_article,
    neighbours_of,
    page_fingerprint,
    parse_document,
)
from services.render.context import HTML, RenderContext
from services.render.failures import INFRASTRUCTURE, check_article, fail_article, reason_of
from services.render.pages import sidebar_html
from services.render.pictures import ref_of, states
from shared.models import Article

T = TypeVar("T")


def rerender_articles(ctx: RenderContext, ids: list[str]) -> dict[str, bool]:
    """Re-render published, indexed articles whose page inputs changed. Returns
    `article:<id>` -> whether its page was written (as render_dependant reports pages)."""
    documents = _documents(ctx, ids)
    now = ctx.clock()
    shown = [a for a, _ in documents.values() if not a.unpublished and not a.held_at(now)]
    live = [(a.channel, a.id) for a in shown]
    pipe = ctx.redis.pipeline(transaction=False)
    for channel, aid in live:
        pipe.zscore(ctx.keys.channel(channel), aid)
        pipe.hget(ctx.keys.page_inputs, aid)
    answers = pipe.execute()
    indexed = [place for place, score in zip(live, answers[0::2], strict=True) if score]
    inputs = dict(zip([aid for _, aid in live], answers[1::2], strict=True))
    links = neighbours_of(ctx, indexed)
    side = sidebar_html(ctx)
    found = states(ctx, [ref_of(i) for _, aid in indexed for i in documents[aid][0].images])
    stale = []
    for _, aid in indexed:
        article, md5 = documents[aid]
        fingerprint = page_fingerprint(ctx, md5, links[aid], str(side))
        if inputs[aid] != fingerprint:
            url = ctx.article_url(article.id, article.channel, article.published_at)
            page = ArticlePage(article, url, links[aid], Markup(side), md5, found)
            stale.append((page, fingerprint))
    written = _write_all(ctx, stale)
    return {f"article:{aid}": written.get(aid, False) for aid in ids}


def _documents(ctx: RenderContext, ids: list[str]) -> dict[str, tuple[Article, str]]:
    """Each article's document and MD5: from render.article's cache, else the data bucket.
    A document that cannot be rendered is marked failed and left out."""
    pipe = ctx.binary_redis.pipeline(transaction=False)
    for aid in ids:
        pipe.get(ctx.keys.document_cache(aid))
    found: dict[str, tuple[Article, str]] = {}
    missing = []
    for aid, raw in zip(ids, pipe.execute(), strict=True):
        if raw is None:
            missing.append(aid)
        else:
            _keep(ctx, found, aid, _guarded(parse_document, raw))
    with ThreadPoolExecutor(min(len(missing), ctx.settings.rebuild_threads) or 1) as pool:
        loads = pool.map(lambda a: _guarded(load_article, ctx, a), missing)
        for aid, loaded in zip(missing, loads, strict=True):
            if loaded is not None:
                _keep(ctx, found, aid, loaded)
    return found


def _guarded(load: Callable[..., T], *args: object) -> T | Exception:
    """`load(*args)`, with a fault of the content returned instead of raised (so that one
    document's fault, even on a pool thread, fails only that document)."""
    try:
        return load(*args)
    except INFRASTRUCTURE:
        raise
    except Exception as exc:
        return exc


def _keep(
    ctx: RenderContext,
    found: dict[str, tuple[Article, str]],
    aid: str,
    loaded: tuple[Article, str] | Exception,
) -> None:
    """Add a document that parsed and can be shown; mark its article failed if not."""
    fault = loaded if isinstance(loaded, Exception) else _guarded(check_article, loaded[0])
    if fault is None and not isinstance(loaded, Exception):
        found[aid] = loaded
    elif fault is not None:
        fail_article(ctx, aid, reason_of(fault), stage="neighbour")


def _write_all(ctx: RenderContext, stale: list[tuple[ArticlePage, str]]) -> dict[str, bool]:
    """Put the pages whose bytes changed (threads: each waits on S3); record them at once."""
    rendered = [
        (p, fp, _guarded(article_page, ctx, p.article, p.url, p.links, p.side, p.pictures))
        for p, fp in stale
    ]
    for page, _, body in rendered:
        if isinstance(body, Exception):
            fail_article(ctx, page.article.id, reason_of(body), stage="neighbour")
    stale = [(page, fp) for page, fp, body in rendered if not isinstance(body, Exception)]
    bodies = [body for _, _, body in rendered if not isinstance(body, Exception)]
    if not stale:
        return {}
    md5s = [hashlib.md5(body).hexdigest() for body in bodies]
    known = ctx.redis.hmget(ctx.keys.page_hashes, [p.url for p, _ in stale])
    changed = [
        (page, body, old)
        for (page, _), body, md5, old in zip(stale, bodies, md5s, known, strict=True)
        if md5 != old
    ]
    with ThreadPoolExecutor(min(len(changed), ctx.settings.rebuild_threads) or 1) as pool:
        puts = list(pool.map(lambda item: _put(ctx, *item), changed))
    pipe = ctx.redis.pipeline(transaction=False)
    pipe.hincrby(ctx.keys.render_count, "article", len(stale))
    for (page, fingerprint), md5 in zip(stale, md5s, strict=True):
        pipe.hset(ctx.keys.page_hashes, page.url, md5)
        pipe.hset(ctx.keys.page_inputs, page.article.id, fingerprint)
    pipe.execute()
    written = {page.article.id for (page, *_), put in zip(changed, puts, strict=True) if put}
    return {page.article.id: page.article.id in written for page, _ in stale}


def _put(ctx: RenderContext, page: ArticlePage, body: bytes, known: str | None) -> bool:
    """With no record of the page in Redis, S3's ETag decides (as write_page does)."""
    return ctx.storage.site.put(
        page.url,
        body,
        content_type=HTML,
        cache_control=ctx.settings.html_cache_control,
        only_if_changed=known is None and not ctx.page_hashes_complete,
    )
