"""Past one machine: the whole pipeline with its Redis data on a 3-master Valkey cluster and
two render worker processes, the Celery broker on a single Valkey (kombu cannot use Cluster).
Articles posted to ingest are rendered by the workers, served by the edge and counted by the
counter, and their keys land on every master."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis

from services.stack.run import Stack
from tests.conftest import sample
from tests.stack import harness

pytestmark = pytest.mark.slow
ARTICLES = 6


@pytest.fixture(scope="module")
def cluster_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, list[int]]]:
    home = tmp_path_factory.mktemp("cluster-stack")
    ports = harness.free_cluster_ports(3)
    nodes = harness.valkey_cluster(ports, home / "cluster")
    stack = Stack(home, prefix="cl:", workers=2)
    try:
        # its single Valkey is the broker; its SeaweedFS holds the buckets
        harness.start_on_free_ports(stack)
        stack.extra_env |= {
            "PRESSROOM_BROKER_URL": stack.urls["redis_url"],
            "PRESSROOM_REDIS_URL": f"redis://127.0.0.1:{ports[0]}/0",
            "PRESSROOM_REDIS_CLUSTER": "true",
        }
        stack.extra_env["PRESSROOM_FEED_KEY"] = stack.start_apps()
        yield stack, ports
    finally:
        stack.stop()
        for node in nodes:
            node.stop()


def publish(stack: Stack, n: int) -> dict[str, str]:
    article = json.loads(sample()) | {"external_id": f"cluster-{n}-{uuid.uuid4().hex[:6]}"}
    answer = httpx.post(
        f"{stack.urls['ingest_url']}/v1/articles",
        json=article,
        headers={"Authorization": f"Bearer {stack.extra_env['PRESSROOM_FEED_KEY']}"},
    )
    assert answer.status_code == 202, answer.text
    accepted: dict[str, str] = answer.json()
    return accepted


def wait_live(stack: Stack, url: str, timeout: float = 30.0) -> int:
    path = "/" + url.split("/", 3)[3]
    deadline = time.monotonic() + timeout
    while (status := httpx.get(f"{stack.urls['site_url'].rstrip('/')}{path}").status_code) != 200:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return status


def wait_listed(
    stack: Stack, path: str, accepted: list[dict[str, str]], timeout: float = 30.0
) -> bool:
    wanted = ["/" + a["url"].split("/", 3)[3] for a in accepted]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = httpx.get(f"{stack.urls['site_url'].rstrip('/')}/{path}").text
        if all(url in page for url in wanted):
            return True
        time.sleep(0.2)
    return False


def test_articles_are_published_and_counted_across_the_cluster(
    cluster_stack: tuple[Stack, list[int]],
) -> None:
    stack, ports = cluster_stack
    accepted = [publish(stack, n) for n in range(ARTICLES)]
    statuses = [wait_live(stack, a["url"]) for a in accepted]
    with httpx.Client(base_url=stack.urls["counter_url"]) as counter:
        counts = [
            counter.post(f"/v1/hits/{a['id']}", headers={"User-Agent": f"r{n}"}).json()["count"]
            for a in accepted
            for n in range(2)
        ]
        top = counter.get("/v1/top", params={"window": "24h", "limit": 20}).json()
    keys_per_master = [
        len(list(redis.Redis(port=port).scan_iter("cl:*", count=1000))) for port in ports
    ]
    on_broker = redis.Redis.from_url(stack.urls["redis_url"]).keys("cl:*")

    assert statuses == [200] * ARTICLES
    # the flush (its scripts and pipelines) works on the cluster: home and the feed list them
    assert wait_listed(stack, "", accepted), "home does not list every article"
    assert wait_listed(stack, "feed.xml", accepted), "the feed does not list every article"
    assert counts == [1, 2] * ARTICLES
    assert {item["id"] for item in top["items"]} >= {a["id"] for a in accepted}
    assert all(keys_per_master), keys_per_master  # the data is spread over all three
    assert on_broker == []  # the single Valkey carries Celery messages only
    assert len([name for name in stack.apps if name.startswith("render-worker")]) == 2


def test_reindex_rebuilds_the_indexes_on_the_cluster(
    cluster_stack: tuple[Stack, list[int]],
) -> None:
    stack, ports = cluster_stack
    accepted = publish(stack, 99)
    assert wait_live(stack, accepted["url"]) == 200
    cluster = redis.RedisCluster(host="127.0.0.1", port=ports[0], decode_responses=True)
    channel = "cl:ch:news"
    before = cluster.zcard(channel)
    cluster.delete(channel)  # an index lost (Redis is rebuildable from the data bucket)

    stack.pressroom("reindex")

    assert cluster.zcard(channel) == before
    assert cluster.zscore(channel, accepted["id"]) is not None
