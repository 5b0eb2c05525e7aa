"""The counter on a real 3-master Valkey cluster: one article's keys share a slot, so the
check-and-count script runs there; rankings share the `{rank}` slot."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
from redis.asyncio import RedisCluster
from redis.crc import key_slot

from services.counter import rollups
from shared.keys import Keys
from tests.counter.conftest import Counter, reader, start_counter
from tests.stack import harness

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster_counter(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Counter, list[int]]]:
    home = tmp_path_factory.mktemp("cluster")
    ports = harness.free_cluster_ports(3)
    nodes = harness.valkey_cluster(ports, home)
    try:
        running = start_counter(home, f"redis://127.0.0.1:{ports[0]}/0", redis_cluster="true")
        running.redis = redis.RedisCluster(host="127.0.0.1", port=ports[0], decode_responses=True)  # type: ignore[assignment]
        yield running, ports
        running.server.stop()
    finally:
        for node in nodes:
            node.stop()


def master(counter: Counter, article: str) -> int:
    """Which third of the slots the article's keys fall in: about one master's share each."""
    return key_slot(counter.keys.article(article).encode()) * 3 // 16384


def keys_on_every_node(ports: list[int]) -> int:
    return sum(int(redis.Redis(port=port).dbsize()) for port in ports)


def test_hits_count_across_the_cluster_and_unknown_ids_create_nothing(
    cluster_counter: tuple[Counter, list[int]],
) -> None:
    counter, ports = cluster_counter
    articles: list[str] = []
    # At least 12, and on all three masters (12 random ids miss one 2% of the time)
    while len(articles) < 12 or len({master(counter, a) for a in articles}) < 3:
        articles.append(counter.publish("news"))
    with counter.client() as http:
        counts = [
            http.post(f"/v1/hits/{a}", headers=reader(n)).json()["count"]
            for a in articles
            for n in range(2)
        ]
        before = keys_on_every_node(ports)
        refused = {http.post(f"/v1/hits/{uuid.uuid4().hex[:20]}").status_code for _ in range(100)}
        after = keys_on_every_node(ports)
        top = http.get("/v1/top", params={"window": "24h", "channel": "news", "limit": 20}).json()
        stats = http.get(f"/v1/stats/{articles[0]}").json()

    assert counts == [1, 2] * len(articles)
    assert refused == {404}
    assert after == before
    assert {i["id"] for i in top["items"]} == set(articles)
    assert stats["total"] == 2


def test_rollups_run_on_the_cluster(cluster_counter: tuple[Counter, list[int]]) -> None:
    counter, ports = cluster_counter
    article = counter.publish("culture")
    with counter.client() as http:
        for n in range(3):
            http.post(f"/v1/hits/{article}", headers=reader(n))
    keys, now = Keys(counter.keys.prefix), datetime.now(UTC)

    async def roll() -> None:
        client = RedisCluster(host="127.0.0.1", port=ports[0], decode_responses=True)
        await rollups.roll_up(client, keys, 35, now)
        await rollups.refresh_rankings(client, keys, now)
        await client.aclose()

    asyncio.run(roll())

    assert counter.redis.hget(keys.daily(article), rollups.day_of(now)) == "3"
    assert counter.redis.zscore(keys.top("7d", "culture"), article) == 3.0
