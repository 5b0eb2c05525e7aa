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
from datetime import datetime
from pathlib import Path

import httpx
import orjson
import psutil
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
    """Articles accepted and not yet readable; one loop asks Redis about them all.

    Polling each page on its own timer would flood SeaweedFS with HEADs and slow the very
    thing measured; instead Redis says which pages were rendered, and each of those is
    confirmed by its own HEAD on the bucket, its time taken when that HEAD answers 200.
    (An earlier watcher asked Redis about every unconfirmed page every 10 ms and timed a
    whole round of HEADs by its slowest: on a loaded machine it added seconds of its own.)
    """

    redis: Redis
    s3: httpx.AsyncClient
    keys: Keys
    waiting: dict[str, tuple[float, str]] = field(default_factory=dict)
    confirming: set[asyncio.Task[None]] = field(default_factory=set)
    seen: dict[str, float] = field(default_factory=dict)
    flagged: dict[str, float] = field(default_factory=dict)  # 202 -> Redis says rendered
    heads: list[float] = field(default_factory=list)  # each HEAD's own time, seconds
    not_yet: int = 0  # HEADs that did not answer 200 (asked again)

    async def loop(self, until: asyncio.Event) -> None:
        while not (until.is_set() and not self.waiting and not self.confirming):
            ids = list(self.waiting)
            pipe = self.redis.pipeline(transaction=False)
            for aid in ids:
                pipe.hget(self.keys.article(aid), "rendered_version")
            rendered = await pipe.execute() if ids else []
            now = time.perf_counter()
            for aid, done in zip(ids, rendered, strict=True):
                if done:
                    accepted, page = self.waiting.pop(aid)
                    self.flagged[aid] = now - accepted
                    task = asyncio.create_task(self.confirm(aid, accepted, page))
                    self.confirming.add(task)
                    task.add_done_callback(self.confirming.discard)
            await asyncio.sleep(0.01)

    async def confirm(self, aid: str, accepted: float, page: str) -> None:
        while True:
            asked = time.perf_counter()
            answer = await self.s3.head(f"/{BUCKET}/{page}")
            self.heads.append(time.perf_counter() - asked)
            if answer.status_code == 200:
                break
            self.not_yet += 1
            await asyncio.sleep(0.01)
        self.seen[aid] = time.perf_counter() - accepted


async def publish(ingest: httpx.AsyncClient, watch: Watch, n: int) -> str | None:
    answer = await ingest.post("/v1/articles", json=story(n))
    if answer.status_code != 202:
        print(f"ingest answered {answer.status_code}: {answer.text[:200]}")
        return None
    accepted = answer.json()
    watch.waiting[accepted["id"]] = (time.perf_counter(), accepted["url"].split("/", 3)[3])
    return str(accepted["id"])


async def run(stack: Stack, key: str) -> dict[str, list[float | None]]:
    """Each measurement of the loaded phase, and the idle baseline, per post (None: never)."""
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
        idle_times = _times(idle, watch.seen)
        watch.seen.clear()
        watch.heads.clear()
        watch.not_yet = 0
        watch.flagged.clear()
        loaded = await phase(ingest, watch, count=RATE * SECONDS, rate=RATE)
        own = await own_clock(watch, [aid for aid in loaded if aid])
        await watch.redis.aclose()
    return {
        "idle": idle_times,
        "loaded": _times(loaded, watch.seen),
        "flagged": _times(loaded, watch.flagged),
        "own": _times(loaded, own),
        "head": list(watch.heads),
        "not_yet": [None] * watch.not_yet,
    }


def _times(ids: list[str | None], times: dict[str, float]) -> list[float | None]:
    return [times.get(aid) if aid else None for aid in ids]


async def own_clock(watch: Watch, ids: list[str]) -> dict[str, float]:
    """Ingest's receipt to render's record of the written page, from the article hashes:
    the pipeline's own figure, which no load generator sharing the CPU can delay."""
    pipe = watch.redis.pipeline(transaction=False)
    for aid in ids:
        pipe.hmget(watch.keys.article(aid), "received_at", "rendered_at")
    times = {}
    for aid, (received, rendered) in zip(ids, await pipe.execute(), strict=True):
        if received and rendered:
            spent = datetime.fromisoformat(rendered.decode()) - datetime.fromisoformat(
                received.decode()
            )
            times[aid] = spent.total_seconds()
    return times


