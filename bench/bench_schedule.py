"""Scheduled publishing: how late an embargoed article goes live, and what a scheduler tick
costs as the schedule grows.

On time: the whole system runs as `pressroom run` starts it; 1,000 articles are posted with
embargo instants spread over one minute, and a watcher HEADs each page on the site bucket
from its instant until it answers 200: lateness = readable - instant. Baseline, in the
same run: articles posted with no embargo, from the 202 to readable (the plain publish
path the release ends in).

Tick cost: one scheduler tick (claim what is due, read versions, send) on the same Valkey
with 10 and with 50,000 articles scheduled, releasing nothing and releasing 10; 10
scheduled is the baseline.
"""

from __future__ import annotations

import http.client
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
import redis

from bench.render_support import PARAGRAPH, percentile
from services.render.schedule import release_due
from services.stack.run import Stack
from shared.keys import Keys
from shared.logging import configure_logging
from tests.stack import harness

ARTICLES, SPREAD = 1000, 60.0  # articles, and the seconds their instants are spread over
LEAD = 120.0  # seconds from the start of posting to the first instant: posting ends first
BASELINE = 60
TICKS = 300


def story(n: int, tag: str, instant: datetime | None) -> dict[str, object]:
    body: dict[str, object] = {
        "external_id": f"{tag}-{n}-{time.time_ns()}",
        "title": f"定时发布测试 {n}",
        "body_html": PARAGRAPH * 3,
        "channel": ("news", "reviews", "notices")[n % 3],
        "headline": n % 25 == 0,
    }
    if instant is not None:
        body["embargoed"] = instant.isoformat()
    return body


class Watcher:
    """Watches pages from their instant: asks Redis which are rendered (one pipeline a round),
    and confirms each of those with a HEAD on the site bucket, timed when it answers 200.
    HEADing every due page each round instead would load the store it measures."""

    def __init__(self, stack: Stack) -> None:
        self.port, self.bucket = stack.ports.s3, stack.site_bucket
        self.db = redis.Redis.from_url(stack.urls["redis_url"], decode_responses=True)
        self.keys = Keys(stack.prefix)
        self.local = threading.local()
        self.released: dict[str, float] = {}  # id -> seconds from its instant to its claim

    def readable(self, url: str) -> bool:
        if not hasattr(self.local, "s3"):
            self.local.s3 = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn = self.local.s3
        conn.request("HEAD", f"/{self.bucket}/{url.split('/', 3)[3]}")
        answer = conn.getresponse()
        answer.read()
        return bool(answer.status == 200)

    def lateness(self, due: dict[str, tuple[str, float]], deadline: float) -> dict[str, float]:
        """id -> seconds from its instant (epoch s) to its page readable; `due` maps each id
        to (page URL, instant)."""
        seen: dict[str, float] = {}
        with ThreadPoolExecutor(8) as pool:
            while len(seen) < len(due) and time.time() < deadline:
                now = time.time()
                waiting = [a for a, (_, at) in due.items() if at <= now and a not in seen]
                pipe = self.db.pipeline(transaction=False)
                for aid in waiting:
                    pipe.hget(self.keys.article(aid), "status")
                    pipe.zscore(self.keys.due, aid)
                answers = pipe.execute()
                for aid, score in zip(waiting, answers[1::2], strict=True):
                    if score is None and aid not in self.released:
                        self.released[aid] = time.time() - due[aid][1]
                flagged = [
                    a for a, s in zip(waiting, answers[0::2], strict=True) if s == "published"
                ]
                urls = [due[a][0] for a in flagged]
                for aid, ok in zip(flagged, pool.map(self.readable, urls), strict=True):
                    if ok:
                        seen[aid] = time.time() - due[aid][1]
                time.sleep(0.02)
        return seen


def baseline(stack: Stack, ingest: httpx.Client, watcher: Watcher) -> list[float]:
    """No embargo: from each 202 to its page readable, one article at a time."""
    late = []
    for n in range(BASELINE):
        answer = ingest.post("/v1/articles", json=story(n, "plain", None)).json()
        accepted = time.time()
        seen = watcher.lateness({answer["id"]: (answer["url"], accepted)}, accepted + 30)
        late += list(seen.values())
    return late


