"""The site's own files (robots.txt, the 404 page, icons at the root), what a site needs
before its first article, and the check that every page the theme links to exists."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from services.render.coalesce import render_dependant
from services.render.context import HTML, RenderContext
from services.render.feeds import SITEMAP
from services.render.pages import sidebar_html
from services.render.site_pages import missing_list_pages, published_slugs, sync_site_pages
from services.render.summary import Summary
from shared.logging import describe, get_logger
from shared.site_pages import page_path

log = get_logger("pressroom.render.site")

NOT_FOUND_PAGE = "404.html"
ROBOTS = "robots.txt"
# Browsers and crawlers ask the root for these whatever a page links to.
ROOT_ICONS = {"favicon.ico": "image/x-icon", "apple-touch-icon.png": "image/png"}
HREF = re.compile(r'\shref="([^"]*)"')


def robots_txt(ctx: RenderContext) -> bytes:
    return (
        "User-agent: *\n"
        "Disallow: /api/\n"
        "Disallow: /fragments/\n"
        "\n"
        f"Sitemap: {ctx.theme.absolute(SITEMAP)}\n"
    ).encode()


def publish_site_files(ctx: RenderContext) -> dict[str, bool]:
    """robots.txt, the 404 page the edge answers every missing page with, and the icons."""
    page = ctx.render("404.html.j2", sidebar_html=sidebar_html(ctx))
    written = {
        ROBOTS: ctx.write_page(ROBOTS, robots_txt(ctx), "site_file", "text/plain; charset=utf-8"),
        NOT_FOUND_PAGE: ctx.write_page(NOT_FOUND_PAGE, page, "site_file", HTML),
    }
    for name, content_type in ROOT_ICONS.items():
        body = ctx.theme.static[name][1]
        written[name] = ctx.write_page(name, body, "site_file", content_type)
    return written


def publish_site(ctx: RenderContext) -> dict[str, bool]:
    """What a worker (or `pressroom init`) makes sure of at start: the site files, a list
    page for every channel (empty ones say 暂无文章), home, feeds and sitemap if never
    written, and every stored site page not yet published."""
    written = publish_site_files(ctx)
    for name in sorted(missing_list_pages(ctx), key=lambda n: n != "sidebar"):
        written |= render_dependant(ctx, name, 1)
    for slug, outcome in sync_site_pages(ctx, everything=False).items():
        written[page_path(slug)] = outcome != "unchanged"
    return written


def rebuild_site(ctx: RenderContext) -> Summary:
    """A rebuild's share: every site page as stored (withdrawing pages no longer stored),
    and the site files; before the sitemap, which lists the pages."""
    summary = Summary()
    try:
        for slug, outcome in sync_site_pages(ctx, everything=True).items():
            summary.count(outcome != "unchanged", page_path(slug))
        for key, written in publish_site_files(ctx).items():
            summary.count(written, key)
    except Exception as exc:
        log.warning("render.rebuild.failed", page="site pages", error=describe(exc))
        summary.count(None, "site pages and files")
    return summary


# --- links that lead nowhere --------------------------------------------------------------


@dataclass(frozen=True)
class DeadLink:
    where: str  # "nav", "footer" or the page it was found on
    title: str
    url: str
    hint: str

    def __str__(self) -> str:
        return f"{self.where}: {self.title or self.url} -> {self.url} ({self.hint})"


def site_key(url: str) -> str | None:
    """The site-bucket key an internal URL is served from; None for another site or the APIs."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    path = unquote(parts.path)
    if path.startswith("/api/"):
        return None
    return path.lstrip("/") + ("index.html" if path.endswith("/") else "")


def dead_links(ctx: RenderContext) -> list[DeadLink]:
    """Every link of the nav, the footer, home and the 404 page (the theme's own links) to
    a page the site bucket does not have, each named once."""
    found: dict[str, DeadLink] = {}
    pages = published_slugs(ctx)
    for where, links in (("nav", ctx.site.nav), ("footer", ctx.site.footer.links)):
        for link in links:
            if link.page is not None and link.page not in pages:
                hint = f"no site page {link.page!r}: PUT /v1/pages/{link.page} or pressroom init"
                found.setdefault(link.url, DeadLink(where, link.title, link.url, hint))
            elif (key := site_key(link.url)) and not _exists(ctx, key):
                found.setdefault(link.url, DeadLink(where, link.title, link.url, "no such page"))
    for page in ("index.html", NOT_FOUND_PAGE):
        body = ctx.storage.site.get(page)
        for url in sorted(set(HREF.findall(body.decode()))) if body else []:
            key = site_key(url)
            if key and url not in found and not _exists(ctx, key):
                found[url] = DeadLink(page, "", url, "no such page")
    return list(found.values())


def _exists(ctx: RenderContext, key: str) -> bool:
    return ctx.storage.site.etag(key) is not None
