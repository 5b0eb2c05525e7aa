"""Publish latency: from ingest's 202 to the article page being readable from the site bucket.

The whole system runs as `pressroom run` starts it (ingest, one render worker with four
processes, counter, scheduler, edge) on embedded Valkey and SeaweedFS. Baseline: the same
measurement for articles posted one at a time on an idle system. Then articles are posted
at 50 per second for 20 seconds, each watched by a separate reader process until its page
answers 200.
"""

from __future__ import annotations

import asyncio
import http.client
import multiprocessing
import statistics
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from multiprocessing.queues import Queue
from pathlib import Path

import httpx
import orjson
import psutil
import redis

from bench.render_support import PARAGRAPH, percentile
from services.stack.run import Stack
from shared.keys import Keys
from tests.stack import harness

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
class Readings:
    """What the reader process saw, per article id (seconds after the 202)."""

    seen: dict[str, float] = field(default_factory=dict)  # page answered 200
    flagged: dict[str, float] = field(default_factory=dict)  # Redis said rendered
    told: dict[str, float] = field(default_factory=dict)  # the reader heard of the 202
    heads: list[float] = field(default_factory=list)  # each HEAD's own time
    not_yet: int = 0  # HEADs that did not answer 200 (asked again)
    never: int = 0


def read_pages(
    redis_url: str, s3_port: int, prefix: str, inbox: Queue[Accepted | None], outbox: Queue[bytes]
) -> None:
    """The reader, in its own process: one loop asks Redis which accepted pages are
    rendered, and threads confirm each with its own HEAD, timed when it answers 200.

    It runs apart from the process posting at 50/s, so that neither delays the other: when
    the same asyncio loop also confirmed pages, its HEADs took p50 143-563 ms while a
    separate process's HEADs on the same SeaweedFS took 2 ms (p99 18 ms).
    """
    db, keys, readings = redis.Redis.from_url(redis_url), Keys(prefix), Readings()
    waiting: dict[str, Accepted] = {}
    local = threading.local()

    def confirm(item: Accepted) -> None:
        if not hasattr(local, "s3"):
            local.s3 = http.client.HTTPConnection("127.0.0.1", s3_port, timeout=30)
        while True:
            asked = time.monotonic()
            local.s3.request("HEAD", f"/{BUCKET}/{item.page}")
            status = local.s3.getresponse()
            status.read()
            readings.heads.append(time.monotonic() - asked)
            if status.status == 200:
                readings.seen[item.id] = time.monotonic() - item.at
                return
            readings.not_yet += 1
            if time.monotonic() > item.at + 120:
                return
            time.sleep(0.01)

    outbox.put(b"ready")  # posting starts once the reader is up (spawning takes seconds)
    posting, deadline = True, float("inf")
    with ThreadPoolExecutor(16) as pool:
        confirming: list[Future[None]] = []
        while (posting or waiting) and time.monotonic() < deadline:
            while not inbox.empty() or (posting and not waiting and not confirming):
                item = inbox.get()
                if item is None:
                    posting, deadline = False, time.monotonic() + 120
                    break
                waiting[item.id] = item
                readings.told[item.id] = time.monotonic() - item.at
            ids = list(waiting)
            pipe = db.pipeline(transaction=False)
            for aid in ids:
                pipe.hget(keys.article(aid), "rendered_version")
            rendered = pipe.execute() if ids else []
            now = time.monotonic()
            for aid, done in zip(ids, rendered, strict=True):
                if done:
                    item = waiting.pop(aid)
                    readings.flagged[aid] = now - item.at
                    confirming.append(pool.submit(confirm, item))
            confirming = [c for c in confirming if not c.done()]
            time.sleep(0.01)
    readings.never = len(waiting) + len(readings.flagged.keys() - readings.seen.keys())
    outbox.put(orjson.dumps(asdict(readings)))


@dataclass(frozen=True)
class Accepted:
    id: str
    page: str
    at: float  # time.monotonic() at the 202 (one clock for every process on the machine)


