"""Pages built from the Redis indexes: sidebar, home, channel index and archive pages."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from markupsafe import Markup

from services.render.context import Entry, RenderContext
from services.render.failures import Unrenderable, check_dates, fail_article
from services.render.pagination import (
    Pager,
    archived_pages,
    index_page_links,
    index_size,
    page_bounds,
    pages_to_render,
)
from services.render.pictures import add_thumbnails
from services.render.theme import Theme
from shared.logging import get_logger
from shared.site import Channel

log = get_logger("pressroom.render")

SIDEBAR_FRAGMENT = "fragments/sidebar.html"
FOCUS_SIZE = 5  # 焦点图: the newest headlines that have a picture
ENTRY_FIELDS = (
    "title",
    "url",
    "published_at",
    "updated_at",
    "summary",
    "channel",
    "status",
    "correction",
)
HIDDEN = ("unpublished", "failed", "scheduled")


def entries(ctx: RenderContext, ids: list[str]) -> list[Entry]:
    """The articles behind `ids`, in that order; ids without a live index entry drop out.

    An entry that cannot be shown (left in the indexes by an older release, say) is
    skipped and its article marked failed, so that it never fails the page listing it.
    """
    pipe = ctx.redis.pipeline(transaction=False)
    for aid in ids:
        pipe.hmget(ctx.keys.article(aid), *ENTRY_FIELDS)
    found: list[Entry] = []
    for aid, values in zip(ids, pipe.execute(), strict=True):
        title, url, published, _, _, _, status, _ = values
        if not (title and url and published) or status in HIDDEN:
            continue
        try:
            found.append(_entry(ctx, aid, values))
        except (Unrenderable, ValueError, OverflowError) as exc:
            log.warning("render.entry.skipped", id=aid, error=str(exc))
            fail_article(ctx, aid, str(exc), stage="list")
    return found


def _entry(ctx: RenderContext, aid: str, values: list[str]) -> Entry:
    title, url, published, updated, summary, channel, _, correction = values
    published_at = datetime.fromisoformat(published)
    updated_at = datetime.fromisoformat(updated) if updated else published_at
    check_dates(published_at=published_at, updated_at=updated_at)
    return Entry(
        id=aid,
        title=title,
        url="/" + url,
        published_at=published_at,
        updated_at=updated_at,
        date=ctx.theme.local_date(published_at),
        summary=summary or "",
        channel=channel or "",
        correction=correction or "",
    )


def newest(ctx: RenderContext, zset: str, limit: int) -> list[Entry]:
    ids: list[str] = ctx.redis.zrevrange(zset, 0, limit - 1)  # type: ignore[assignment]
    return entries(ctx, ids)


# --- sidebar ---------------------------------------------------------------------------


def sidebar_html(ctx: RenderContext) -> Markup:
    """The sidebar blocks every page embeds, as last rendered by a flush.

    Article pages take it from Redis (one GET) instead of querying three lists each time;
    a new headline re-renders this once, and readers with JavaScript load the fragment.
    """
    cached = ctx.redis.get(ctx.keys.sidebar_html)
    if cached is None:
        cached = refresh_sidebar(ctx)
    return Markup(cached)  # rendered by our own autoescaping template


def refresh_sidebar(ctx: RenderContext) -> str:
    size = ctx.site.sidebar_size
    notices = ctx.site.channel(ctx.site.notices_channel)
    hot_ids: list[str] = ctx.redis.zrevrange(  # type: ignore[assignment]
        ctx.keys.top(ctx.settings.hot_window), 0, size * 2 - 1
    )
    blocks = {
        "headlines": newest(ctx, ctx.keys.headlines, size),
        "notices": newest(ctx, ctx.keys.channel(ctx.site.notices_channel), size),
        "notices_title": notices.name if notices else "",
        "hot": entries(ctx, hot_ids)[:size],
    }
    html = ctx.render("sidebar_blocks.html.j2", sidebar=blocks).decode()
    ctx.redis.set(ctx.keys.sidebar_html, html)
    return html


def render_sidebar(ctx: RenderContext) -> bool:
    html = refresh_sidebar(ctx)
    return ctx.write_page(SIDEBAR_FRAGMENT, html.encode(), "sidebar")


# --- home --------------------------------------------------------------------------------


def render_home(ctx: RenderContext) -> bool:
    size = ctx.site.sidebar_size
    latest = [newest(ctx, ctx.keys.channel(c.slug), size) for c in ctx.site.channels]
    headlines, *latest = add_thumbnails(ctx, [newest(ctx, ctx.keys.headlines, size), *latest])
    sections = [
        {"channel": c, "items": items} for c, items in zip(ctx.site.channels, latest, strict=True)
    ]
    body = ctx.render(
        "home.html.j2",
        headlines=headlines,
        focus=focus_strip(ctx, headlines),
        sections=sections,
        sidebar_html=sidebar_html(ctx),
    )
    return ctx.write_page("index.html", body, "home")


def focus_strip(ctx: RenderContext, headlines: list[Entry]) -> list[Entry]:
    """焦点图: the newest headlines that have a picture, with renditions for a wide slot."""
    pictured = [e for e in headlines if e.thumbnail][:FOCUS_SIZE]
    return add_thumbnails(ctx, [pictured], widest=None)[0] if pictured else []


# --- channel index and archive -------------------------------------------------------------


def archive_key(channel: str, page: int) -> str:
    return f"{channel}/list_{page}.html"


def render_channel_index(ctx: RenderContext, channel: Channel) -> bool:
    zset = ctx.keys.channel(channel.slug)
    total = int(ctx.redis.zcard(zset))
    size = ctx.site.page_size
    body = ctx.render(
        "list.html.j2",
        channel=channel,
        heading=channel.name,
        items=add_thumbnails(ctx, [newest(ctx, zset, index_size(total, size))])[0],
        archive_nav=archive_nav(ctx.theme, channel.slug, index_page_links(total, size)),
        pager=None,
        canonical=f"{channel.slug}/",
        sidebar_html=sidebar_html(ctx),
    )
    return ctx.write_page(f"{channel.slug}/index.html", body, "channel")


@lru_cache(maxsize=256)
def archive_nav(theme: Theme, slug: str, pages: range) -> Markup:
    """The index's links to every archive page: they grow with the archive, so they are
    rendered once per page count instead of on every publish."""
    return Markup(theme.render("_archive_pages.html.j2", slug=slug, pages=pages).decode())


def render_archive(ctx: RenderContext, channel: Channel, dirty_from: int) -> dict[str, bool]:
    """Re-render the archive pages from `dirty_from` on; drop pages past the newest."""
    zset = ctx.keys.channel(channel.slug)
    size = ctx.site.page_size
    total_pages = archived_pages(int(ctx.redis.zcard(zset)), size)
    series = f"archive:{channel.slug}"
    rendered = int(ctx.redis.hget(ctx.keys.series_length, series) or 0)
    side = sidebar_html(ctx)
    written: dict[str, bool] = {}
    for page in pages_to_render(dirty_from, rendered, total_pages):
        key = archive_key(channel.slug, page)
        written[key] = render_archive_page(ctx, channel, Pager(page, total_pages), side)
    for page in range(total_pages + 1, rendered + 1):
        ctx.delete_page(archive_key(channel.slug, page))
    ctx.redis.hset(ctx.keys.series_length, series, total_pages)
    return written


def render_archive_page(ctx: RenderContext, channel: Channel, pager: Pager, side: Markup) -> bool:
    start, end = page_bounds(pager.page, ctx.site.page_size)
    ids: list[str] = ctx.redis.zrange(ctx.keys.channel(channel.slug), start, end)  # type: ignore[assignment]
    body = ctx.render(
        "list.html.j2",
        channel=channel,
        heading=f"{channel.name} 第{pager.page}页",
        items=add_thumbnails(ctx, [list(reversed(entries(ctx, ids)))])[0],
        pager=pager,
        canonical=archive_key(channel.slug, pager.page),
        sidebar_html=side,
    )
    return ctx.write_page(archive_key(channel.slug, pager.page), body, "archive")
