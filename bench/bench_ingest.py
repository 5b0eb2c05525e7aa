"""Sustained accepted articles/s and POST latency of ingest, beside two baselines.

Starts its own Valkey, SeaweedFS and one ingest process (`pressroom ingest`, as deployed;
no render worker, so the figures are ingest's own). Load: CLIENTS threads, each posting new
articles back to back for SECONDS. Baselines measured in the same run, same concurrency:
the /healthz round trip (the HTTP floor) and bare S3 PUTs of the same document (the
storage floor: ingest writes three objects per article).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson

from services.stack import servers
from services.stack.run import Stack
from services.stack.servers import Server
from shared.storage import Storage
from tests.stack import harness

CLIENTS = 8
SECONDS = 15.0
BATCH_SIZE = 100


def document(n: int, run: str) -> dict[str, Any]:
    return {
        "external_id": f"bench-{run}-{n}",
        "title": f"教育部:推动1000所以上高校支撑服务企业科技进步 第{n}号",
        "body_html": "<p>总台记者今天(7月11日)从教育部获悉……</p>" * 12,
        "source": "央视新闻",
        "editor": "单思月",
        "channel": "news",
        "published_at": "2022-07-11T10:00:00+08:00",
    }


def load(call: Callable[[int], bool], clients: int = CLIENTS) -> dict[str, float]:
    """Run `call(n)` from `clients` threads for SECONDS; count successes, time each call."""
    counter, lock = iter(range(10**9)), threading.Lock()
    deadline = time.perf_counter() + SECONDS

    def worker() -> tuple[int, list[float]]:
        ok, times = 0, []
        while time.perf_counter() < deadline:
            with lock:
                n = next(counter)
            started = time.perf_counter()
            ok += call(n)
            times.append(time.perf_counter() - started)
        return ok, times

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda _: worker(), range(clients)))
    elapsed = time.perf_counter() - started
    times = sorted(t for _, ts in results for t in ts)
    return {
        "per_s": sum(ok for ok, _ in results) / elapsed,
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": times[int(len(times) * 0.99)] * 1000,
        "calls": len(times),
    }


def start(home: Path) -> tuple[Stack, str]:
    stack = Stack(home, prefix="bench:", extra_env={"PRESSROOM_LOG_LEVEL": "WARNING"})
    harness.start_on_free_ports(stack)
    key = stack.feed_key()
    stack.pressroom("init", "--feed", stack.feed, "--key", key)
    argv = [sys.executable, "-m", "services", "ingest", "--port", str(stack.ports.ingest)]
    ingest = Server("ingest", argv, home / "logs" / "ingest.log", env=stack.env).start()
    stack.apps["ingest"] = ingest
    url = stack.urls["ingest_url"]
    servers.wait_until(lambda: httpx.get(f"{url}/healthz").is_success, "ingest", server=ingest)
    return stack, key


def measure(stack: Stack, key: str) -> dict[str, dict[str, float]]:
    url, run = stack.urls["ingest_url"], str(time.time_ns())
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            headers = {"Authorization": f"Bearer {key}"}
            local.client = httpx.Client(base_url=url, headers=headers, timeout=30)
        return local.client  # type: ignore[no-any-return]

    def post(n: int) -> bool:
        return client().post("/v1/articles", json=document(n, run)).status_code == 202

    def healthz(n: int) -> bool:
        return client().get("/healthz").status_code == 200

    def batch(n: int) -> bool:
        items = [document(n * BATCH_SIZE + i, f"{run}b") for i in range(BATCH_SIZE)]
        answer = client().post("/v1/articles:batch", json={"articles": items})
        return answer.status_code == 202 and answer.json()["accepted"] == BATCH_SIZE

    bucket = Storage.from_settings(stack.settings()).data
    body = orjson.dumps(document(0, run))

    def bare_put(n: int) -> bool:
        bucket.put(f"bench/{run}/{n}.json", body, content_type="application/json")
        return True

    results = {
        "GET /healthz (HTTP floor)": load(healthz),
        "S3 PUT, same document (storage floor)": load(bare_put),
        "POST /v1/articles (new article each)": load(post),
    }
    batch_load = load(batch, clients=2)
    results[f"POST :batch of {BATCH_SIZE}, 2 clients"] = batch_load | {
        "per_s": batch_load["per_s"] * BATCH_SIZE
    }
    return results


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as home:
        stack, key = start(Path(home))
        try:
            results = measure(stack, key)
        finally:
            stack.stop()
    print(f"{CLIENTS} client threads (unless noted), {SECONDS:.0f} s each, same 2-core box")
    print(f"{'what':<44} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8} {'calls':>7}")
    for name, r in results.items():
        print(
            f"{name:<44} {r['per_s']:>9.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}"
            f" {r['calls']:>7.0f}"
        )
    print("per s = accepted articles/s for the POST rows; p50/p99 are per request")