async def publish(ingest: httpx.AsyncClient, inbox: Queue[Accepted | None], n: int) -> str | None:
    answer = await ingest.post("/v1/articles", json=story(n))
    if answer.status_code != 202:
        print(f"ingest answered {answer.status_code}: {answer.text[:200]}")
        return None
    at = time.monotonic()
    accepted = answer.json()
    inbox.put(Accepted(accepted["id"], accepted["url"].split("/", 3)[3], at))
    return str(accepted["id"])


async def post(
    stack: Stack, key: str, *, count: int, rate: float
) -> tuple[list[str | None], Readings]:
    """Post `count` articles at `rate`/s while a reader process watches their pages."""
    spawn = multiprocessing.get_context("spawn")
    inbox: Queue[Accepted | None] = spawn.Queue()
    outbox: Queue[bytes] = spawn.Queue()
    args = (stack.urls["redis_url"], stack.ports.s3, stack.prefix, inbox, outbox)
    reader = spawn.Process(target=read_pages, args=args)
    reader.start()
    await asyncio.to_thread(outbox.get)  # b"ready"
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(
        base_url=stack.urls["ingest_url"], headers=headers, timeout=30, limits=limits
    ) as ingest:
        posts = []
        started = time.perf_counter()
        for n in range(count):
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            posts.append(asyncio.create_task(publish(ingest, inbox, n)))
        ids = await asyncio.gather(*posts)
    inbox.put(None)
    readings = Readings(**orjson.loads(await asyncio.to_thread(outbox.get)))
    reader.join()
    return list(ids), readings


def run(stack: Stack, key: str) -> dict[str, list[float | None]]:
    """Each measurement of the loaded phase, and the idle baseline, per post (None: never)."""
    idle, idle_read = asyncio.run(post(stack, key, count=10, rate=2))
    loaded, read = asyncio.run(post(stack, key, count=RATE * SECONDS, rate=RATE))
    if read.never:
        print(f"{read.never} pages never became readable")
    own = own_clock(stack, [aid for aid in loaded if aid])
    return {
        "idle": _times(idle, idle_read.seen),
        "loaded": _times(loaded, read.seen),
        "flagged": _times(loaded, read.flagged),
        "told": _times(loaded, read.told),
        "own": _times(loaded, own),
        "head": list(read.heads),
        "not_yet": [None] * read.not_yet,
    }


def _times(ids: list[str | None], times: dict[str, float]) -> list[float | None]:
    return [times.get(aid) if aid else None for aid in ids]


def own_clock(stack: Stack, ids: list[str]) -> dict[str, float]:
    """Ingest's receipt to render's record of the written page, from the article hashes:
    the pipeline's own figure, which no load generator sharing the CPU can delay."""
    db, keys = (
        redis.Redis.from_url(stack.urls["redis_url"], decode_responses=True),
        Keys(stack.prefix),
    )
    pipe = db.pipeline(transaction=False)
    for aid in ids:
        pipe.hmget(keys.article(aid), "received_at", "rendered_at")
    times = {}
    for aid, (received, rendered) in zip(ids, pipe.execute(), strict=True):
        if received and rendered:
            spent = datetime.fromisoformat(rendered) - datetime.fromisoformat(received)
            times[aid] = spent.total_seconds()
    db.close()
    return times


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
        stack = Stack(Path(home), extra_env=env)
        try:
            harness.start_on_free_ports(stack)
            key = stack.start_apps()
            print(f"load average before: {psutil.getloadavg()[0]:.1f}")
            before, started = cpu_seconds(stack), time.perf_counter()
            figures = run(stack, key)
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
    report("  202 -> the reader hears of it", figures["told"])
    report("  202 -> Redis says rendered", figures["flagged"])
    report("  receipt -> written (render clock)", figures["own"])
    report("  one HEAD on the bucket", figures["head"])
    print(f"HEADs that did not answer 200 yet: {len(figures['not_yet'])}")
