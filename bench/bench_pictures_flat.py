"""Cost of publishing one article with a picture at 1,000 vs 50,000 existing articles that
have pictures too (it must not grow), beside the same sites without pictures (the baseline).

As bench_render_flat: archives seeded straight into Redis, then real publishes (render.article
on a stored document, then the flush). Every picture is already ready in media's records, as
after media.fetch: what is measured is what pictures add to render (linking, reading the
states, <picture> markup, thumbnails in every list and the 焦点图 on home).
"""

from __future__ import annotations

import statistics
import time

import psutil

from bench.bench_render_flat import SIZES, summarize
from bench.render_support import article, context, infra, seed_indexes, store
from services.ingest.pictures import image_ref
from services.media.schemas import Picture, PictureState, Rendition
from services.render.coalesce import flush
from services.render.context import RenderContext
from services.render.feeds import render_sitemap
from services.render.pagination import archived_pages
from services.render.service import publish_article
from shared.models import Article, ArticleImage

WARMUP, MEASURED = 5, 40
WIDTHS = (320, 640, 960, 1280, 1920)


def pictured(n: int, *, headline: bool = False) -> Article:
    """Article n with a lead picture and one inline picture in its body."""
    plain = article(n, headline=headline)
    lead, inline = (f"https://img.agency.example/{n}-{kind}.jpg" for kind in ("lead", "body"))
    body = f'<p><img src="{inline}" alt="现场"></p>' + plain.body_html
    images = [
        ArticleImage(ref=image_ref(lead), source=lead, caption="签约现场", credit="新华社"),
        ArticleImage(ref=image_ref(inline), source=inline, alt="现场", inline=True),
    ]
    return plain.model_copy(update={"images": images, "body_html": body})


def ready(ctx: RenderContext, articles: list[Article]) -> None:
    """Media's records of every picture of these articles, ready with their renditions."""
    pipe = ctx.redis.pipeline(transaction=False)
    for a in articles:
        for image in a.images:
            renditions = [
                Rendition(width=w, height=w * 2 // 3, format=f, url=f"/media/{image.ref}-{w}.{f}")
                for w in WIDTHS
                for f in ("webp", "jpeg")
            ]
            record = Picture(
                ref=image.ref,
                source=image.source,
                state=PictureState.ready,
                width=1920,
                height=1280,
                renditions=renditions,
            )
            pipe.set(ctx.keys.picture(image.ref), record.model_dump_json())
        if len(pipe) >= 5000:
            pipe.execute()
    pipe.execute()


def seed(ctx: RenderContext, existing: int, with_pictures: bool) -> None:
    make = pictured if with_pictures else (lambda n, headline: article(n, headline=headline))
    archive = [make(n, headline=n % 50 == 0) for n in range(1, existing + 1)]
    if with_pictures:
        ready(ctx, archive)
    seed_indexes(ctx, archive)
    store(ctx, archive[-3:])
    ctx.redis.hset(
        ctx.keys.series_length, "archive:news", archived_pages(existing, ctx.site.page_size)
    )
    render_sitemap(ctx, 1)


def publish_one(ctx: RenderContext, n: int, with_pictures: bool) -> tuple[float, int, int]:
    story = pictured(n, headline=n % 5 == 0) if with_pictures else article(n, headline=n % 5 == 0)
    if with_pictures:
        ready(ctx, [story])
    store(ctx, [story], threads=1)
    before = sum(int(v) for v in ctx.redis.hvals(ctx.keys.render_count))
    started = time.perf_counter()
    publish_article(ctx, story.id, story.version)
    written = flush(ctx)
    ms = (time.perf_counter() - started) * 1000
    rendered = sum(int(v) for v in ctx.redis.hvals(ctx.keys.render_count)) - before
    return ms, 1 + sum(written.values()), rendered


def main() -> None:
    kinds = [(n, pics) for pics in (False, True) for n in SIZES]
    with infra() as stack:
        contexts = {k: context(stack, f"pf{k[0]}{'p' if k[1] else 'n'}:") for k in kinds}
        for (existing, pics), ctx in contexts.items():
            seed(ctx, existing, pics)
        time.sleep(2)
        print(f"load average before: {' '.join(f'{x:.1f}' for x in psutil.getloadavg())}")
        runs: dict[tuple[int, bool], list[tuple[float, int, int]]] = {k: [] for k in kinds}
        for i in range(WARMUP + MEASURED):
            for (existing, pics), ctx in contexts.items():
                result = publish_one(ctx, existing + 1 + i, pics)
                if i >= WARMUP:
                    runs[existing, pics].append(result)
        print(f"load average after: {' '.join(f'{x:.1f}' for x in psutil.getloadavg())}")
    results = {k: summarize(r) for k, r in runs.items()}
    print(
        f"{'existing articles':>18} {'pictures':>9} {'written/publish':>16} "
        f"{'rendered/publish':>17} {'p50 ms':>8} {'mean ms':>8} {'p90 ms':>8}"
    )
    for (n, pics), r in results.items():
        print(
            f"{n:>18,} {'yes' if pics else 'no (base)':>9} {r['written']:>16.1f} "
            f"{r['rendered']:>17.1f} {r['ms_p50']:>8.1f} {r['ms_mean']:>8.1f} {r['ms_p90']:>8.1f}"
        )
    small, large = SIZES
    for pics in (False, True):
        change = (
            (results[large, pics]["ms_p50"] - results[small, pics]["ms_p50"])
            / results[small, pics]["ms_p50"]
            * 100
        )
        label = "with pictures" if pics else "without (baseline)"
        print(f"p50 {large:,} vs {small:,}, {label}: {change:+.1f}%")
    extra = statistics.fmean(
        results[n, True]["ms_p50"] - results[n, False]["ms_p50"] for n in SIZES
    )
    print(f"pictures add {extra:+.1f} ms p50 per publish (mean over both sizes)")
