"""A burst through the real system: ingest, the Celery render worker, the coalesced flush."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis

from services.stack.run import Stack
from shared.keys import Keys
from tests.conftest import sample

BURST = 300


def renders(db: redis.Redis, live: Stack) -> dict[str, int]:
    counts: dict[str, str] = db.hgetall(Keys(live.prefix).render_count)  # type: ignore[assignment]
    return {kind: int(n) for kind, n in counts.items()}


@pytest.mark.slow
def test_a_burst_into_one_channel_renders_its_lists_a_handful_of_times(
    live: Stack, ingest: httpx.Client, site: httpx.Client
) -> None:
    db = redis.Redis.from_url(live.urls["redis_url"], decode_responses=True)
    before = renders(db, live)
    seed = json.loads(sample())
    stamp = time.time_ns()
    batches = [
        [
            seed
            | {
                "external_id": f"burst-{stamp}-{n}",
                "title": f"快讯 {n}",
                "channel": "reviews",
                "published_at": f"2025-01-01T08:{n // 60:02d}:{n % 60:02d}+08:00",
            }
            for n in range(start, start + 100)
        ]
        for start in range(0, BURST, 100)
    ]
    with ThreadPoolExecutor(3) as pool:
        answers = list(
            pool.map(lambda b: ingest.post("/v1/articles:batch", json={"articles": b}), batches)
        )
    ids = [item["article"]["id"] for a in answers for item in a.json()["items"]]
    assert len(ids) == BURST

    keys = Keys(live.prefix)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # every page rendered and the burst's last flush done
        pipe = db.pipeline(transaction=False)
        for aid in ids:
            pipe.hget(keys.article(aid), "rendered_version")
        pipe.exists(
            keys.flush_scheduled, keys.flush_lock, keys.dirty, keys.dirty_from, keys.flushing
        )
        *rendered, pending = pipe.execute()
        if all(rendered) and not pending:
            break
        time.sleep(0.2)
    after = renders(db, live)

    assert after["article"] - before.get("article", 0) >= BURST
    assert after["home"] - before.get("home", 0) <= BURST // 10
    assert after["channel"] - before.get("channel", 0) <= BURST // 10
    index = site.get("/reviews/").text
    assert "快讯 299" in index  # the newest of the burst heads its channel
