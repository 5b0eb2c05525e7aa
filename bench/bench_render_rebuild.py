"""Full rebuild of 5,000 articles into SeaweedFS, beside a Hugo build of the same articles.

Pressroom: `reindex`, then a first rebuild into an empty site bucket (every page written),
then a second rebuild with nothing changed (skipped by fingerprint, no document read).
Baselines in the same run: Debian's `hugo` building the same 5,000 articles to local disk
(the fastest of three builds) with an equivalent theme (article page with prev/next and a
cached sidebar, paginated channel lists, home, RSS, sitemap), the same Hugo build followed
by `hugo deploy` into the same SeaweedFS (Hugo's pages where Pressroom's go), and bare S3
PUTs of article-sized pages into the same SeaweedFS at several concurrencies (the best of
them is what the store allows), and GET + PUT pairs through shared.storage's thread-safe
client on threads and through its asyncio client (the rebuild's), with the client CPU of
each. One bound: Pressroom's article pages rendered by one process from documents already
in memory, with no store at all (what the renderer alone costs), also as pages per CPU
second beside Hugo's to-disk build (every thread of it): the load of a shared machine bends
CPU figures far less than times. The CPU that SeaweedFS and the client (Pressroom, or Hugo)
spend per page is read from the kernel around the first rebuild and around Hugo's build +
deploy: it says how many of the machine's cores a given rate would take.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import boto3
from botocore.config import Config
from markupsafe import Markup

from bench.cpu import children_cpu, group_cpu, own_cpu
from bench.render_support import article, context, infra, store
from services.render.articles import article_page, load_article, neighbours_of
from services.render.context import RenderContext
from services.render.pages import refresh_sidebar
from services.render.rebuild import (
    Summary,
    article_documents,
    forget_rendered,
    rebuild_articles,
    rebuild_lists,
)
from services.render.reindex import reindex
from services.render.settings import RenderSettings
from shared.models import Article
from shared.storage import AsyncObjects, Storage, credentials

ARTICLES = 5_000


def newsroom() -> list[Article]:
    channels = ["news"] * 6 + ["reviews"] * 3 + ["notices"]
    return [article(n, channels[n % 10], headline=n % 25 == 0) for n in range(1, ARTICLES + 1)]


def rebuild(ctx: RenderContext) -> tuple[float, Summary]:
    started = time.perf_counter()
    documents = article_documents(ctx)
    done = rebuild_articles(ctx, documents)
    lists = rebuild_lists(ctx, None)
    seconds = time.perf_counter() - started
    ctx.redis.delete(ctx.keys.rebuild_done("all"))
    return seconds, Summary(
        written=done.written + lists.written,
        unchanged=done.unchanged + lists.unchanged,
        failed=done.failed + lists.failed,
    )


# --- Hugo -------------------------------------------------------------------------------

HUGO_CONFIG = """
baseURL = "http://127.0.0.1:8000/"
languageCode = "zh-CN"
title = "中国通俗文艺研究会融媒体中心官网"
disableKinds = ["taxonomy", "term"]
[pagination]
pagerSize = 20
paginate = 20
[params]
address = "北京市丰台区马家堡东路121号院2号楼16层"
phone = "010-53657566"
icp = "京ICP备2021035177号"
"""
BASEOF = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ .Title }} - {{ site.Title }}</title><link rel="stylesheet" href="/site.css"></head>
<body><header class="site-header"><p class="site-name"><a href="/">{{ site.Title }}</a></p>
<nav><ul>{{ range site.Sections }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>
{{ end }}</ul></nav>
</header><div class="layout"><main id="main">{{ block "main" . }}{{ end }}</main>
{{ partialCached "sidebar.html" . }}</div>
<footer><p>{{ site.Title }} © 2013-2022 版权所有</p><p>{{ site.Params.icp }}</p>
<address>单位地址:{{ site.Params.address }} 违法和不良信息举报电话:{{ site.Params.phone }}</address>
</footer><script src="/pressroom.js" defer></script></body></html>
"""
SINGLE = """{{ define "main" }}<nav class="breadcrumb">您现在的位置 :<a href="/">首页</a>&gt;
<a href="{{ .Parent.RelPermalink }}">新闻内页</a></nav>
<article><h1>{{ .Title }}</h1><p class="meta"><span>时间:{{ .Date.Format "2006-01-02" }}</span>
<span>来源:{{ .Params.source }}</span></p><div class="body">{{ .Content }}</div>
<p class="editor">编辑:{{ .Params.editor }}</p></article>
<nav class="prev-next">{{ with .NextInSection }}
<p>上一篇:<a href="{{ .RelPermalink }}">{{ .Title }}</a></p>{{ end }}
{{ with .PrevInSection }}<p>下一篇:<a href="{{ .RelPermalink }}">{{ .Title }}</a></p>{{ end }}</nav>
{{ end }}
"""
LIST = """{{ define "main" }}<h1>{{ .Title }}</h1><ul class="article-list">
{{ range (.Paginate .Pages).Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a>
<time>{{ .Date.Format "2006-01-02" }}</time></li>{{ end }}</ul>
<nav class="pager">{{ with .Paginator.Prev }}<a href="{{ .URL }}">较新</a>{{ end }}
{{ with .Paginator.Next }}<a href="{{ .URL }}">较早</a>{{ end }}</nav>{{ end }}
"""
HOME = """{{ define "main" }}<section><h2>头条</h2><ul>
{{ range first 8 (where site.RegularPages "Params.headline" true) }}
<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}
</ul></section>{{ range site.Sections }}<section><h2>{{ .Title }}</h2><ul>
{{ range first 8 .Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}
</ul></section>{{ end }}
{{ end }}
"""
SIDEBAR = """<aside class="sidebar"><section><h2>头条</h2><ul>
{{ range first 8 (where site.RegularPages "Params.headline" true) }}
<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}
</ul></section><section><h2>研究会公告</h2><ul>
{{ range first 8 (where site.RegularPages "Section" "notices") }}
<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}
</ul></section><section><h2>点击排行</h2><ol>
{{ range first 8 site.RegularPages }}
<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}
</ol></section></aside>
"""


