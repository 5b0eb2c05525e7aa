"""The due set and its claim: read by time range, each article released once however many
schedulers run, a claim whose scheduler died released again when its lease runs out."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import redis

from services.render.schedule import claim, release_due
from tests.conftest import Isolated


def schedule(isolated: Isolated, instants: dict[str, float]) -> None:
    isolated.redis.zadd(isolated.keys.due, instants)


def test_a_claim_takes_only_what_is_due_and_hands_it_out_once(isolated: Isolated) -> None:
    schedule(isolated, {"early": 100.0, "on-time": 200.0, "later": 300.0})

    first = claim(isolated.redis, isolated.keys, now=200.0, lease=30, limit=100)
    again = claim(isolated.redis, isolated.keys, now=201.0, lease=30, limit=100)

    assert sorted(first) == ["early", "on-time"]
    assert again == []
    assert isolated.redis.zrange(isolated.keys.due, 0, -1) == ["later"]


def test_a_claim_whose_scheduler_died_is_released_again_after_its_lease(
    isolated: Isolated,
) -> None:
    """A scheduler that claimed and crashed before sending leaves a lease; once it runs out
    the next tick claims the article again (render, once the page is live, ends the lease)."""
    schedule(isolated, {"story": 100.0})
    assert claim(isolated.redis, isolated.keys, now=100.0, lease=30, limit=10) == ["story"]

    during = claim(isolated.redis, isolated.keys, now=129.0, lease=30, limit=10)
    after = claim(isolated.redis, isolated.keys, now=131.0, lease=30, limit=10)

    assert during == []
    assert after == ["story"]


@pytest.mark.parametrize("schedulers", [2, 4])
def test_schedulers_running_side_by_side_release_each_article_exactly_once(
    isolated: Isolated, schedulers: int
) -> None:
    """Two (or four) schedulers, each on its own connection, tick as fast as they can over
    2,000 articles all due: every article is sent once, none twice, none lost."""
    articles = {f"story-{n:05d}": float(n % 50) for n in range(2000)}
    schedule(isolated, articles)
    sent: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(schedulers)

    def send(_task: str, args: list[object]) -> None:
        with lock:
            sent.append(str(args[0]))

    def scheduler() -> None:
        db = redis.Redis.from_url(isolated.settings.redis_url, decode_responses=True)
        start.wait()
        while release_due(db, isolated.keys, send, now=100.0, lease=3600, limit=37):
            pass
        db.close()

    threads = [threading.Thread(target=scheduler) for _ in range(schedulers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    counts = Counter(sent)
    assert set(counts) == set(articles)
    assert max(counts.values()) == 1
