"""The scheduler, or every render worker, SIGKILLed across an embargo's instant: nothing
publishes the article while it is down, and once it is back the article goes live, once,
never lost."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tests.faults.conftest import FaultStack, site_key, wait_for
from tests.faults.figures import record

HOLD_SECONDS = 6  # from the request to the instant: long enough to see the hold and the kill


def published_runs(fs: FaultStack, article_id: str) -> int:
    return len(re.findall(rf"render\.article\.published\s+id={article_id}", fs.workers_log()))


def written_at(fs: FaultStack, key: str) -> datetime | None:
    """When the page was last PUT (a render that finds its bytes unchanged writes nothing)."""
    return dict(fs.storage.site.entries(key)).get(key)


def drained(fs: FaultStack) -> bool:
    """No render.article waiting or running (kombu keeps taken messages in `unacked`, where
    countdown tasks such as the hot-list refresh also wait)."""
    taken = [json.loads(raw)[0] for raw in fs.redis.hvals("unacked")]
    running = sum(1 for m in taken if m["headers"]["task"] == "render.article")
    return fs.redis.llen("render") == 0 and running == 0


def hit(fs: FaultStack, article_id: str) -> int:
    return fs.counter.post(f"/v1/hits/{article_id}").status_code


def test_an_instant_passing_while_the_scheduler_is_dead_publishes_once_it_is_back(
    fault_stack: Callable[..., FaultStack],
) -> None:
    held_across_a_kill(fault_stack(), "scheduler")


def test_an_instant_passing_while_every_worker_is_dead_publishes_once_they_are_back(
    fault_stack: Callable[..., FaultStack],
) -> None:
    """The scheduler releases it on time into the broker; the message waits there for a
    worker (its lease is longer than the outage, so it is not sent twice)."""
    held_across_a_kill(fault_stack(), "render-worker-0")


def held_across_a_kill(fs: FaultStack, process: str) -> None:
    wait_for(lambda: "ready" in fs.log("render-worker-0"), "render worker ready", 30)
    instant = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=HOLD_SECONDS + 1)
    body = fs.article(f"held-{process}", headline=True, embargoed=instant.isoformat())
    answer = fs.ingest.post("/v1/articles", json=body)
    assert (answer.status_code, answer.json()["status"]) == (202, "scheduled"), answer.text
    aid, url = answer.json()["id"], answer.json()["url"]
    wait_for(
        lambda: fs.redis.zscore(fs.keys.due, aid) == instant.timestamp(),
        "render held it in the due set",
        20,
    )

    fs.kill(process)
    # Across the instant and past it: no page, no list, no count while nothing releases it.
    while time.time() < instant.timestamp() + 3:
        assert fs.page(url) is None
        assert hit(fs, aid) == 404
        time.sleep(0.5)
    home = fs.storage.site.get("index.html") or b""
    assert aid.encode() not in home

    fs.restart_app(process)
    back = time.monotonic()
    wait_for(lambda: fs.page(url) is not None, f"published once {process} is back", 60)
    live_after = time.monotonic() - back
    first_write = written_at(fs, site_key(url))
    wait_for(lambda: aid.encode() in (fs.storage.site.get("index.html") or b""), "on home", 30)
    wait_for(
        lambda: fs.redis.zscore(fs.keys.releasing, aid) is None and drained(fs),
        "its release finished and every render task run",
        60,
    )

    # Published once: whatever re-sent it while it was down (the reconciler, a lapsed lease)
    # found the page already written; the feed lists it once.
    assert written_at(fs, site_key(url)) == first_write
    guid = f'<guid isPermaLink="true">{url}</guid>'.encode()
    # The flush writes home before the feeds: wait for the feed too, then count.
    wait_for(lambda: guid in (fs.storage.site.get("feed.xml") or b""), "in the feed", 30)
    assert (fs.storage.site.get("feed.xml") or b"").count(guid) == 1
    assert fs.redis.zscore(fs.keys.due, aid) is None
    assert hit(fs, aid) == 200
    assert fs.edge.get("/" + site_key(url)).status_code == 200
    record(
        f"{process} SIGKILLed across an embargo's instant",
        live_after_restart_s=round(live_after, 1),
        published_runs=published_runs(fs, aid),
    )
