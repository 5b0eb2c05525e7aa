"""Counter fixtures: real counter processes (as `pressroom counter` serves them) over the
session's Valkey, each with its own key prefix, and articles published the way the render
worker publishes them (the article hash is the counter's contract)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from services.stack import servers
from services.stack.run import Stack
from shared.keys import Keys
from tests.stack import harness


@dataclass
class Counter:
    """One running counter process and what a test needs to talk to it and to its keys."""

    server: servers.Server
    url: str
    redis: redis.Redis
    keys: Keys
    env: dict[str, str]

    def publish(self, channel: str = "news", title: str = "") -> str:
        article_id = uuid.uuid4().hex[:20]
        self.redis.hset(
            self.keys.article(article_id),
            mapping={
                "status": "published",
                "channel": channel,
                "title": title or f"稿件 {article_id}",
                "url": f"{channel}/202607/{article_id}.html",
            },
        )
        return article_id

    def unpublish(self, article_id: str) -> None:
        self.redis.hset(self.keys.article(article_id), "status", "unpublished")

    def prefixed_keys(self) -> list[str]:
        return sorted(str(k) for k in self.redis.scan_iter(f"{self.keys.prefix}*", count=1000))

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


def counter_env(redis_url: str, prefix: str, **settings: str) -> dict[str, str]:
    return {
        "PRESSROOM_ENVIRONMENT": "test",
        "PRESSROOM_REDIS_URL": redis_url,
        "PRESSROOM_KEY_PREFIX": prefix,
        "PRESSROOM_LOG_JSON": "false",
        **{f"PRESSROOM_{k.upper()}": v for k, v in settings.items()},
    }


def start_counter(home: Path, redis_url: str, **settings: str) -> Counter:
    """`pressroom counter` in its own process; settings become PRESSROOM_* variables."""
    prefix = f"c{uuid.uuid4().hex[:8]}:"
    env = counter_env(redis_url, prefix, **settings)
    port = harness.free_port()
    argv = [sys.executable, "-m", "services", "counter", "--port", str(port)]
    process = servers.Server(f"counter:{port}", argv, home / f"counter-{port}.log", env=env)
    process.start()
    url = f"http://127.0.0.1:{port}"
    servers.wait_until(
        lambda: httpx.get(f"{url}/readyz", timeout=1).is_success, "counter", 30, process
    )
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    return Counter(process, url, client, Keys(prefix), env)


@pytest.fixture(scope="module")
def counter(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Counter]:
    """A counter with production defaults (30 s dedupe, robots not counted) and one CORS
    origin; readers are told apart by X-Forwarded-For, which loopback (the edge) may set."""
    home = tmp_path_factory.mktemp("counter")
    running = start_counter(
        home,
        stack.urls["redis_url"],
        cors_origins='["https://news.example.cn"]',
    )
    yield running
    running.server.stop()
    running.redis.close()


def hit_together(counter: Counter, hits: list[tuple[str, dict[str, str]]]) -> list[httpx.Response]:
    """POST each (article id, headers) hit at once, one thread each, so that they share
    group commits; the answers come back in the order of `hits`."""
    with counter.client() as http, ThreadPoolExecutor(len(hits)) as pool:
        return list(pool.map(lambda h: http.post(f"/v1/hits/{h[0]}", headers=h[1]), hits))


def reader(n: int, agent: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0") -> dict[str, str]:
    """Headers of the n-th distinct reader, as the edge forwards them."""
    return {"x-forwarded-for": f"198.51.{n // 256}.{n % 256}", "user-agent": agent}
