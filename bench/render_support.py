"""Shared set-up of the render benchmarks: servers, a render context, seeded archives."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.render.context import RenderContext
from services.render.service import index_fields
from services.render.settings import RenderSettings
from services.render.tasks import build_context
from services.stack.run import Stack
from shared.logging import configure_logging
from shared.models import Article, article_key
from tests.stack import harness

START = datetime(2020, 1, 1, tzinfo=UTC)
PARAGRAPH = (
    "<p>总台记者今天从教育部获悉,教育部、工信部和国家知识产权局等三部委近日联合印发通知,"
    "力争利用5年时间,有组织推动1000所以上高校支撑服务10000家以上企业科技进步和产业发展。</p>"
)


@contextmanager
def infra() -> Iterator[Stack]:
    """Valkey and SeaweedFS on free ports in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="pressroom-bench-") as home:
        stack = Stack(Path(home))
        try:
            harness.start_on_free_ports(stack)
            yield stack
        finally:
            stack.stop()


def context(stack: Stack, prefix: str, **overrides: object) -> RenderContext:
    reach = stack.settings(environment="development", key_prefix=prefix)
    fields: dict[str, object] = reach.model_dump(exclude_unset=True) | {
        "site_bucket": f"{prefix.strip(':')}-site",
        "data_bucket": f"{prefix.strip(':')}-data",
        "hot_refresh_seconds": 0,
        "log_level": "WARNING",
    }
    settings = RenderSettings.model_validate(fields | overrides)
    configure_logging(settings.log_level, json=False)
    ctx = build_context(settings)
    ctx.storage.ensure_buckets()
    ctx.schedule = lambda task, delay: None  # the benchmark flushes by itself
    return ctx


def article(n: int, channel: str = "news", *, headline: bool = False) -> Article:
    when = START + timedelta(minutes=n)
    return Article(
        id=f"{n:020x}",
        feed="bench",
        external_id=f"bench-{n}",
        version=1,
        title=f"教育部:推动高校支撑服务企业科技进步 第{n}号",
        body_html=PARAGRAPH * 5,
        summary=f"第{n}号稿件摘要",
        source="央视新闻",
        editor="单思月",
        channel=channel,
        headline=headline,
        published_at=when,
        received_at=when,
    )


def store(ctx: RenderContext, articles: list[Article], threads: int = 16) -> None:
    def put(a: Article) -> None:
        ctx.storage.data.put_json(article_key(a.id), a.model_dump(mode="json"))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, articles))


def seed_indexes(ctx: RenderContext, articles: list[Article]) -> None:
    """Index articles in Redis as render.article would, without rendering their pages."""
    pipe = ctx.redis.pipeline(transaction=False)
    for a in articles:
        url = ctx.article_url(a.id, a.channel, a.published_at)
        fields = index_fields(a, url) | {"status": "published", "version": a.version}
        pipe.hset(ctx.keys.article(a.id), mapping=fields)
        score = a.published_at.timestamp()
        pipe.zadd(ctx.keys.channel(a.channel), {a.id: score})
        pipe.zadd(ctx.keys.published, {a.id: score})
        if a.headline:
            pipe.zadd(ctx.keys.headlines, {a.id: score})
        if len(pipe) >= 5000:
            pipe.execute()
    pipe.execute()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