def hugo_site(root: Path, articles: list[Article]) -> None:
    (root / "hugo.toml").write_text(HUGO_CONFIG)
    layouts = root / "layouts"
    for name, text in {
        "_default/baseof.html": BASEOF,
        "_default/single.html": SINGLE,
        "_default/list.html": LIST,
        "index.html": HOME,
        "partials/sidebar.html": SIDEBAR,
    }.items():
        (layouts / name).parent.mkdir(parents=True, exist_ok=True)
        (layouts / name).write_text(text)
    for a in articles:
        folder = root / "content" / a.channel
        folder.mkdir(parents=True, exist_ok=True)
        front = (
            f'---\ntitle: "{a.title}"\ndate: {a.published_at.isoformat()}\n'
            f'summary: "{a.summary}"\nsource: "{a.source}"\neditor: "{a.editor}"\n'
            f"headline: {str(a.headline).lower()}\n---\n"
        )
        (folder / f"{a.id}.html").write_text(front + a.body_html)
    for slug, name in (("news", "新闻动态"), ("reviews", "文艺评论"), ("notices", "研究会公告")):
        (root / "content" / slug / "_index.md").write_text(f'---\ntitle: "{name}"\n---\n')


HUGO_BUILDS = 3  # one build took 1.2 to 3.0 s on this box: the baseline is the fastest
HUGO_DEPLOY_WORKERS = 32  # hugo deploy's default is 10; 32 measured fastest here


def hugo_binary() -> str:
    hugo = shutil.which("hugo")
    if hugo is None:
        raise SystemExit("hugo is not installed: `make system-deps` (Debian package hugo)")
    return hugo


def build_with_hugo(hugo: str, root: Path, out: Path) -> None:
    subprocess.run([hugo, "--quiet", "--source", str(root), "--destination", str(out)], check=True)


def pages_in(out: Path) -> int:
    """The pages a build wrote (counted outside the timing)."""
    return sum(1 for p in out.rglob("*") if p.suffix in (".html", ".xml"))


def hugo_build(articles: list[Article]) -> tuple[float, int, float]:
    """The fastest of HUGO_BUILDS builds into a fresh folder each, its page count, and the
    least CPU (every thread of Hugo) one build took."""
    hugo = hugo_binary()
    with tempfile.TemporaryDirectory(prefix="pressroom-hugo-") as folder:
        root = Path(folder)
        hugo_site(root, articles)
        times, cpu = [], []
        for n in range(HUGO_BUILDS):
            started, spent = time.perf_counter(), children_cpu()
            build_with_hugo(hugo, root, root / f"public-{n}")
            times.append(time.perf_counter() - started)
            cpu.append(children_cpu() - spent)
        pages = pages_in(root / "public-0")
    return min(times), pages, min(cpu)


