"""Publish latency: from ingest's 202 to the article page being readable from the site bucket.

The whole system runs as `pressroom run` starts it (ingest, one render worker with four
processes, counter, scheduler, edge) on embedded Valkey and SeaweedFS. Baseline: the same
measurement for articles posted one at a time on an idle system. Then articles are posted
at 50 per second for 20 seconds, each watched until its page answers 200.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from redis.asyncio import Redis

from bench.render_support import PARAGRAPH, percentile
from services.stack.run import Ports, Stack
from shared.keys import Keys

RATE, SECONDS = 50, 20
BUCKET = "pressroom-site"
CHANNELS = ("news", "news", "reviews", "notices")


def story(n: int) -> dict[str, object]:
    return {
        "external_id": f"latency-{n}-{time.time_ns()}",
        "title": f"延迟测试稿件 {n}",
        "body_html": PARAGRAPH * 5,
        "source": "央视新闻",
        "editor": "单思月",
        "channel": CHANNELS[n % len(CHANNELS)],
        "headline": n % 20 == 0,
    }


@dataclass
class Watch:
    """Articles accepted and not yet readable; one loop checks them all.

    Polling each page on its own timer would flood SeaweedFS with HEADs and slow the very
    thing measured; instead Redis says which pages were rendered, and only those are
    confirmed with a HEAD on the bucket (the time recorded is that HEAD's).
    """

    redis: Redis
    s3: httpx.AsyncClient
    keys: Keys
    waiting: dict[str, tuple[float, str]] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)

    async def loop(self, until: asyncio.Event) -> None:
        while not (until.is_set() and not self.waiting):
            ids = list(self.waiting)
            pipe = self.redis.pipeline(transaction=False)
            for aid in ids:
                pipe.hget(self.keys.article(aid), "rendered_version")
            rendered = await pipe.execute() if ids else []
            ready = [aid for aid, done in zip(ids, rendered, strict=True) if done]
            heads = await asyncio.gather(
                *(self.s3.head(f"/{BUCKET}/{self.waiting[aid][1]}") for aid in ready)
            )
            now = time.perf_counter()
            for aid, head in zip(ready, heads, strict=True):
                if head.status_code == 200:
                    self.seen[aid] = now - self.waiting.pop(aid)[0]
            await asyncio.sleep(0.01)


async def publish(ingest: httpx.AsyncClient, watch: Watch, n: int) -> str | None:
    answer = await ingest.post("/v1/articles", json=story(n))
    if answer.status_code != 202:
        print(f"ingest answered {answer.status_code}: {answer.text[:200]}")
        return None
    accepted = answer.json()
    watch.waiting[accepted["id"]] = (time.perf_counter(), accepted["url"].split("/", 3)[3])
    return str(accepted["id"])


async def run(stack: Stack, key: str) -> tuple[list[float | None], list[float | None]]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=200)
    async with (
        httpx.AsyncClient(
            base_url=stack.urls["ingest_url"], headers=headers, timeout=30, limits=limits
        ) as ingest,
        httpx.AsyncClient(base_url=stack.urls["s3_url"], timeout=30, limits=limits) as s3,
    ):
        watch = Watch(Redis.from_url(stack.urls["redis_url"]), s3, Keys(stack.prefix))
        idle = await phase(ingest, watch, count=10, rate=2)
        loaded = await phase(ingest, watch, count=RATE * SECONDS, rate=RATE)
        await watch.redis.aclose()
    return idle, loaded


async def phase(
    ingest: httpx.AsyncClient, watch: Watch, *, count: int, rate: float
) -> list[float | None]:
    done = asyncio.Event()
    watcher = asyncio.create_task(watch.loop(done))
    posts = []
    started = time.perf_counter()
    for n in range(count):
        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        posts.append(asyncio.create_task(publish(ingest, watch, n)))
    ids = await asyncio.gather(*posts)
    done.set()
    try:
        await asyncio.wait_for(watcher, timeout=120)
    except TimeoutError:
        print(f"{len(watch.waiting)} pages never became readable")
    return [watch.seen.get(aid) if aid else None for aid in ids]


def report(name: str, results: list[float | None]) -> None:
    seen = [r * 1000 for r in results if r is not None]
    missing = len(results) - len(seen)
    print(
        f"{name:<32} {len(results):>6} {statistics.median(seen):>8.0f} "
        f"{percentile(seen, 0.99):>8.0f} {max(seen):>8.0f} {missing:>8}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pressroom-latency-") as home:
        stack = Stack(Path(home), Ports.free(), extra_env={"PRESSROOM_LOG_LEVEL": "WARNING"})
        try:
            stack.start_infra()
            key = stack.start_apps()
            idle, loaded = asyncio.run(run(stack, key))
        finally:
            stack.stop()
    print(
        f"{'202 -> page readable':<32} {'posts':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'missing':>8}"
    )
    report("idle, one at a time (baseline)", idle)
    report(f"{RATE}/s for {SECONDS} s", loaded)