def scheduled(ingest: httpx.Client, watcher: Watcher) -> tuple[list[float], int, float]:
    """1,000 embargoed articles over a minute: lateness of each, posted in batches."""
    first = time.time() + LEAD
    instants = [first + SPREAD * n / ARTICLES for n in range(ARTICLES)]
    due: dict[str, tuple[str, float]] = {}
    for start in range(0, ARTICLES, 100):
        items = [
            story(n, "held", datetime.fromtimestamp(instants[n], UTC))
            for n in range(start, min(start + 100, ARTICLES))
        ]
        answer = ingest.post("/v1/articles:batch", json={"articles": items})
        for n, item in enumerate(answer.json()["items"], start=start):
            due[item["article"]["id"]] = (item["article"]["url"], instants[n])
    posted_before_first = first - time.time()
    watcher.released.clear()
    seen = watcher.lateness(due, instants[-1] + 60)
    return list(seen.values()), ARTICLES - len(seen), posted_before_first


def tick_costs(stack: Stack) -> dict[str, list[float]]:
    """Seconds per tick at 10 and at 50,000 scheduled, releasing nothing and releasing 10;
    the sizes take turns tick by tick, so both see the same load on the machine."""
    db = redis.Redis.from_url(stack.urls["redis_url"], decode_responses=True)
    far = time.time() + 10 * 365 * 86400
    sizes = {size: Keys(f"tick{size}:") for size in (10, 50_000)}
    for size, keys in sizes.items():
        for start in range(0, size, 5000):
            db.zadd(keys.due, {f"a{n}": far + n for n in range(start, min(start + 5000, size))})
    costs: dict[str, list[float]] = {}
    for tick in range(TICKS):
        for size, keys in sizes.items():
            started = time.perf_counter()
            release_due(db, keys, lambda _t, _a: None, now=time.time(), lease=30)
            costs.setdefault(f"{size:,} scheduled, nothing due", []).append(
                time.perf_counter() - started
            )
            db.zadd(keys.due, {f"due{tick}-{n}": 1.0 for n in range(10)})
            started = time.perf_counter()
            assert len(release_due(db, keys, lambda _t, _a: None, now=time.time(), lease=30)) == 10
            costs.setdefault(f"{size:,} scheduled, 10 due", []).append(
                time.perf_counter() - started
            )
            db.delete(keys.releasing)
    for keys in sizes.values():
        db.delete(keys.due)
    db.close()
    return dict(sorted(costs.items(), key=lambda item: "50,000" in item[0]))


def show(name: str, seconds: list[float], unit: float, missing: int = 0) -> None:
    values = [s * unit for s in seconds]
    print(
        f"{name:<36} {len(values):>6} {statistics.median(values):>9.2f} "
        f"{percentile(values, 0.99):>9.2f} {max(values):>9.2f} {missing:>8}"
    )


def main() -> None:
    configure_logging("WARNING", json=False)  # this process's ticks log each release
    env = {"PRESSROOM_LOG_LEVEL": "WARNING"}
    with tempfile.TemporaryDirectory(prefix="pressroom-schedule-") as home:
        stack = Stack(Path(home), extra_env=env)
        try:
            harness.start_on_free_ports(stack)
            key = stack.start_apps()
            headers = {"Authorization": f"Bearer {key}"}
            print(f"load average before: {' '.join(f'{x:.1f}' for x in psutil.getloadavg())}")
            with httpx.Client(
                base_url=stack.urls["ingest_url"], headers=headers, timeout=60
            ) as ingest:
                watcher = Watcher(stack)
                plain = baseline(stack, ingest, watcher)
                late, missing, margin = scheduled(ingest, watcher)
                released = dict(watcher.released)
            costs = tick_costs(stack)
        finally:
            stack.stop()
    print(f"posting finished {margin:.1f} s before the first instant")
    print(f"{'on time (s)':<36} {'pages':>6} {'p50':>9} {'p99':>9} {'max':>9} {'missing':>8}")
    show("no embargo: 202 -> readable (baseline)", plain, 1)
    show(f"{ARTICLES} over {SPREAD:.0f} s: instant -> readable", late, 1, missing)
    show("  of which instant -> claimed", list(released.values()), 1)
    print(f"{'scheduler tick (ms)':<36} {'ticks':>6} {'p50':>9} {'p99':>9} {'max':>9}")
    for name, seconds in costs.items():
        show(name, seconds, 1000)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in psutil.getloadavg())}")
