"""Aggregation over the hot path's output: hourly buckets into daily series, hourly rankings
into daily and rolling (1h/24h/7d/30d) rankings, and expiry of old hourly buckets.

Every job is idempotent (it recomputes from the hourly data rather than adding to it), so
Celery beat may run it late, twice or concurrently with the counter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis, RedisCluster

from shared.keys import Keys
from shared.logging import get_logger

AnyRedis = Redis | RedisCluster
Job = Callable[[AnyRedis], Awaitable[object]]
WINDOWS = ("1h", "24h", "7d", "30d", "all")
WINDOW_TTL = 90  # a rolling ranking is recomputed by beat every minute, or on read
CHUNK = 500
log = get_logger("pressroom.counter.rollups")


def hour_of(at: datetime) -> str:
    return at.strftime("%Y%m%d%H")


def day_of(at: datetime) -> str:
    return at.strftime("%Y%m%d")


def hours_of_day(day: str) -> list[str]:
    return [f"{day}{h:02d}" for h in range(24)]


async def channels(redis: AnyRedis, keys: Keys) -> list[str | None]:
    ranked = await redis.smembers(keys.top_channels)
    return [None, *sorted(str(c) for c in ranked)]


def window_sources(keys: Keys, window: str, channel: str | None, now: datetime) -> dict[str, float]:
    """Source rankings and weights whose union approximates the last `window`.

    Whole hours (days for 7d/30d) inside the window count fully; the oldest, partly outside,
    is weighted by the part still inside (the sliding-window estimate rate limiters use).
    """
    current = now.replace(minute=0, second=0, microsecond=0)
    if window in ("1h", "24h"):
        n = 1 if window == "1h" else 24
        inside = 1 - (now - current).total_seconds() / 3600
        hours = [current - timedelta(hours=i) for i in range(n + 1)]
        weights = [1.0] * n + [inside]
        return {keys.top_hour(hour_of(h), channel): w for h, w in zip(hours, weights, strict=True)}
    days = 7 if window == "7d" else 30
    today = current.replace(hour=0)
    inside = 1 - (now - today).total_seconds() / 86400
    sources = {keys.top_hour(h, channel): 1.0 for h in hours_of_day(day_of(today))}
    for i in range(1, days):
        sources[keys.top_day(day_of(today - timedelta(days=i)), channel)] = 1.0
    sources[keys.top_day(day_of(today - timedelta(days=days)), channel)] = inside
    return sources


async def members(redis: AnyRedis, key: str) -> list[str]:
    return [str(m) for m in await redis.zrange(key, 0, -1)]


async def refresh_window(
    redis: AnyRedis, keys: Keys, window: str, channel: str | None, now: datetime
) -> None:
    sources = window_sources(keys, window, channel, now)
    dest = keys.top(window, channel)
    pipe = redis.pipeline(transaction=False)
    pipe.zunionstore(dest, sources)
    pipe.expire(dest, WINDOW_TTL)
    await pipe.execute()


async def refresh_rankings(redis: AnyRedis, keys: Keys, now: datetime | None = None) -> int:
    """Recompute every rolling ranking, overall and per channel."""
    now = now or datetime.now(UTC)
    done = 0
    for channel in await channels(redis, keys):
        for window in WINDOWS[:-1]:
            await refresh_window(redis, keys, window, channel, now)
            done += 1
    return done


async def roll_up_day(redis: AnyRedis, keys: Keys, day: str, keep_days: int) -> int:
    """Daily rankings from the day's hourly ones; each ranked article's daily series entry
    from its hourly buckets. Returns how many articles were rolled up."""
    ttl = (keep_days + 2) * 86400
    for channel in await channels(redis, keys):
        dest = keys.top_day(day, channel)
        pipe = redis.pipeline(transaction=False)
        pipe.zunionstore(dest, [keys.top_hour(h, channel) for h in hours_of_day(day)])
        pipe.expire(dest, ttl)
        await pipe.execute()
    ids = await members(redis, keys.top_day(day))
    for start in range(0, len(ids), CHUNK):
        await _roll_up_series(redis, keys, day, ids[start : start + CHUNK])
    return len(ids)


async def _roll_up_series(redis: AnyRedis, keys: Keys, day: str, ids: list[str]) -> None:
    pipe = redis.pipeline(transaction=False)
    for aid in ids:
        pipe.hmget(keys.hourly(aid), hours_of_day(day))
    sums = [sum(int(v or 0) for v in values) for values in await pipe.execute()]
    pipe = redis.pipeline(transaction=False)
    for aid, total in zip(ids, sums, strict=True):
        if total:
            pipe.hset(keys.daily(aid), day, total)
    await pipe.execute()


async def roll_up(redis: AnyRedis, keys: Keys, keep_days: int, now: datetime | None = None) -> int:
    """Yesterday (to finish it after midnight) and today so far."""
    now = now or datetime.now(UTC)
    rolled = 0
    for day in (day_of(now - timedelta(days=1)), day_of(now)):
        rolled += await roll_up_day(redis, keys, day, keep_days)
    log.info("counter.rollup.done", articles=rolled)
    return rolled


async def prune_hours(
    redis: AnyRedis, keys: Keys, keep_days: int, now: datetime | None = None
) -> int:
    """Delete hourly buckets older than `keep_days`; the daily series keeps their sum.

    Articles with hits on a day are the members of that day's ranking (kept two days
    longer than the buckets), so pruning never scans the archive. The last few days past
    the limit are revisited in case a run was missed.
    """
    now = now or datetime.now(UTC)
    pruned = 0
    for back in range(keep_days, keep_days + 3):
        day = day_of(now - timedelta(days=back))
        ids = await members(redis, keys.top_day(day))
        for start in range(0, len(ids), CHUNK):
            pipe = redis.pipeline(transaction=False)
            for aid in ids[start : start + CHUNK]:
                pipe.hdel(keys.hourly(aid), *hours_of_day(day))
            pruned += sum(int(n) for n in await pipe.execute())
    if pruned:
        log.info("counter.prune.done", buckets=pruned)
    return pruned


def score(value: Any) -> int:
    return round(float(value))
