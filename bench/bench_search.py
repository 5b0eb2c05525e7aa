"""Site search: index build beside Pagefind, a query in Chromium, index size, freshness,
and the cost the search step adds to each publish at 1,000 and 50,000 articles.

1. Build: the 5,000-article rebuild corpus (each article with its own text: search_support)
   indexed by services/render/search (tokens, segments, fragments and shards PUT into
   SeaweedFS), beside Pagefind's extended binary indexing the same articles' pages as the
   theme renders them, read from and written to local disk.
2. Query: headless Chromium opens /query.html?q=... through the nginx edge, cold (a new
   browser profile), reloaded (its HTTP cache warm), and warm (the query sent again from the
   loaded page's form): the page's own time from reading the query to showing results, and
   the bytes of index it transferred (cold); at 5,000 and at
   50,000 articles (45,000 more built into the same index). The index's size on the bucket.
3. Per publish: the flush's search step (fragment, one new segment, merges, manifest) for
   one more article, on a 1,000- and a 50,000-article index, alternating between the two.
Freshness (202 to findable, withdrawal to gone) is bench_search_fresh, on a stack of its own.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import pagefind_bin_extended  # type: ignore[import-untyped]
from playwright.sync_api import sync_playwright

from bench.cpu import own_cpu
from bench.render_support import context, infra, percentile
from bench.search_support import Corpus, chromium_query
from services.render.articles import Neighbours, article_page
from services.render.context import RenderContext
from services.render.pages import sidebar_html
from services.render.search.build import build_index
from services.render.search.documents import SearchDocument
from services.render.search.index import queue_document, update_index
from services.render.search.page import render_search_page
from shared.models import Article
from tests.conftest import CHROMIUM_FLAGS
from tests.shared.reader import boto3_client

BUILT, LARGE, SMALL = 5_000, 50_000, 1_000
WARMUP, MEASURED = 8, 64  # 64 publishes: a full round of first- and second-tier merges
QUERIES = ("发展", "雷朝滋", "协同创新")


def documents(ctx: RenderContext, articles: list[Article]) -> list[SearchDocument]:
    return [
        SearchDocument.of(a, ctx.article_url(a.id, a.channel, a.published_at)) for a in articles
    ]


def pagefind_build(ctx: RenderContext, articles: list[Article]) -> tuple[float, float]:
    """Wall and CPU seconds of Pagefind indexing the articles' pages (written beforehand)."""
    binary = pagefind_bin_extended.get_executable()
    side = sidebar_html(ctx)
    with tempfile.TemporaryDirectory(prefix="pressroom-pagefind-") as folder:
        root = Path(folder)
        for a in articles:
            url = ctx.article_url(a.id, a.channel, a.published_at)
            (root / url).parent.mkdir(parents=True, exist_ok=True)
            (root / url).write_bytes(article_page(ctx, a, url, Neighbours(None, None), side))
        cpu, started = own_cpu(), time.perf_counter()
        subprocess.run(
            [str(binary), "--site", str(root), "--output-path", str(root / "pagefind")],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started, own_cpu() - cpu


def timed_build(ctx: RenderContext, articles: list[Article]) -> tuple[float, float]:
    docs = documents(ctx, articles)
    cpu, started = own_cpu(), time.perf_counter()
    build_index(ctx, docs)
    return time.perf_counter() - started, own_cpu() - cpu


def index_bytes(ctx: RenderContext) -> tuple[int, int]:
    """Objects under search/ and their bytes, listed by boto3 (the store's own sizes)."""
    settings = ctx.settings
    client = boto3_client(settings)
    count = size = 0
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=settings.site_bucket, Prefix="search/"
    ):
        for item in page.get("Contents", []):
            count, size = count + 1, size + item.get("Size", 0)
    return count, size


def queries(site_url: str) -> dict[str, dict[str, dict[str, float]]]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_FLAGS
        )
        try:
            return {q: chromium_query(browser, site_url, q) for q in QUERIES}
        finally:
            browser.close()


