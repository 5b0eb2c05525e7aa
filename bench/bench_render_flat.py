"""Cost of publishing one article at 1,000 vs 50,000 existing articles (it must not grow).

Each existing archive is seeded straight into Redis (the indexes render reads) and its
numbered series marked as already built, so the benchmark starts from a fully published
site without spending minutes rendering it; a few warm-up publishes then render the newest
pages for real. Every measured publish is the real thing: render.article on a stored
document, then the flush of its dependants (lists, feeds, sitemap, home, sidebar).
"""

from __future__ import annotations

import statistics
import time

from bench.render_support import article, context, infra, percentile, seed_indexes, store
from services.render.coalesce import flush
from services.render.context import RenderContext
from services.render.feeds import render_sitemap
from services.render.pagination import archived_pages
from services.render.service import publish_article

SIZES = (1_000, 50_000)
WARMUP, MEASURED = 5, 60


def seed(ctx: RenderContext, existing: int) -> None:
    archive = [article(n, headline=n % 50 == 0) for n in range(1, existing + 1)]
    seed_indexes(ctx, archive)
    store(ctx, archive[-3:])  # neighbours that a new article's flush re-renders
    pages = archived_pages(existing, ctx.site.page_size)
    ctx.redis.hset(ctx.keys.series_length, "archive:news", pages)
    render_sitemap(ctx, 1)  # the sitemap files exist on a published site


def publish_one(ctx: RenderContext, n: int) -> tuple[float, int, int]:
    """(ms, pages written, pages rendered) for one article, from render.article to flushed."""
    story = article(n)
    store(ctx, [story], threads=1)
    rendered_before = sum(int(v) for v in ctx.redis.hvals(ctx.keys.render_count))
    started = time.perf_counter()
    publish_article(ctx, story.id, story.version)
    written = flush(ctx)
    ms = (time.perf_counter() - started) * 1000
    rendered = sum(int(v) for v in ctx.redis.hvals(ctx.keys.render_count)) - rendered_before
    return ms, 1 + sum(written.values()), rendered


def measure(contexts: dict[int, RenderContext]) -> dict[int, dict[str, float]]:
    """Publish to both sites in turn, so background work (a Valkey snapshot after seeding,
    SeaweedFS compaction) lands on both alike rather than on whichever ran second."""
    for existing, ctx in contexts.items():
        seed(ctx, existing)
    time.sleep(2)
    runs: dict[int, list[tuple[float, int, int]]] = {n: [] for n in contexts}
    for i in range(WARMUP + MEASURED):
        for existing, ctx in contexts.items():
            result = publish_one(ctx, existing + 1 + i)
            if i >= WARMUP:
                runs[existing].append(result)
    return {n: summarize(r) for n, r in runs.items()}


def summarize(runs: list[tuple[float, int, int]]) -> dict[str, float]:
    times = [r[0] for r in runs]
    return {
        "ms_p50": statistics.median(times),
        "ms_mean": statistics.fmean(times),
        "ms_p90": percentile(times, 0.9),
        "written": statistics.fmean(r[1] for r in runs),
        "rendered": statistics.fmean(r[2] for r in runs),
    }


def main() -> None:
    with infra() as stack:
        results = measure({n: context(stack, f"flat{n}:") for n in SIZES})
    small, large = (results[n] for n in SIZES)
    print(
        f"{'existing articles':>18} {'written/publish':>16} {'rendered/publish':>17} "
        f"{'p50 ms':>8} {'mean ms':>8} {'p90 ms':>8}"
    )
    for n in SIZES:
        r = results[n]
        print(
            f"{n:>18,} {r['written']:>16.1f} {r['rendered']:>17.1f} "
            f"{r['ms_p50']:>8.1f} {r['ms_mean']:>8.1f} {r['ms_p90']:>8.1f}"
        )
    for what in ("written", "rendered", "ms_p50", "ms_mean"):
        change = (large[what] - small[what]) / small[what] * 100
        print(f"{what}: 50,000 vs 1,000 (the baseline): {change:+.1f}%")
