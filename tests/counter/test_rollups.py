"""Beat's jobs on hours that have passed: daily series, rolling windows, expiry, snapshots.

Past hours are written in the shape the hit route writes them (the hourly bucket of each
article and the hour's ranking), since a test cannot wait for days to go by.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from services.counter import rollups, snapshots
from tests.conftest import Isolated

NOW = datetime(2026, 7, 11, 12, 30, tzinfo=UTC)


def past_hits(iso: Isolated, article: str, at: datetime, hits: int, channel: str = "news") -> None:
    """What the hit route leaves behind for `hits` counted views at `at`."""
    k, hour = iso.keys, rollups.hour_of(at)
    iso.redis.incrby(k.hits(article), hits)
    iso.redis.hincrby(k.hourly(article), hour, hits)
    for ranking in (
        k.top("all"),
        k.top("all", channel),
        k.top_hour(hour),
        k.top_hour(hour, channel),
    ):
        iso.redis.zincrby(ranking, hits, article)
    iso.redis.sadd(k.top_channels, channel)
    iso.redis.hset(k.article(article), mapping={"status": "published", "channel": channel})


def run(iso: Isolated, job: rollups.Job) -> object:
    async def go() -> object:
        client = Redis.from_url(iso.settings.redis_url, decode_responses=True)
        try:
            return await job(client)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_hours_roll_up_into_the_daily_series_and_the_week(isolated: Isolated) -> None:
    k = isolated.keys
    past_hits(isolated, "a" * 20, NOW - timedelta(hours=2), 3)
    past_hits(isolated, "a" * 20, NOW - timedelta(hours=1), 4)
    past_hits(isolated, "b" * 20, NOW - timedelta(days=1, hours=2), 9)  # yesterday 10:30

    run(isolated, lambda r: rollups.roll_up(r, k, 35, NOW))
    run(isolated, lambda r: rollups.roll_up(r, k, 35, NOW - timedelta(days=1)))
    run(isolated, lambda r: rollups.refresh_rankings(r, k, NOW))

    assert isolated.redis.hgetall(k.daily("a" * 20)) == {"20260711": "7"}
    assert isolated.redis.hgetall(k.daily("b" * 20)) == {"20260710": "9"}
    week = isolated.redis.zrevrange(k.top("7d"), 0, -1, withscores=True)
    assert week == [("b" * 20, 9.0), ("a" * 20, 7.0)]
    # At 12:30 the last hour is half of hour 11 (4 views, weighted 0.5) and hour 12 so far.
    assert isolated.redis.zrevrange(k.top("1h", "news"), 0, -1, withscores=True) == [
        ("a" * 20, 2.0)
    ]
    assert isolated.redis.zrange(k.top("24h"), 0, -1) == ["a" * 20]  # b is 26 hours old


def test_hourly_buckets_past_retention_go_but_their_day_stays(isolated: Isolated) -> None:
    k, old = isolated.keys, NOW - timedelta(days=36)
    past_hits(isolated, "c" * 20, old, 5)
    past_hits(isolated, "c" * 20, NOW, 1)
    run(isolated, lambda r: rollups.roll_up(r, k, 35, old))

    pruned = run(isolated, lambda r: rollups.prune_hours(r, k, 35, NOW))

    assert pruned == 1
    assert isolated.redis.hgetall(k.hourly("c" * 20)) == {rollups.hour_of(NOW): "1"}
    assert isolated.redis.hget(k.daily("c" * 20), rollups.day_of(old)) == "5"


def restore_command(isolated: Isolated) -> subprocess.CompletedProcess[str]:
    """`pressroom counter restore` run as an operator would, on the test's own keys and bucket."""
    env = {
        **os.environ,
        "PRESSROOM_ENVIRONMENT": "test",
        "PRESSROOM_REDIS_URL": isolated.settings.redis_url,
        "PRESSROOM_S3_ENDPOINT_URL": isolated.settings.s3_endpoint_url or "",
        "PRESSROOM_KEY_PREFIX": isolated.keys.prefix,
        "PRESSROOM_DATA_BUCKET": isolated.settings.data_bucket,
    }
    return subprocess.run(
        [sys.executable, "-m", "services", "counter", "restore"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_restore_rebuilds_counts_from_the_latest_snapshot(isolated: Isolated) -> None:
    k, data = isolated.keys, isolated.storage.data
    prefix = "counter/snapshots/"
    past_hits(isolated, "d" * 20, NOW, 41, channel="sport")
    past_hits(isolated, "e" * 20, NOW, 2)
    taken = run(isolated, lambda r: snapshots.take_snapshot(r, k, data, prefix))
    before = {a: isolated.redis.get(k.hits(a)) for a in ("d" * 20, "e" * 20)}
    lost = [key for key in isolated.redis.scan_iter(f"{k.prefix}*") if ":{" in key]
    isolated.redis.delete(*lost)  # Redis lost its data (no AOF, say)
    isolated.redis.set(k.hits("e" * 20), 3)  # ...and counted one more view since

    done = restore_command(isolated)

    assert done.returncode == 0, done.stderr
    assert str(taken) in done.stdout.replace("\n", "")
    assert before == {"d" * 20: "41", "e" * 20: "2"}
    assert isolated.redis.get(k.hits("d" * 20)) == "41"
    assert isolated.redis.get(k.hits("e" * 20)) == "3"  # never lowered
    assert isolated.redis.hget(k.hourly("d" * 20), rollups.hour_of(NOW)) == "41"
    assert isolated.redis.zscore(k.top("all", "sport"), "d" * 20) == 41.0


def test_restore_without_a_snapshot_says_so(isolated: Isolated) -> None:
    done = restore_command(isolated)
    assert done.returncode == 1
    assert "no snapshot" in done.stdout


def test_beat_sends_the_counter_jobs_and_workers_know_them() -> None:
    from shared.celery_app import install_schedule, worker_app
    from shared.settings import CommonSettings

    app = worker_app(CommonSettings(environment="test"))
    install_schedule(app)
    sent = {entry["task"] for entry in app.conf.beat_schedule.values()}
    counter_jobs = {
        "counter.roll_up",
        "counter.refresh_rankings",
        "counter.prune",
        "counter.snapshot",
    }
    assert counter_jobs <= sent
    assert counter_jobs <= set(app.tasks)