async def phase(
    ingest: httpx.AsyncClient, watch: Watch, *, count: int, rate: float
) -> list[str | None]:
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
        print(f"{len(watch.waiting) + len(watch.confirming)} pages never became readable")
    return list(ids)


def report(name: str, results: list[float | None]) -> None:
    seen = [r * 1000 for r in results if r is not None]
    missing = len(results) - len(seen)
    print(
        f"{name:<32} {len(results):>6} {statistics.median(seen):>8.0f} "
        f"{percentile(seen, 0.99):>8.0f} {max(seen):>8.0f} {missing:>8}"
    )


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU time of each server and app, its worker children included."""
    used: dict[str, float] = {}
    for name, server in [*stack.infra.items(), *stack.apps.items()]:
        if server.process is None:
            continue
        try:
            parent = psutil.Process(server.process.pid)
            family = [parent, *parent.children(recursive=True)]
            used[name] = sum(sum(p.cpu_times()[:2]) for p in family)
        except psutil.NoSuchProcess:
            continue
    used["this bench (load generator, watcher)"] = sum(psutil.Process().cpu_times()[:2])
    return used


def where_time_goes(stack: Stack, cpu: dict[str, float], seconds: float) -> None:
    """From the render worker's log: queue wait before render.article, its own time, flushes."""
    waited, took, flushes = [], [], []

    for line in (stack.home / "logs" / "render-worker-0.log").read_bytes().splitlines():
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # Celery's own lines, or two processes' lines interleaved
        if not isinstance(event, dict):
            continue
        if event.get("event") == "render.article.published" and "waited_ms" in event:
            waited.append(event["waited_ms"])
            took.append(event["ms"])
        elif event.get("event") == "render.flush.done":
            flushes.append(event["ms"])
    print(f"{'render worker log':<32} {'count':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, values in (
        ("receipt -> render.article start", waited),
        ("render.article itself", took),
        ("render.flush", flushes),
    ):
        if values:
            print(
                f"{name:<32} {len(values):>6} {statistics.median(values):>8.0f} "
                f"{percentile(values, 0.99):>8.0f} {max(values):>8.0f}"
            )
    busy = sum(flushes) / 1000
    print(f"flushes busy {busy:.1f} s of the ~{seconds:.0f} s run (one worker process each)")
    print("CPU seconds during the run: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()))
    load = psutil.getloadavg()
    print(f"load average after the run: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


def main() -> None:
    env = {"PRESSROOM_LOG_LEVEL": "INFO", "PRESSROOM_LOG_JSON": "true"}
    with tempfile.TemporaryDirectory(prefix="pressroom-latency-") as home:
        stack = Stack(Path(home), Ports.free(), extra_env=env)
        try:
            stack.start_infra()
            key = stack.start_apps()
            print(f"load average before: {psutil.getloadavg()[0]:.1f}")
            before, started = cpu_seconds(stack), time.perf_counter()
            figures = asyncio.run(run(stack, key))
            seconds = time.perf_counter() - started
            after = cpu_seconds(stack)
            used = {k: after[k] - before.get(k, 0.0) for k in after}
            where_time_goes(stack, used, seconds)
        finally:
            stack.stop()
    print(
        f"{'202 -> page readable':<32} {'posts':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'missing':>8}"
    )
    report("idle, one at a time (baseline)", figures["idle"])
    report(f"{RATE}/s for {SECONDS} s", figures["loaded"])
    print("the same 50/s posts, in parts:")
    report("  202 -> Redis says rendered", figures["flagged"])
    report("  receipt -> written (render clock)", figures["own"])
    report("  one HEAD on the bucket", figures["head"])
    print(f"HEADs that did not answer 200 yet: {len(figures['not_yet'])}")
