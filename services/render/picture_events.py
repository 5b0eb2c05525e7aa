"""render.pictures_ready: a picture's renditions are stored (or it failed for good), so the
pages showing it follow, without a new version of any article."""

from __future__ import annotations

import time

from services.render.context import RenderContext
from services.render.dirty import mark_dirty
from services.render.pagination import page_of
from services.render.relink import rerender_articles
from shared.logging import get_logger

log = get_logger("pressroom.render")


def picture_ready(ctx: RenderContext, ref: str) -> int:
    """Re-render every page showing the picture: its articles' own pages at once (the
    reader waits for those), their channels' index and archive page and home through the
    burst's one flush. Returns how many articles show it."""
    started = time.perf_counter()
    linked: set[str] = ctx.redis.smembers(ctx.keys.picture_articles(ref))  # type: ignore[assignment]
    ids = sorted(linked)
    if not ids:
        return 0
    pipe = ctx.redis.pipeline(transaction=False)
    for aid in ids:
        pipe.hget(ctx.keys.article(aid), "channel")
        # the page's inputs now differ from what it was rendered from
        pipe.hdel(ctx.keys.page_inputs, aid)
    channels = dict(zip(ids, pipe.execute()[0::2], strict=True))
    shown = [(aid, channel) for aid, channel in channels.items() if channel]
    for aid, channel in shown:
        pipe.zrank(ctx.keys.channel(channel), aid)
    live: list[str] = []
    pages = {"home"}
    series: dict[str, int] = {}
    for (aid, channel), rank in zip(shown, pipe.execute(), strict=True):
        if rank is None:  # unpublished or held: no page shows it
            continue
        live.append(aid)
        pages.add(f"channel:{channel}")
        page = page_of(int(rank), ctx.site.page_size)
        name = f"archive:{channel}"
        series[name] = min(series.get(name, page), page)
    written = rerender_articles(ctx, live) if live else {}
    mark_dirty(ctx, pages, series)
    ms = round((time.perf_counter() - started) * 1000, 1)
    log.info(
        "render.pictures_ready", ref=ref, articles=len(live), written=sum(written.values()), ms=ms
    )
    return len(ids)
