"""Ingest fixtures: the ingest app in-process over the session's real Valkey and SeaweedFS,
on the test's own prefix and buckets, with feeds registered in its data bucket."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from services.ingest.app import create_app
from services.ingest.feeds import FeedRegistry, SecretBox, new_secrets_key
from services.ingest.settings import IngestSettings
from services.stack.run import Stack
from services.stack.servers import wait_until
from tests.conftest import Isolated, new_isolated
from tests.stack import harness

SAMPLES = Path(__file__).parent / "samples"


@dataclass
class Ingest:
    """An in-process ingest API and what a test needs to look behind it."""

    client: httpx.Client
    isolated: Isolated
    keys: dict[str, str]  # feed name -> bearer key
    signing_secret: str

    def headers(self, feed: str = "wire", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[feed]}", **extra}

    def post(self, body: bytes, content_type: str, feed: str = "wire", **kw: Any) -> Any:
        headers = self.headers(feed, **{"Content-Type": content_type, **kw.pop("headers", {})})
        return self.client.post("/v1/articles", content=body, headers=headers, **kw)

    def post_json(self, article: dict[str, Any], feed: str = "wire", **kw: Any) -> Any:
        return self.client.post("/v1/articles", json=article, headers=self.headers(feed), **kw)

    def data_keys(self, prefix: str = "") -> list[str]:
        return sorted(self.isolated.storage.data.keys(prefix))

    def stored_articles(self) -> list[str]:
        """Article documents and outbox entries (feeds/ excluded)."""
        return [k for k in self.data_keys() if not k.startswith("feeds/")]


IngestFactory = Callable[..., Ingest]
Running = tuple[uvicorn.Server, threading.Thread, httpx.Client]


def start_ingest(isolated: Isolated, **overrides: object) -> tuple[Ingest, Running]:
    """Register feeds `wire`, `other` and a signed one; serve ingest with these settings."""
    secrets_key = new_secrets_key()
    fields = isolated.settings.model_dump() | {"feed_cache_seconds": 0} | overrides
    settings = IngestSettings(**fields | {"feed_secrets_key": secrets_key})
    registry = FeedRegistry(isolated.storage.data, 0, SecretBox([secrets_key]))
    keys = {name: registry.add(name)[1] for name in ("wire", "other")}
    _, keys["signed"] = registry.add("signed", signing_secret="s3cret-for-tests")
    server, thread, url = serve(create_app(settings))
    client = httpx.Client(base_url=url, timeout=30)
    return Ingest(client, isolated, keys, "s3cret-for-tests"), (server, thread, client)


def stop_ingest(running: Running) -> None:
    server, thread, client = running
    client.close()
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def make_ingest(isolated: Isolated) -> Iterator[IngestFactory]:
    """Build the ingest app with setting overrides, on this test's prefix and buckets."""
    running: list[Running] = []

    def make(**overrides: object) -> Ingest:
        api, handle = start_ingest(isolated, **overrides)
        running.append(handle)
        return api

    yield make
    for handle in running:
        stop_ingest(handle)


@pytest.fixture
def api(make_ingest: IngestFactory) -> Ingest:
    return make_ingest()


@pytest.fixture(scope="module")
def module_api(stack: Stack) -> Iterator[Ingest]:
    """One ingest app for a module whose tests store nothing (or only what they check)."""
    isolated = new_isolated(stack)
    api, handle = start_ingest(isolated)
    yield api
    stop_ingest(handle)
    isolated.redis.close()


def serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Serve an ASGI app over real HTTP on a free port, in a thread of the test process."""
    port = harness.free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, f"ingest on {port}", timeout=15)
    return server, thread, f"http://127.0.0.1:{port}"


def article(external_id: str = "cctv-20220711-qxwq", **fields: Any) -> dict[str, Any]:
    """A realistic native article (the seed page's)."""
    return {
        "external_id": external_id,
        "title": "教育部:推动1000所以上高校支撑服务10000家以上企业科技进步和产业发展",
        "body_html": "<p>总台记者今天(7月11日)从教育部获悉……</p>",
        "source": "央视新闻",
        "editor": "单思月",
        "channel": "news",
        "published_at": "2022-07-11T10:00:00+08:00",
        **fields,
    }
