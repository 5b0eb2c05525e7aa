"""Feeds (RSS 2.0 and Atom, site-wide and per channel) and the sitemap series."""

from __future__ import annotations

from datetime import UTC, datetime

from services.render.context import ATOM, RSS, XML, RenderContext
from services.render.pages import entries, newest
from services.render.pagination import page_bounds, page_count, pages_to_render
from services.render.site_pages import sitemap_urls
from shared.site import Channel

# A feed with no items still needs a stable <updated>; this keeps its bytes unchanged.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
SITEMAP = "sitemap.xml"
SITEMAP_PAGES = "sitemaps/pages.xml"


def feed_paths(channel: Channel | None) -> tuple[str, str]:
    folder = f"{channel.slug}/" if channel else ""
    return f"{folder}feed.xml", f"{folder}atom.xml"


def render_feeds(ctx: RenderContext, channel: Channel | None) -> dict[str, bool]:
    """Write the RSS and Atom feeds of the whole site (channel None) or of one channel."""
    zset = ctx.keys.channel(channel.slug) if channel else ctx.keys.published
    items = newest(ctx, zset, ctx.settings.feed_size)
    rss_path, atom_path = feed_paths(channel)
    home = f"{channel.slug}/" if channel else ""
    names = {c.slug: c.name for c in ctx.site.channels}
    common = {
        "channel": channel,
        "title": f"{channel.name} - {ctx.site.name}" if channel else ctx.site.name,
        "home": ctx.theme.absolute(home),
        "items": items,
        "channel_names": names,
        "updated": max((i.updated_at for i in items), default=EPOCH),
        "built": max((i.published_at for i in items), default=EPOCH),
    }
    rss = ctx.render("rss.xml.j2", self_url=ctx.theme.absolute(rss_path), **common)
    atom = ctx.render("atom.xml.j2", self_url=ctx.theme.absolute(atom_path), **common)
    return {
        rss_path: ctx.write_page(rss_path, rss, "feed", RSS),
        atom_path: ctx.write_page(atom_path, atom, "feed", ATOM),
    }


# --- sitemap --------------------------------------------------------------------------------


def sitemap_chunk_key(number: int) -> str:
    return f"sitemaps/articles-{number}.xml"


def site_pages(ctx: RenderContext) -> list[str]:
    """The pages besides articles that search engines should know: home, channels and the
    site pages (about, disclaimer...)."""
    channels = (ctx.theme.absolute(f"{c.slug}/") for c in ctx.site.channels)
    return [ctx.theme.absolute(""), *channels, *sitemap_urls(ctx)]


def render_sitemap(ctx: RenderContext, dirty_from: int) -> dict[str, bool]:
    """One sitemap.xml while the site is small; past one file, an index over numbered files.

    Files are numbered from the oldest article, so a full file never changes again: one
    new article rewrites the newest file and the index, whatever the archive's size.
    """
    size = ctx.settings.sitemap_urls_per_file
    total = int(ctx.redis.zcard(ctx.keys.published))
    rendered = int(ctx.redis.hget(ctx.keys.series_length, "sitemap") or 0)
    pages = site_pages(ctx)
    if total + len(pages) <= size:
        ids: list[str] = ctx.redis.zrange(ctx.keys.published, 0, -1)  # type: ignore[assignment]
        body = ctx.render("sitemap.xml.j2", pages=pages, items=entries(ctx, ids))
        written = {SITEMAP: ctx.write_page(SITEMAP, body, "sitemap", XML)}
        _drop_sitemap_files(ctx, 0, rendered)
        return written
    chunks = page_count(total, size)
    written = {
        SITEMAP_PAGES: ctx.write_page(
            SITEMAP_PAGES, ctx.render("sitemap.xml.j2", pages=pages, items=[]), "sitemap", XML
        )
    }
    for number in pages_to_render(dirty_from, rendered, chunks):
        written[sitemap_chunk_key(number)] = _render_chunk(ctx, number, size)
    _drop_sitemap_files(ctx, chunks, rendered)
    index = _sitemap_index(ctx, chunks)
    written[SITEMAP] = ctx.write_page(SITEMAP, index, "sitemap", XML)
    return written


def _render_chunk(ctx: RenderContext, number: int, size: int) -> bool:
    start, end = page_bounds(number, size)
    ids: list[str] = ctx.redis.zrange(ctx.keys.published, start, end)  # type: ignore[assignment]
    items = entries(ctx, ids)
    lastmod = max((i.updated_at for i in items), default=EPOCH)
    ctx.redis.hset(ctx.keys.series_length, f"sitemap@{number}", lastmod.isoformat())
    body = ctx.render("sitemap.xml.j2", pages=[], items=items)
    return ctx.write_page(sitemap_chunk_key(number), body, "sitemap", XML)


def _sitemap_index(ctx: RenderContext, chunks: int) -> bytes:
    fields = [f"sitemap@{n}" for n in range(1, chunks + 1)]
    stamps: list[str | None] = ctx.redis.hmget(ctx.keys.series_length, fields) if fields else []  # type: ignore[assignment]
    files: list[tuple[str, datetime | None]] = [(ctx.theme.absolute(SITEMAP_PAGES), None)]
    for number, stamp in enumerate(stamps, start=1):
        when = datetime.fromisoformat(stamp) if stamp else None
        files.append((ctx.theme.absolute(sitemap_chunk_key(number)), when))
    return ctx.render("sitemap_index.xml.j2", files=files)


def _drop_sitemap_files(ctx: RenderContext, keep: int, rendered: int) -> None:
    for number in range(keep + 1, rendered + 1):
        ctx.delete_page(sitemap_chunk_key(number))
        ctx.redis.hdel(ctx.keys.series_length, f"sitemap@{number}")
    if keep == 0 and rendered:
        ctx.delete_page(SITEMAP_PAGES)
    ctx.redis.hset(ctx.keys.series_length, "sitemap", keep)
