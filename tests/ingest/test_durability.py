"""Durability against real outages, on a stack of this module's own (so stopping Valkey or
SeaweedFS disturbs no one else): 202 only once stored, 503 + Retry-After when a store is
down, and an article accepted while the broker was unreachable published by the reconciler.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from services.stack import servers
from services.stack.run import Stack
from services.stack.servers import Server
from shared.ids import article_id
from shared.keys import Keys
from shared.models import article_key, pending_key
from shared.settings import CommonSettings
from shared.storage import Storage
from tests.ingest.conftest import article
from tests.stack import harness

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fragile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Valkey, SeaweedFS, a render worker and beat (reconciling every second), and an ingest
    process whose Celery broker points at a port where no Valkey answers."""
    stack = start_infra(tmp_path_factory.mktemp("fragile"))
    try:
        key = stack.feed_key()
        stack.pressroom("init", "--feed", stack.feed, "--key", key)
        stack.start_app("render-worker-0", "render-worker", "--name", "fragile0", "--pool", "solo")
        stack.start_app("scheduler", "scheduler", "--state", str(stack.home / "beat"))
        dead_broker = f"redis://127.0.0.1:{harness.free_port()}/0"
        ingest = Server(
            "ingest",
            [sys.executable, "-m", "services", "ingest", "--port", str(stack.ports.ingest)],
            stack.home / "logs" / "ingest.log",
            env=stack.env | {"PRESSROOM_BROKER_URL": dead_broker},
        )
        stack.apps["ingest"] = ingest.start()
        url = stack.urls["ingest_url"]
        servers.wait_until(lambda: httpx.get(f"{url}/healthz").is_success, "ingest", server=ingest)
        stack.extra_env["KEY"] = key
        yield stack
    finally:
        stack.stop()


def start_infra(home: Path) -> Stack:
    stack = Stack(
        home,
        prefix="frag:",
        extra_env={
            "PRESSROOM_RECONCILE_INTERVAL_SECONDS": "1",
            "PRESSROOM_RECONCILE_GRACE_SECONDS": "1",
        },
    )
    harness.start_on_free_ports(stack)
    return stack


@pytest.fixture
def client(fragile: Stack) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {fragile.extra_env['KEY']}"}
    with httpx.Client(base_url=fragile.urls["ingest_url"], headers=headers, timeout=60) as c:
        yield c


def storage(stack: Stack) -> Storage:
    return Storage.from_settings(
        CommonSettings(environment="test", s3_endpoint_url=stack.urls["s3_url"])
    )


def wait_for(probe: object, timeout: float = 45.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():  # type: ignore[operator]
            return True
        time.sleep(0.25)
    return False


def test_article_accepted_while_the_broker_is_down_is_published_by_the_reconciler(
    fragile: Stack, client: httpx.Client
) -> None:
    answer = client.post("/v1/articles", json=article("broker-down-1"))
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    log = Path(fragile.apps["ingest"].log_path).read_text()
    assert "ingest.enqueue.deferred" in log  # the render event really was not sent

    page_key = accepted["url"].split("/", 3)[3]
    assert wait_for(lambda: storage(fragile).site.get(page_key) is not None)

    page = (storage(fragile).site.get(page_key) or b"").decode()
    assert "教育部" in page
    status = client.get(f"/v1/articles/{accepted['id']}").json()
    assert (status["status"], status["rendered_version"]) == ("published", 1)
    assert wait_for(lambda: storage(fragile).data.get(pending_key(accepted["id"])) is None)
    worker_log = Path(fragile.apps["render-worker-0"].log_path).read_text()
    assert "ingest.reconcile.done" in worker_log


def test_redis_down_means_503_and_nothing_stored(fragile: Stack, client: httpx.Client) -> None:
    aid = article_id(fragile.feed, "redis-down-1")
    fragile.infra["valkey"].stop()
    try:
        refused = client.post("/v1/articles", json=article("redis-down-1"))
        ready = httpx.get(fragile.urls["ingest_url"] + "/readyz")
    finally:
        harness.restart_infra(fragile, "valkey")

    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "5"
    assert refused.json()["title"] == "Redis unavailable"
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"].startswith("error")
    data = storage(fragile).data
    assert data.get(article_key(aid)) is None
    assert data.get(pending_key(aid)) is None
    assert client.post("/v1/articles", json=article("redis-down-1")).status_code == 202


def test_object_store_down_means_503_and_nothing_half_written(
    fragile: Stack, client: httpx.Client
) -> None:
    aid = article_id(fragile.feed, "s3-down-1")
    assert client.get("/readyz").status_code == 200  # the feed registry is cached now
    fragile.infra["s3"].stop()
    try:
        refused = client.post("/v1/articles", json=article("s3-down-1"))
    finally:
        harness.restart_infra(fragile, "s3")

    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert refused.json()["detail"] == "Nothing was stored; retry later."
    data = storage(fragile).data
    assert [k for k in data.keys("articles/") if aid in k] == []
    assert data.get(pending_key(aid)) is None
    db = redis.Redis.from_url(fragile.urls["redis_url"])
    assert not db.exists(Keys(fragile.prefix).article(aid))
    assert client.post("/v1/articles", json=article("s3-down-1")).status_code == 202