def publish_cost(contexts: dict[int, RenderContext], corpus: Corpus) -> dict[int, list[float]]:
    """ms of the search step for one more article each, alternating between the sites."""
    runs: dict[int, list[float]] = {n: [] for n in contexts}
    for i in range(WARMUP + MEASURED):
        for existing, ctx in contexts.items():
            story = corpus.article(LARGE + 1 + i)
            url = ctx.article_url(story.id, story.channel, story.published_at)
            pipe = ctx.redis.pipeline(transaction=False)
            queue_document(ctx, pipe, story, url, published=True)
            pipe.execute()
            started = time.perf_counter()
            update_index(ctx)
            if i >= WARMUP:
                runs[existing].append((time.perf_counter() - started) * 1000)
    return runs


def main() -> None:
    corpus = Corpus()
    print(f"load average at start: {os.getloadavg()}")
    with infra() as stack:
        stack.start_edge()
        site_url = stack.urls["site_url"]
        big = context(stack, "search:", site_bucket=stack.site_bucket)
        big.theme.publish_assets(big.storage.site, big.settings.asset_cache_control)
        render_search_page(big)
        first = [corpus.article(n) for n in range(1, BUILT + 1)]
        ours, ours_cpu = timed_build(big, first)
        theirs, theirs_cpu = pagefind_build(big, first)
        print(f"\nindex build, {BUILT:,} articles (load {os.getloadavg()[0]:.1f}):")
        print(f"  pressroom (into SeaweedFS): {ours:6.1f} s wall {ours_cpu:6.1f} s CPU")
        print(f"  pagefind (local disk):      {theirs:6.1f} s wall {theirs_cpu:6.1f} s CPU")
        report_queries(big, site_url, BUILT)
        more, more_cpu = timed_build(big, [corpus.article(n) for n in range(BUILT + 1, LARGE + 1)])
        print(f"\n{LARGE - BUILT:,} more articles: {more:.1f} s wall, {more_cpu:.1f} s CPU")
        report_queries(big, site_url, LARGE)
        small = context(stack, "searchsmall:")
        build_index(small, documents(small, [corpus.article(n) for n in range(1, SMALL + 1)]))
        costs = publish_cost({SMALL: small, LARGE: big}, corpus)
        report_costs(costs)


def report_queries(ctx: RenderContext, site_url: str, articles: int) -> None:
    objects, size = index_bytes(ctx)
    print(
        f"\n{articles:,} articles: index {size / 1e6:.1f} MB in {objects:,} objects "
        f"(load {os.getloadavg()[0]:.1f})"
    )
    print(
        f"  {'query':<10} {'cold ms':>8} {'reload ms':>10} {'warm ms':>8} {'KB cold':>8} "
        f"{'requests':>9} results"
    )
    for query, runs in queries(site_url).items():
        cold, reload, warm = runs["cold"], runs["reload"], runs["warm"]
        print(
            f"  {query:<10} {cold['ms']:>8.0f} {reload['ms']:>10.0f} {warm['ms']:>8.0f} "
            f"{cold['bytes'] / 1024:>8.0f} {cold['requests']:>9.0f} {cold['results']:.0f}"
        )


def report_costs(costs: dict[int, list[float]]) -> None:
    print(f"\nsearch step per publish, {MEASURED} publishes (load {os.getloadavg()[0]:.1f}):")
    print(f"  {'articles':>9} {'p50 ms':>8} {'mean ms':>8} {'p90 ms':>8} {'max ms':>8}")
    for n, values in costs.items():
        print(
            f"  {n:>9,} {statistics.median(values):>8.1f} {statistics.fmean(values):>8.1f} "
            f"{percentile(values, 0.9):>8.1f} {max(values):>8.1f}"
        )
    small, large = (statistics.fmean(costs[n]) for n in (SMALL, LARGE))
    print(f"  mean, 50,000 vs 1,000 (the baseline): {(large - small) / small * 100:+.1f}%")