def hugo_build_and_deploy(articles: list[Article], settings: RenderSettings) -> tuple[float, int]:
    """Hugo's build, then `hugo deploy` of its output into the same SeaweedFS: Hugo with its
    pages in the store the readers are served from, as Pressroom's are."""
    hugo = hugo_binary()
    assert settings.s3_endpoint_url is not None
    endpoint = settings.s3_endpoint_url.removeprefix("http://")
    target = (
        f"s3://{settings.site_bucket}?endpoint={endpoint}&region={settings.s3_region}"
        "&s3ForcePathStyle=true&disableSSL=true"
    )
    key = credentials(settings).get_frozen_credentials()
    env = dict(os.environ)
    for name, value in zip(AWS_VARIABLES, (key.access_key, key.secret_key, key.token), strict=True):
        if value:
            env[name] = value
    with tempfile.TemporaryDirectory(prefix="pressroom-hugo-") as folder:
        root = Path(folder)
        hugo_site(root, articles)
        with (root / "hugo.toml").open("a") as config:
            config.write(
                f'[deployment]\n[[deployment.targets]]\nname = "store"\nURL = "{target}"\n'
            )
        started = time.perf_counter()
        build_with_hugo(hugo, root, root / "public")  # where `hugo deploy` looks
        subprocess.run(
            [hugo, "deploy", "--source", str(root), "--force", "--invalidateCDN=false",
             "--workers", str(HUGO_DEPLOY_WORKERS)],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        pages = pages_in(root / "public")
    return seconds, pages


AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
PAGE = b"x" * 14_000  # the size of an article page
CEILING_PUTS = 1_200


def put_pages(settings: RenderSettings, threads: int, start: int, count: int) -> None:
    """Bare PUTs of article-sized pages (module level, so a pool process can run it)."""
    storage = Storage.from_settings(settings)
    with ThreadPoolExecutor(threads) as pool:
        keys = (f"ceiling/{n}.html" for n in range(start, start + count))
        list(pool.map(lambda key: storage.site.put(key, PAGE, content_type="text/html"), keys))


def boto3_put_ceiling(settings: RenderSettings, threads: int) -> float:
    """The same PUTs through a boto3 client's put_object (same credentials, same pool size):
    what the hand-signed path of shared.storage saves per request."""
    key = credentials(settings).get_frozen_credentials()
    client = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=key.access_key,
        aws_secret_access_key=key.secret_key,
        config=Config(retries={"mode": "standard"}, max_pool_connections=32),
    )
    bucket = settings.site_bucket
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        keys = (f"boto3/{n}.html" for n in range(CEILING_PUTS))
        list(
            pool.map(
                lambda key: client.put_object(
                    Bucket=bucket, Key=key, Body=PAGE, ContentType="text/html"
                ),
                keys,
            )
        )
    return CEILING_PUTS / (time.perf_counter() - started)


def page_pair_ceiling(settings: RenderSettings, threads: int) -> tuple[float, float]:
    """GET of an article-sized document, then PUT of a page, per page, with nothing
    rendered: the requests a first rebuild makes for each article page."""
    storage = Storage.from_settings(settings)

    def pair(n: int) -> None:
        storage.data.get(f"ceiling/{n % 100}.json")
        storage.site.put(f"pairs/{n}.html", PAGE, content_type="text/html")

    for n in range(100):
        storage.data.put(f"ceiling/{n}.json", PAGE[:4_000], content_type="application/json")
    cpu, started = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(pair, range(CEILING_PUTS)))
    seconds = time.perf_counter() - started
    return CEILING_PUTS / seconds, (time.process_time() - cpu) * 1e3 / CEILING_PUTS


def page_pair_ceiling_asyncio(settings: RenderSettings, in_flight: int) -> tuple[float, float]:
    """page_pair_ceiling over shared.storage's asyncio client (the rebuild's), and the client
    CPU per pair: what the second transport must keep saving to stay."""
    storage = Storage.from_settings(settings)
    for n in range(100):
        storage.data.put(f"ceiling/{n}.json", PAGE[:4_000], content_type="application/json")

    async def pairs() -> None:
        async with AsyncObjects(settings, in_flight=in_flight) as objects:
            slots = asyncio.Semaphore(in_flight)

            async def pair(n: int) -> None:
                async with slots:
                    await objects.get(settings.data_bucket, f"ceiling/{n % 100}.json")
                    await objects.put(
                        settings.site_bucket, f"apairs/{n}.html", PAGE,
                        content_type="text/html", cache_control=None,
                    )  # fmt: skip

            await asyncio.gather(*(pair(n) for n in range(CEILING_PUTS)))

    cpu, started = time.process_time(), time.perf_counter()
    asyncio.run(pairs())
    seconds = time.perf_counter() - started
    return CEILING_PUTS / seconds, (time.process_time() - cpu) * 1e3 / CEILING_PUTS


