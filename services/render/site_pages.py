"""Site pages (/{slug}.html, from the data bucket's site-pages/) and the list pages a site
needs before its first article: every channel's index, home, feeds and sitemap."""

from __future__ import annotations

import orjson

from services.render.context import RenderContext
from services.render.dirty import mark_dirty
from services.render.pages import sidebar_html
from services.render.structured_data import describe
from shared.logging import get_logger
from shared.site_pages import PREFIX, SitePage, page_key, page_path, slug_of

log = get_logger("pressroom.render.pages")
# A sitemap's dirty mark past any page: only its first file (home, channels, site pages)
# and the newest article file are rendered again, whatever the archive's size.
SITEMAP_HEAD = 2**31
# Renders of one page when its document keeps changing under it before giving up to the
# newer task that the change enqueued.
ATTEMPTS = 3


def render_site_page(ctx: RenderContext, slug: str) -> str:
    """Publish the page as stored, or withdraw it when it is gone. Idempotent.

    The document is read again after the write: a PUT or DELETE that landed meanwhile has
    its own task, which may have finished first, so this one renders again rather than
    leave the older state on the site.
    """
    outcome = "missing"
    for _ in range(ATTEMPTS):
        found = ctx.storage.data.get_tagged(page_key(slug))
        if found is None:
            outcome = _withdraw(ctx, slug)
            etag = None
        else:
            raw, etag = found
            outcome = _publish(ctx, SitePage.model_validate(orjson.loads(raw)))
        if ctx.storage.data.etag(page_key(slug)) == etag:
            break
    log.info(f"render.page.{outcome}", slug=slug)
    return outcome


def _publish(ctx: RenderContext, page: SitePage) -> str:
    path = page_path(page.slug)
    body = ctx.render(
        "page.html.j2",
        page=page,
        url=path,
        description=describe(page.body_html) or page.title,
        sidebar_html=sidebar_html(ctx),
    )
    written = ctx.write_page(path, body, "site_page")
    if ctx.redis.sadd(ctx.keys.site_pages, page.slug):
        mark_dirty(ctx, set(), {"sitemap": SITEMAP_HEAD})
    return "published" if written else "unchanged"


def _withdraw(ctx: RenderContext, slug: str) -> str:
    ctx.delete_page(page_path(slug))
    if ctx.redis.srem(ctx.keys.site_pages, slug):
        mark_dirty(ctx, set(), {"sitemap": SITEMAP_HEAD})
    return "removed"


def stored_slugs(ctx: RenderContext) -> set[str]:
    """Slugs of every page in the data bucket (one LIST per 1,000 pages)."""
    slugs = (slug_of(key) for key in ctx.storage.data.keys(PREFIX))
    return {slug for slug in slugs if slug}


def published_slugs(ctx: RenderContext) -> set[str]:
    found: set[str] = ctx.redis.smembers(ctx.keys.site_pages)  # type: ignore[assignment]
    return found


def sync_site_pages(ctx: RenderContext, *, everything: bool) -> dict[str, str]:
    """Make the site's pages match the data bucket: render each stored page (`everything`,
    for a rebuild) or only those not yet published (a worker starting), withdraw the rest."""
    stored, published = stored_slugs(ctx), published_slugs(ctx)
    todo = (stored if everything else stored - published) | (published - stored)
    return {slug: render_site_page(ctx, slug) for slug in sorted(todo)}


def sitemap_urls(ctx: RenderContext) -> list[str]:
    """Absolute URLs of the published site pages, in a stable order."""
    return [ctx.theme.absolute(page_path(slug)) for slug in sorted(published_slugs(ctx))]


# --- list pages a site has from its first day ------------------------------------------------


def list_page_keys(ctx: RenderContext) -> dict[str, str]:
    """Dependant page name (as flushes know them) -> the site-bucket key that shows it exists."""
    keys = {
        "sidebar": "fragments/sidebar.html",
        "home": "index.html",
        "feeds:site": "feed.xml",
        "sitemap": "sitemap.xml",
        "search": "query.html",  # the footer's 相关查询
    }
    for channel in ctx.site.channels:
        keys[f"channel:{channel.slug}"] = f"{channel.slug}/index.html"
        keys[f"feeds:{channel.slug}"] = f"{channel.slug}/feed.xml"
    return keys


def missing_list_pages(ctx: RenderContext) -> set[str]:
    """Dependants never written (as far as Redis knows): a channel added to site.toml, or a
    site with no article yet. One round trip."""
    keys = list_page_keys(ctx)
    known = ctx.redis.hmget(ctx.keys.page_hashes, list(keys.values()))
    return {name for name, md5 in zip(keys, known, strict=True) if md5 is None}