def put_ceiling(settings: RenderSettings, processes: int, threads: int) -> float:
    """Bare PUTs/s into the same SeaweedFS from `processes` x `threads`: what the store
    allows any writer on this machine, with nothing rendered."""
    share = CEILING_PUTS // processes
    started = time.perf_counter()
    if processes == 1:
        put_pages(settings, threads, 0, share)
    else:
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(processes, mp_context=spawn) as pool:
            # the pool's processes start before the clock matters: warm them up first
            list(
                pool.map(
                    put_pages,
                    [settings] * processes,
                    [1] * processes,
                    [0] * processes,
                    [0] * processes,
                )
            )
            started = time.perf_counter()
            starts = [n * share for n in range(processes)]
            list(
                pool.map(
                    put_pages,
                    [settings] * processes,
                    [threads] * processes,
                    starts,
                    [share] * processes,
                )
            )
    return share * processes / (time.perf_counter() - started)


CEILINGS = ((1, 1), (1, 8), (1, 16), (1, 32), (2, 16))


def render_only(ctx: RenderContext, articles: list[Article]) -> tuple[float, int, float]:
    """Article pages rendered (and hashed) by one process from documents already read, with
    no request to the store: what the renderer alone costs, beside Hugo's whole build. Also
    the CPU it took, which a busy machine inflates far less than the time."""
    side = Markup(refresh_sidebar(ctx))
    with ThreadPoolExecutor(32) as pool:
        loaded = [d for d in pool.map(lambda a: load_article(ctx, a.id), articles) if d]
    links = neighbours_of(ctx, [(a.channel, a.id) for a, _ in loaded])
    started, cpu = time.perf_counter(), time.process_time()
    for document, _ in loaded:
        url = ctx.article_url(document.id, document.channel, document.published_at)
        hashlib.md5(article_page(ctx, document, url, links[document.id], side)).hexdigest()
    return time.perf_counter() - started, len(loaded), time.process_time() - cpu


T = TypeVar("T")


def cpu_of(store_group: int, step: Callable[[], T]) -> tuple[T, float, float]:
    """What `step` returns, and the CPU seconds spent meanwhile by the store's process group
    and by this process with its children (the rebuild's pool, or hugo)."""
    store, client = group_cpu(store_group), own_cpu()
    result = step()
    return result, group_cpu(store_group) - store, own_cpu() - client


def main() -> None:
    articles = newsroom()
    hugo_seconds, hugo_pages, hugo_cpu = hugo_build(articles)
    with infra() as stack:
        ctx = context(stack, "rebuild:")
        store(ctx, articles)
        started = time.perf_counter()
        reindex(ctx)
        reindex_seconds = time.perf_counter() - started
        forget_rendered(ctx)
        assert stack.infra["s3"].process is not None
        weed = stack.infra["s3"].process.pid  # the leader of its own process group
        (first_seconds, first), first_store, first_client = cpu_of(weed, lambda: rebuild(ctx))
        second_seconds, second = rebuild(ctx)
        hugo_settings = context(stack, "hugo:").settings
        (deployed_seconds, deployed_pages), hugo_store, hugo_client = cpu_of(
            weed, lambda: hugo_build_and_deploy(articles, hugo_settings)
        )
        ceiling_settings = context(stack, "ceiling:").settings
        ceilings = {pt: put_ceiling(ceiling_settings, *pt) for pt in CEILINGS}
        boto3_rate = boto3_put_ceiling(ceiling_settings, 16)
        pair_rate, pair_cpu = page_pair_ceiling(ceiling_settings, 32)
        async_rate, async_cpu = page_pair_ceiling_asyncio(ceiling_settings, 32)
        render_seconds, rendered, render_cpu = render_only(ctx, articles)
    hugo_rate = hugo_pages / hugo_seconds
    first_rate = first.written / first_seconds
    print(f"articles: {ARTICLES:,}; reindex from the data bucket: {reindex_seconds:.1f} s")
    print(f"{'build':<40} {'pages':>7} {'seconds':>8} {'pages/s':>8}")
    hugo_row = f"{hugo_pages:>7,} {hugo_seconds:>8.2f} {hugo_rate:>8.0f}"
    print(f"{f'hugo (baseline, to disk, best of {HUGO_BUILDS})':<40} {hugo_row}")
    deployed_rate = deployed_pages / deployed_seconds
    name = f"hugo + deploy to SeaweedFS ({HUGO_DEPLOY_WORKERS} workers)"
    print(f"{name:<40} {deployed_pages:>7,} {deployed_seconds:>8.2f} {deployed_rate:>8.0f}")
    print(
        f"{'pressroom rebuild, first (to SeaweedFS)':<40} {first.written:>7,} "
        f"{first_seconds:>8.2f} {first_rate:>8.0f}"
    )
    print(
        f"{'pressroom rebuild, nothing changed':<40} {second.written:>7,} "
        f"{second_seconds:>8.2f} {'':>8}  ({second.unchanged:,} unchanged)"
    )
    render_rate = rendered / render_seconds
    name = "render only: no store, 1 process"
    print(f"{name:<40} {rendered:>7,} {render_seconds:>8.2f} {render_rate:>8.0f}")
    for (processes, threads), rate in ceilings.items():
        name = f"bare S3 PUTs, {processes} process x {threads} threads"
        print(f"{name:<40} {CEILING_PUTS:>7,} {CEILING_PUTS / rate:>8.2f} {rate:>8.0f}")
    name = "bare boto3 put_object, 1 x 16 threads"
    print(f"{name:<40} {CEILING_PUTS:>7,} {CEILING_PUTS / boto3_rate:>8.2f} {boto3_rate:>8.0f}")
    name = "bare GET+PUT per page, 1 x 32 threads"
    print(f"{name:<40} {CEILING_PUTS:>7,} {CEILING_PUTS / pair_rate:>8.2f} {pair_rate:>8.0f}")
    name = "bare GET+PUT per page, asyncio, 32"
    print(f"{name:<40} {CEILING_PUTS:>7,} {CEILING_PUTS / async_rate:>8.2f} {async_rate:>8.0f}")
    print(
        f"client CPU per GET+PUT pair: threads {pair_cpu:.2f} ms, asyncio {async_cpu:.2f} ms "
        f"({pair_cpu / async_cpu:.2f}x)"
    )
    best = max(ceilings.values())
    pool = ctx.settings.rebuild_processes or os.cpu_count() or 1
    print(f"rebuild: {pool} processes x {ctx.settings.rebuild_threads} threads")
    print(f"first rebuild rate vs hugo: {first_rate / hugo_rate:.2f}x")
    print(
        f"first rebuild rate vs hugo + deploy to the same store: {first_rate / deployed_rate:.2f}x"
    )
    print(f"first rebuild rate vs best bare PUT rate: {first_rate / best:.2f}x")
    print(f"first rebuild rate vs bare GET+PUT per page: {first_rate / pair_rate:.2f}x")
    print(f"best bare PUT rate vs hugo: {best / hugo_rate:.2f}x")
    print(f"render only (1 process, no store) vs hugo: {render_rate / hugo_rate:.2f}x")
    render_per_cpu, hugo_per_cpu = rendered / render_cpu, hugo_pages / hugo_cpu
    print(
        f"pages per CPU second: render only {render_per_cpu:,.0f}, hugo to disk (every "
        f"thread) {hugo_per_cpu:,.0f}: {render_per_cpu / hugo_per_cpu:.2f}x"
    )
    print(f"second rebuild vs first: {first_seconds / second_seconds:.1f}x faster")
    print(f"{'CPU per page written (ms)':<40} {'store':>7} {'client':>8} {'both':>8}")
    for name, pages, store_cpu, client_cpu in (
        ("pressroom rebuild, first", first.written, first_store, first_client),
        ("hugo + deploy (client: build + deploy)", deployed_pages, hugo_store, hugo_client),
    ):
        store_ms, client_ms = store_cpu * 1e3 / pages, client_cpu * 1e3 / pages
        print(f"{name:<40} {store_ms:>7.2f} {client_ms:>8.2f} {store_ms + client_ms:>8.2f}")
    half, cores = hugo_rate / 2, os.cpu_count() or 1
    store_cores = half * first_store / first.written
    client_cores = half * first_client / first.written
    print(
        f"at half hugo's rate ({half:,.0f} pages/s), at the first rebuild's CPU per page: "
        f"the store alone would take {store_cores:.2f} of this machine's {cores} cores, "
        f"the rebuild {client_cores:.2f} more"
    )
    if first.failed or second.failed:
        print(f"FAILED pages: {first.failed} first, {second.failed} second")
